"""The asset store: content-addressed image files per project, their rows, thumbnails and lineage links."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, func
from sqlmodel import Session, col, select

from models.assets import Asset, AssetLink, AssetRead
from models.base import AssetKind, LinkRelation, ReviewState
from models.db import savepoint
from models.project import Project, ProjectRead
from services.errors import Invalid, KromaError, NotFound
from services.files import ImageInfo, atomic_write, make_thumbnail, safe_child, validate_image
from services.projects.file_backends import FileBackends, FilesConfig
from services.projects.projects import project_root
from services.security import audit

log = logging.getLogger(__name__)

MIME = {'png': 'image/png', 'jpg': 'image/jpeg', 'webp': 'image/webp'}


@dataclass(frozen=True)
class UploadResult:
    """One line of an upload report: accepted, duplicate or refused with the reason."""

    name: str
    status: str
    reason: str = ''
    asset: AssetRead | None = None


@dataclass(frozen=True)
class StagedFile:
    """A validated image already written under its hash, waiting for its row."""

    info: ImageInfo
    rel: str
    name: str


@dataclass(frozen=True)
class AssetFilter:
    kind: str | None = None
    tag: str | None = None
    character_id: str | None = None
    scene_id: str | None = None
    stage: str | None = None
    status: str | None = None
    ids: Sequence[str] | None = None


@dataclass
class AssetPage:
    items: list[AssetRead] = field(default_factory=list)
    total: int = 0
    page: int = 0
    page_size: int = 48


def read(asset: Asset) -> AssetRead:
    return AssetRead.model_validate(asset, from_attributes=True)


class AssetStore:
    """Files live under <project root>/assets/<sha[:2]>/<sha>.<ext>, thumbnails under .thumbs/, written atomically.

    A project on S3 (its files_url, or the studio's) keeps its assets in the bucket, written once before their row;
    the same paths under its root are then this machine's cache, filled on first read and checked by SHA-256."""

    def __init__(self, data_dir: Path, files: FilesConfig | None = None) -> None:
        self.data_dir = data_dir
        self.backends = FileBackends(files or FilesConfig())

    def root(self, project: Project | ProjectRead) -> Path:
        return project_root(project, self.data_dir)

    def path_of(self, project: Project | ProjectRead, asset: Asset | AssetRead) -> Path:
        return self.file_of(project, asset.path, asset.sha256)

    def file_of(self, project: Project | ProjectRead, rel: str, sha256: str) -> Path:
        """A readable local file for an asset's path: the file itself, or the S3 object fetched into the cache."""
        path = safe_child(self.root(project), rel)
        if not path.exists() and (remote := self.backends.for_project(project)) is not None:
            remote.fetch(remote.key(project.slug, rel), path, sha256)
        return path

    def thumb_path(self, project: Project | ProjectRead, asset: Asset | AssetRead) -> Path:
        """Thumbnails are keyed by content hash, so they are made once and shared by duplicates."""
        target = self.root(project) / '.thumbs' / f'{asset.sha256}.webp'
        return make_thumbnail(self.path_of(project, asset), target)

    def ingest(
        self,
        session: Session,
        project: Project | ProjectRead,
        data: bytes,
        *,
        name: str = 'image',
        dedupe: bool = True,
        **row: Any,
    ) -> tuple[AssetRead, bool]:
        """Validate by content, write once, and return (asset, created); a known hash returns the existing asset.

        `row` takes the row fields of `add_staged` (kind, tags, scene_id, character_id, stage, status, meta)."""
        info = validate_image(data, name=name)
        if dedupe:
            existing = session.exec(
                select(Asset).where(Asset.project_id == project.id, Asset.sha256 == info.sha256)
            ).first()
            if existing is not None:
                return read(existing), False
        asset = self.add_staged(session, project, self._write(project, data, info, name), **row)
        session.flush()
        return read(asset), True

    def stage(self, project: Project | ProjectRead, data: bytes, *, name: str = 'image') -> StagedFile:
        """Validate and write the file without touching the database: the slow half of an ingest, safe in parallel.

        The file is content-addressed, so a file whose row never comes (a crash in between) is harmless."""
        return self._write(project, data, validate_image(data, name=name), name)

    def _write(self, project: Project | ProjectRead, data: bytes, info: ImageInfo, name: str) -> StagedFile:
        rel = f'assets/{info.sha256[:2]}/{info.sha256}.{info.ext}'
        target = safe_child(self.root(project), rel)
        if (remote := self.backends.for_project(project)) is not None:  # in the bucket before any row names it
            remote.put(remote.key(project.slug, rel), data, info.sha256)
        if not target.exists():
            atomic_write(target, data)
        return StagedFile(info, rel, Path(name).name[:200])

    def add_staged(
        self,
        session: Session,
        project: Project | ProjectRead,
        staged: StagedFile,
        *,
        kind: AssetKind = AssetKind.reference,
        tags: Sequence[str] = (),
        scene_id: str | None = None,
        character_id: str | None = None,
        stage: str | None = None,
        status: ReviewState = ReviewState.generated,
        meta: dict[str, Any] | None = None,
    ) -> Asset:
        """The row for a file already written by `stage`; the caller's transaction decides when it counts."""
        info = staged.info
        row = Asset(
            project_id=project.id,
            kind=kind,
            path=staged.rel,
            sha256=info.sha256,
            size_bytes=info.size_bytes,
            width=info.width,
            height=info.height,
            mime=MIME[info.ext],
            original_name=staged.name,
            tags=sorted({t.strip().lower() for t in tags if t.strip()}),
            scene_id=scene_id,
            character_id=character_id,
            stage=stage,
            status=status,
            meta=meta or {},
        )
        session.add(row)
        return row

    def upload_many(
        self, session: Session, project: Project | ProjectRead, files: Iterable[tuple[str, bytes]], **kwargs: Any
    ) -> list[UploadResult]:
        """Each file is judged alone (its own savepoint): a refused file never stops the rest, and leaves nothing behind.

        `files` may be a generator, so a large batch is read one file at a time."""
        results: list[UploadResult] = []
        for name, data in files:
            try:
                with savepoint(session):
                    asset, created = self.ingest(session, project, data, name=name, **kwargs)
                results.append(UploadResult(name, 'accepted' if created else 'duplicate', '', asset))
            except KromaError as e:
                results.append(UploadResult(name, 'refused', e.user_message))
        counts = {k: sum(r.status == k for r in results) for k in ('accepted', 'duplicate', 'refused')}
        kind = getattr(kwargs.get('kind'), 'value', kwargs.get('kind') or 'reference')
        payload = {**counts, 'kind': kind, 'asset_ids': [r.asset.id for r in results if r.asset][:100]}
        audit.record(session, project_id=project.id, action='asset.upload', payload=payload)
        for r in results:
            if r.status == 'accepted' and r.asset:
                self.thumb_path(project, r.asset)
        return results


def get_asset(session: Session, project_id: str, asset_id: str) -> Asset:
    row = session.get(Asset, asset_id)
    if row is None or row.project_id != project_id:
        raise NotFound('No such asset in this project.')
    return row


def list_assets(
    session: Session, project_id: str, flt: AssetFilter | None = None, *, page: int = 0, page_size: int = 48
) -> AssetPage:
    """One indexed query for the page and one count: stays fast with tens of thousands of assets."""
    if page < 0 or not 1 <= page_size <= 500:
        raise Invalid('Page must be ≥ 0 and page size 1–500.')
    flt = flt or AssetFilter()
    query = select(Asset).where(Asset.project_id == project_id)
    if flt.kind:
        query = query.where(Asset.kind == flt.kind)
    if flt.stage:
        query = query.where(Asset.stage == flt.stage)
    if flt.status:
        query = query.where(Asset.status == flt.status)
    if flt.scene_id:
        query = query.where(Asset.scene_id == flt.scene_id)
    if flt.character_id:
        query = query.where(Asset.character_id == flt.character_id)
    if flt.tag:
        query = query.where(cast(Asset.tags, String).like(f'%"{flt.tag.lower()}"%'))
    if flt.ids is not None:
        query = query.where(col(Asset.id).in_(list(flt.ids)))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Asset.created_at).desc(), col(Asset.id)).offset(page * page_size).limit(page_size)
    ).all()
    return AssetPage([read(r) for r in rows], total, page, page_size)


def link_assets(
    session: Session,
    project_id: str,
    parent_id: str,
    child_id: str,
    relation: LinkRelation,
    params: dict | None = None,
    *,
    audited: bool = True,
) -> None:
    """Idempotent; runs and post-process pass audited=False, since their own run event already covers the link."""
    if parent_id == child_id:
        raise Invalid('An asset cannot be linked to itself.')
    for asset_id in (parent_id, child_id):
        get_asset(session, project_id, asset_id)
    exists = session.exec(
        select(AssetLink).where(
            AssetLink.parent_id == parent_id, AssetLink.child_id == child_id, AssetLink.relation == relation
        )
    ).first()
    if exists is None:
        session.add(
            AssetLink(
                project_id=project_id, parent_id=parent_id, child_id=child_id, relation=relation, params=params or {}
            )
        )
        session.flush()
        if audited:
            payload = {'parent_id': parent_id, 'child_id': child_id, 'relation': getattr(relation, 'value', relation)}
            audit.record(session, project_id=project_id, action='asset_link.create', payload=payload)


def lineage(session: Session, project_id: str, asset_id: str) -> dict[str, list[dict[str, Any]]]:
    """Parents and children of an asset, with the relation and its parameters, for the lightbox."""
    get_asset(session, project_id, asset_id)
    parents = session.exec(select(AssetLink).where(AssetLink.child_id == asset_id)).all()
    children = session.exec(select(AssetLink).where(AssetLink.parent_id == asset_id)).all()
    return {
        'parents': [{'asset_id': link.parent_id, 'relation': link.relation, 'params': link.params} for link in parents],
        'children': [
            {'asset_id': link.child_id, 'relation': link.relation, 'params': link.params} for link in children
        ],
    }
