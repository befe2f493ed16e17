"""Move a project's asset files between the local root and S3, checking every file's SHA-256 at its destination
before the project points there, and deleting the source copies only after that."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from models.assets import Asset
from models.db import SessionFactory
from models.project import Project, ProjectRead
from services.errors import Conflict, StorageError
from services.files import sha256_file
from services.projects import projects
from services.projects.assets import AssetStore
from services.projects.file_backends import LOCAL, S3Files, normalize_files_url
from services.projects.storage import remove_empty_dirs
from services.security import audit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MoveReport:
    """What the command prints: where from, where to, how many files and bytes were checked."""

    slug: str
    source: str
    target: str
    files: int
    bytes: int
    removed: int


def asset_files(session: Session, project_id: str) -> list[tuple[str, str, int]]:
    """(relative path, SHA-256, size) of every file the project's asset rows name, each once."""
    rows = session.exec(select(Asset.path, Asset.sha256, Asset.size_bytes).where(Asset.project_id == project_id))
    return sorted({(path, sha, size) for path, sha, size in rows.all()})


def move_project_files(sessions: SessionFactory, store: AssetStore, slug: str, to: str) -> MoveReport:
    """Copy every asset file to `to` ('local' or s3://bucket/prefix), verify it there, point the project at it,
    then delete the old copies. Nothing is deleted and the project does not move unless every file verified."""
    target = normalize_files_url(to)
    with sessions() as s:
        project = projects.get_project(s, slug)
        files = asset_files(s, project.id)
    source = store.backends.url_for(project.files_url)
    if source == target:
        raise Conflict(f'The files of {slug} are already at {target}.', code='files_already_there')
    root = store.root(project)
    src_remote = None if source == LOCAL else store.backends.s3(source)
    dst_remote = None if target == LOCAL else store.backends.s3(target)
    for rel, sha, _ in files:
        local = _local_copy(store, project, root, rel, sha, src_remote)
        if dst_remote is not None:
            key = dst_remote.key(slug, rel)
            dst_remote.upload_file(key, local, sha)
            if dst_remote.sha256_of(key) != sha:
                raise StorageError(f'{rel} did not verify in bucket {dst_remote.bucket} after upload; nothing moved.')
    with sessions() as s:
        row = projects.get_row(s, slug)
        row.files_url = target
        s.add(row)
        payload = {'from': source, 'to': target, 'files': len(files)}
        audit.record(s, project_id=row.id, action='project.files_move', payload=payload)
    removed = _remove_sources(project, root, files, src_remote, keep_local=dst_remote is None)
    log.info('moved %d file(s) of %s from %s to %s', len(files), slug, source, target)
    return MoveReport(slug, source, target, len(files), sum(size for _, _, size in files), removed)


def _local_copy(
    store: AssetStore, project: ProjectRead, root: Path, rel: str, sha: str, remote: S3Files | None
) -> Path:
    """The file on this machine, checked against its SHA-256 (fetched from the source bucket when needed)."""
    local = root / rel
    if local.exists() and sha256_file(local) == sha:
        return local
    if remote is None:
        why = 'is missing' if not local.exists() else 'does not match its recorded SHA-256'
        raise StorageError(f'{rel} of {project.slug} {why}; nothing was moved.')
    return remote.fetch(remote.key(project.slug, rel), local, sha)


def _remove_sources(
    project: ProjectRead | Project, root: Path, files: list, remote: S3Files | None, *, keep_local: bool
) -> int:
    """After the move: the bucket's copies (S3 → local) or the local ones (local → S3; the cache refills on read)."""
    removed = 0
    for rel, _, _ in files:
        if remote is not None:
            remote.delete(remote.key(project.slug, rel))
            removed += 1
        elif not keep_local:
            path = root / rel
            if path.exists():
                path.unlink()
                removed += 1
    if not keep_local and (root / 'assets').is_dir():
        remove_empty_dirs(root / 'assets')
    return removed
