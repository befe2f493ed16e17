"""Projects (J01): create, update, archive, delete, list with stats, and per-project storage settings."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.assets import Asset, QualityReport
from models.base import ReviewState, utcnow
from models.project import (
    Project,
    ProjectCreate,
    ProjectRead,
    ProjectStats,
    ProjectSummary,
    ProjectUpdate,
    StorageUpdate,
)
from models.runs import CostEvent, Run
from services.crud import apply_patch, changes
from services.errors import Conflict, Invalid, NotFound
from services.projects import storage
from services.security import audit
from services.security.outbound import check_outbound_url

SLUG_RE = re.compile(r'^[a-z0-9_-]+$')
RESERVED_SLUGS = frozenset(
    {
        'api',
        'auth',
        'docs',
        'static',
        'assets',
        'admin',
        'new',
        'settings',
        'setup',
        'projects',
        'utilities',
        'util',
        'backups',
        'login',
        'logout',
        'health',
        'scratch',
        'tmp',
        'null',
        'none',
        '_nicegui',
    }
)
S3_BUCKET_RE = re.compile(r'^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$')


def validate_slug(slug: str) -> str:
    """Slugs name folders and URLs, so each rule is checked and reported on its own."""
    if not 2 <= len(slug) <= 64:
        raise Invalid(f'Slug must be 2–64 characters long (got {len(slug)}).', code='invalid_project_slug')
    if slug != slug.lower() and SLUG_RE.match(slug.lower()):
        raise Invalid('Slug must be lowercase: use a–z, 0–9, "-" and "_".', code='invalid_project_slug')
    if not SLUG_RE.match(slug):
        bad = sorted({c for c in slug if not re.match(r'[a-z0-9_-]', c)})
        shown = ' '.join(repr(c) for c in bad)
        raise Invalid(f'Slug may only use lowercase a–z, 0–9, "-" and "_" (not {shown}).', code='invalid_project_slug')
    if slug in RESERVED_SLUGS:
        raise Invalid(f'"{slug}" is a reserved word; choose another slug.', code='invalid_project_slug')
    return slug


def suggest_slug(name: str) -> str:
    """A slug from a project's name as the artist types it ('Harbour Tales!' → 'harbour-tales'); still editable."""
    folded = unicodedata.normalize('NFKD', name.casefold())
    plain = ''.join(c for c in folded if not unicodedata.combining(c))
    slug = re.sub(r'[^a-z0-9]+', '-', plain).strip('-')[:64].strip('-')
    if slug in RESERVED_SLUGS:
        slug = f'{slug}-project'
    return slug


def project_root(project: Project | ProjectRead, data_dir: Path) -> Path:
    """Where a project's files live: its own root if set, else inside the data dir."""
    return Path(project.storage_root) if project.storage_root else data_dir / 'projects' / project.slug


def _read(p: Project) -> ProjectRead:
    return ProjectRead.model_validate(p, from_attributes=True)


def get_row(session: Session, slug: str) -> Project:
    row = session.exec(select(Project).where(Project.slug == slug)).first()
    if row is None:
        raise NotFound(f'No project "{slug}".')
    return row


def get_project_by_id(session: Session, project_id: str) -> ProjectRead:
    row = session.get(Project, project_id)
    if row is None:
        raise NotFound('No such project.')
    return _read(row)


def get_project(session: Session, slug: str) -> ProjectRead:
    return _read(get_row(session, slug))


def create_project(session: Session, data: ProjectCreate, *, data_dir: Path) -> ProjectRead:
    slug, name = validate_slug(data.slug), data.name
    if session.exec(select(Project).where(Project.slug == slug)).first():
        raise Conflict(f'A project with slug "{slug}" already exists.', code='project_exists')
    row = Project(slug=slug, name=name, description=data.description, budget_usd=data.budget_usd)
    session.add(row)
    session.flush()
    project_root(row, data_dir).mkdir(parents=True, exist_ok=True)
    audit.record(session, project_id=row.id, action='project.create', payload={'slug': slug, 'name': name})
    return _read(row)


def update_project(session: Session, slug: str, data: ProjectUpdate) -> ProjectRead:
    """Patch only the fields given: an omitted field is never blanked."""
    row = get_row(session, slug)
    patch = changes(data)
    if 'settings' in patch:
        patch['settings'] = {**row.settings, **patch['settings']}
    apply_patch(row, patch)
    session.add(row)
    audit.record(session, project_id=row.id, action='project.update', payload={'fields': sorted(patch)})
    return _read(row)


def update_storage(
    session: Session,
    slug: str,
    data: StorageUpdate,
    *,
    data_dir: Path,
    db_path: Path | None = None,
    move: bool = False,
    allow_link_local: bool = False,
) -> ProjectRead:
    """A new root must be the project's own (services/projects/storage.py); files already there move only when asked."""
    row = get_row(session, slug)
    patch = data.model_dump(exclude_unset=True)
    if 'storage_root' in patch:
        new = storage.check_root(session, row, patch['storage_root'] or '', data_dir=data_dir, db_path=db_path)
        old = storage.current_root(row, data_dir).resolve()
        target = new or storage.default_root(row, data_dir).resolve()
        if target != old:
            files = storage.named_files(session, row, old)
            if files and not move:
                raise Conflict(
                    f'This project has {len(files)} file(s) in {old}; move them to {target} (tick "Move files", '
                    'or send move: true) or keep the current root.',
                    code='storage_root_has_files',
                )
            target.mkdir(parents=True, exist_ok=True)
            moved = storage.move_files(session, row, old, target) if files else 0
            audit.record(session, project_id=row.id, action='project.storage.move',
                         payload={'from': str(old), 'to': str(target), 'files': moved})  # fmt: skip
        row.storage_root = str(new) if new else None
    bucket = patch.get('s3_bucket')
    if bucket and not S3_BUCKET_RE.match(bucket):
        raise Invalid('S3 bucket names are 3–63 characters: lowercase letters, digits, "." and "-".', code='invalid_s3')
    if endpoint := (patch.get('s3_endpoint_url') or '').strip():
        patch['s3_endpoint_url'] = check_outbound_url(
            endpoint, what='S3 endpoint URL', allow_link_local=allow_link_local
        )
    for key in ('s3_bucket', 's3_prefix', 's3_endpoint_url', 's3_region'):
        if key in patch:
            setattr(row, key, (patch[key] or '').strip().strip('/') or None)
    row.updated_at = utcnow()
    session.add(row)
    audit.record(session, project_id=row.id, action='project.storage', payload={'fields': sorted(patch)})
    return _read(row)


def archive_project(session: Session, slug: str, *, archived: bool = True) -> ProjectRead:
    row = get_row(session, slug)
    row.status = 'archived' if archived else 'active'
    row.updated_at = utcnow()
    session.add(row)
    action = 'project.archive' if archived else 'project.restore'
    audit.record(session, project_id=row.id, action=action, payload={'slug': slug})
    return _read(row)


def delete_project(session: Session, slug: str, *, confirm: str, data_dir: Path) -> None:
    """Deleting is for good, so the caller must repeat the slug; only the files the project's rows name go too."""
    row = get_row(session, slug)
    if confirm != slug:
        raise Invalid(f'Type the slug "{slug}" to confirm deletion.', code='confirmation_required')
    removed = storage.delete_files(session, row, storage.current_root(row, data_dir))
    session.delete(row)
    session.flush()
    audit.record(
        session, project_id=None, action='project.delete', payload={'id': row.id, 'slug': slug, 'files': removed}
    )


def project_stats(session: Session, project_id: str) -> ProjectStats:
    runs = session.exec(select(func.count()).select_from(Run).where(Run.project_id == project_id)).one()
    assets = session.exec(select(func.count()).select_from(Asset).where(Asset.project_id == project_id)).one()
    approved = session.exec(
        select(func.count())
        .select_from(Asset)
        .where(Asset.project_id == project_id, Asset.status == ReviewState.approved)
    ).one()
    spend = session.exec(
        select(func.coalesce(func.sum(CostEvent.amount_usd), 0.0)).where(CostEvent.project_id == project_id)
    ).one()
    total_qa = session.exec(
        select(func.count()).select_from(QualityReport).where(QualityReport.project_id == project_id)
    ).one()
    passed = session.exec(
        select(func.count())
        .select_from(QualityReport)
        .where(QualityReport.project_id == project_id, QualityReport.verdict == 'pass')
    ).one()
    return ProjectStats(
        runs=runs,
        assets=assets,
        approved=approved,
        spend_usd=float(spend),
        qa_pass_rate=(passed / total_qa) if total_qa else None,
    )


def list_projects(session: Session, *, include_archived: bool = False) -> list[ProjectSummary]:
    query = select(Project).order_by(col(Project.updated_at).desc())
    if not include_archived:
        query = query.where(Project.status == 'active')
    return [ProjectSummary(project=_read(p), stats=project_stats(session, p.id)) for p in session.exec(query)]
