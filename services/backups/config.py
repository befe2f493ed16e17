"""Which S3 target a backup uses (global settings, a project's own S3 fields, credentials), and its history."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from models.db import SessionFactory
from models.ops import Backup
from models.project import Project, ProjectRead
from services.backups.defaults import DEFAULT_PREFIX, DEFAULT_REGION, BackupDefaults
from services.backups.object_store import S3Target, make_s3_client
from services.backups.service import BackupRead, BackupService
from services.errors import Invalid, KromaError
from services.security.secrets import SecretStore

log = logging.getLogger(__name__)

SHARED_DATABASE = (
    'This studio runs on {db}: the built-in backup copies a SQLite file, so it is not used here. Back up the database '
    'with its own tools (pg_dump --format=custom "$KROMA_DATABASE_URL" > kroma.dump, restored with pg_restore, or '
    'point-in-time recovery), and project files on S3 with the bucket\'s versioning or replication; see "Run a shared '
    'studio" in the README.'
)
NO_BUCKET = "Backups need a bucket: set KROMA_BACKUP_S3_BUCKET or the project's S3 bucket"
SECRET_PROVIDER = 's3'
SECRET_NAMES = ('access_key_id', 'secret_access_key')
GLOBAL_SCOPE = 'global'


def resolve_target(
    *, defaults: BackupDefaults, project: ProjectRead | None, secrets: SecretStore | None, session: Session | None
) -> S3Target:
    """A project's own S3 fields win over the global settings, field by field, so one bucket can serve many projects.

    Raises:
        Invalid: no bucket is configured, or only half of a credential pair is stored in secrets.
    """

    def pick(field: str, override: str | None) -> str | None:
        value = override if override and override.strip() else getattr(defaults, field)
        return value.strip() if isinstance(value, str) and value.strip() else None

    if defaults.database != 'sqlite':
        db = 'PostgreSQL' if defaults.database == 'postgresql' else defaults.database
        raise Invalid(SHARED_DATABASE.format(db=db), code='backup_shared_database')
    p = project
    bucket = pick('bucket', p.s3_bucket if p else None)
    if not bucket:
        raise Invalid(NO_BUCKET, code='backup_no_bucket')
    key_id, secret = _credentials(secrets, session, project_id=p.id if p else None)
    return S3Target(
        bucket=bucket,
        prefix=pick('prefix', p.s3_prefix if p else None) or DEFAULT_PREFIX,
        endpoint_url=pick('endpoint_url', p.s3_endpoint_url if p else None),
        region=pick('region', p.s3_region if p else None) or DEFAULT_REGION,
        access_key_id=key_id,
        secret_access_key=secret,
    )


def scope_targets(
    session: Session, *, defaults: BackupDefaults, project: ProjectRead | None, secrets: SecretStore | None
) -> tuple[dict[str, S3Target], str]:
    """Targets for 'all' and the given project's slug, where resolvable, and why one is not (first reason)."""
    found: dict[str, S3Target] = {}
    problem = ''
    for scope, p in [('all', None), *([(project.slug, project)] if project else [])]:
        try:
            found[scope] = resolve_target(defaults=defaults, project=p, secrets=secrets, session=session)
        except KromaError as e:
            problem = problem or e.user_message
    return found, problem


def is_configured(defaults: BackupDefaults, session: Session) -> bool:
    """True when the global bucket or any project's own bucket is set, so a schedule has somewhere to write."""
    if (defaults.bucket or '').strip():
        return True
    query = select(Project.id).where(col(Project.s3_bucket).is_not(None), col(Project.s3_bucket) != '')
    return session.exec(query).first() is not None


def _credentials(
    secrets: SecretStore | None, session: Session | None, *, project_id: str | None
) -> tuple[str | None, str | None]:
    """The project's stored pair, else the global pair, else (None, None) for boto3's chain (env, profile, role)."""
    if secrets is None or session is None:
        return None, None
    for scope in [s for s in (project_id, GLOBAL_SCOPE) if s]:
        key_id, secret = (
            secrets.get_by_name(session, scope=scope, provider=SECRET_PROVIDER, name=name) for name in SECRET_NAMES
        )
        if key_id and secret:
            return key_id, secret
        if key_id or secret:
            missing = SECRET_NAMES[1] if key_id else SECRET_NAMES[0]
            where = 'global' if scope == GLOBAL_SCOPE else 'project'
            raise Invalid(
                f'The {where} S3 credentials in secrets are incomplete: add "{missing}" (provider s3) '
                'or remove the other one.',
                code='backup_credentials_incomplete',
            )
    return None, None


def backup_service(
    target: S3Target, *, data_dir: Path, db_path: Path, client_factory: Callable[[S3Target], Any] = make_s3_client
) -> BackupService:
    """One place that turns a target into a working service, so the page, CLI and job build it the same way."""
    return BackupService(data_dir=data_dir, db_path=db_path, s3_client=client_factory(target), target=target)


def nightly_targets(
    sessions: SessionFactory, *, defaults: BackupDefaults, secrets: SecretStore | None
) -> list[tuple[str | None, S3Target]]:
    """Everything goes to the global target; projects with their own S3 settings also get their own snapshot."""
    plans: list[tuple[str | None, S3Target]] = []
    with sessions() as s:
        if (defaults.bucket or '').strip():
            target = resolve_target(defaults=defaults, project=None, secrets=secrets, session=s)
            plans.append((None, target))
        own = s.exec(select(Project).where(Project.status != 'archived')).all()
        for row in own:
            if not any((row.s3_bucket, row.s3_prefix, row.s3_endpoint_url, row.s3_region)):
                continue
            project = ProjectRead.model_validate(row, from_attributes=True)
            try:
                target = resolve_target(defaults=defaults, project=project, secrets=secrets, session=s)
            except Invalid as e:
                log.warning('project %s is skipped by the scheduled backup: %s', row.slug, e.user_message)
                continue
            if all(t != target for _, t in plans):
                plans.append((row.slug, target))
    return plans


def run_nightly(
    sessions: SessionFactory,
    *,
    data_dir: Path,
    db_path: Path,
    defaults: BackupDefaults,
    secrets: SecretStore | None,
    keep_daily: int,
    keep_weekly: int,
    client_factory: Callable[[S3Target], Any] = make_s3_client,
) -> list[dict[str, Any]]:
    """Snapshot every target, then apply retention there; one failing target never stops the others."""
    results: list[dict[str, Any]] = []
    for slug, target in nightly_targets(sessions, defaults=defaults, secrets=secrets):
        scope = slug or 'all'
        try:
            service = backup_service(target, data_dir=data_dir, db_path=db_path, client_factory=client_factory)
            snap = service.snapshot(sessions, project_slug=slug)
            kept = service.apply_retention(keep_daily=keep_daily, keep_weekly=keep_weekly, session_factory=sessions)
        except KromaError as e:
            log.warning('scheduled backup of %s to bucket %s failed: %s', scope, target.bucket, e.user_message)
            results.append({'scope': scope, 'bucket': target.bucket, 'ok': False, 'error': e.user_message})
            continue
        results.append({
            'scope': scope, 'bucket': target.bucket, 'ok': True, 'snapshot_key': snap.snapshot_key,
            'size_bytes': snap.size_bytes, 'uploaded_bytes': snap.uploaded_bytes, 'duration_s': snap.duration_s,
            'expired': len(kept['deleted_snapshots']), 'freed_bytes': kept['freed_bytes'],
        })  # fmt: skip
    return results


@dataclass(frozen=True)
class SnapshotView:
    """One line of backup history: a snapshot the bucket lists, or a local run that is running or failed."""

    key: str
    name: str
    created_at: datetime | None
    scope: str
    status: str
    file_count: int
    size_bytes: int | None
    duration_s: float | None = None
    error: str = ''
    verified_at: datetime | None = None


def backup_history(session: Session, listed: list[dict[str, Any]], *, limit: int = 50) -> list[SnapshotView]:
    """The bucket's manifests (the truth, also for other machines) joined with this machine's runs for timing."""
    rows = [
        BackupRead.from_row(r)
        for r in session.exec(select(Backup).order_by(col(Backup.created_at).desc()).limit(limit)).all()
    ]
    by_key = {r.snapshot_key: r for r in rows if r.snapshot_key}
    views = []
    for item in listed:
        row = by_key.get(item['snapshot_key'])
        projects_ = [p for p in item.get('projects') or [] if p]
        scope = 'all projects' if item.get('scope') in (None, 'all') else ', '.join(projects_) or str(item['scope'])
        views.append(SnapshotView(
            key=item['snapshot_key'], name=item['name'], created_at=item.get('created_at'), scope=scope,
            status='unreadable' if item.get('error') else 'complete', file_count=item.get('file_count') or 0,
            size_bytes=item.get('size_bytes'), duration_s=row.duration_s if row else None,
            error=item.get('error', ''), verified_at=row.verified_at if row else None,
        ))  # fmt: skip
    for r in rows:
        if r.status in ('running', 'failed'):
            scope = 'all projects' if r.project_id is None else 'one project'
            views.append(SnapshotView(
                key='', name=r.id, created_at=r.created_at, scope=scope, status=r.status, file_count=r.file_count,
                size_bytes=r.size_bytes or None, duration_s=r.duration_s or None, error=r.error,
            ))  # fmt: skip
    return sorted(views, key=lambda v: _aware(v.created_at), reverse=True)


def _aware(when: datetime | None) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC, so sorting with the bucket's aware ones works."""
    if when is None:
        return datetime.min.replace(tzinfo=UTC)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def human_size(n: int | None) -> str:
    """Sizes people can read at a glance in the page and the CLI."""
    if n is None:
        return '?'
    if n < 1024:
        return f'{n} B'
    size, unit = float(n) / 1024, 'KB'
    for bigger in ('MB', 'GB', 'TB'):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f'{size:.1f} {unit}'
