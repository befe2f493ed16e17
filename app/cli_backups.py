"""`kroma backup`: back up now, list, verify and restore snapshots from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import deps_for_cli, fail, guarded
from app.settings import Settings, get_settings
from app.wiring import backup_defaults
from services.backups.config import backup_service, human_size, resolve_target
from services.backups.service import BackupService
from services.deps import Deps
from services.errors import Invalid
from services.projects import projects

backup_cli = typer.Typer(
    help='Back up to S3 (any S3-compatible server), list, verify and restore snapshots.', no_args_is_help=True
)
ProjectOpt = Annotated[
    str | None, typer.Option('--project', help="Project slug: use its S3 settings (and for 'now', only its files).")
]


def _service(settings: Settings, deps: Deps | None, project: str | None) -> BackupService:
    """The same target resolution as the page and the job: the project's S3 fields, then the global settings."""
    defaults = backup_defaults(settings)
    db_path = defaults.db_path or settings.data_dir / 'kroma.db'
    if deps is None:
        if project:
            raise Invalid(f'--project needs the studio database, and {db_path} does not exist.')
        target = resolve_target(defaults=defaults, project=None, secrets=None, session=None)
        return backup_service(target, data_dir=settings.data_dir, db_path=db_path)
    with deps.sessions() as s:
        read = projects.get_project(s, project) if project else None
        target = resolve_target(defaults=defaults, project=read, secrets=deps.secrets, session=s)
    return backup_service(target, data_dir=deps.data_dir, db_path=db_path)


def _echo_progress(fraction: float, message: str) -> None:
    typer.echo(f'{fraction:>4.0%}  {message}')


@backup_cli.command('now')
@guarded
def now(project: ProjectOpt = None) -> None:
    """Snapshot the database and the files of all projects (or one) to S3; unchanged files are not uploaded again."""
    settings = get_settings()
    deps = deps_for_cli(settings)
    service = _service(settings, deps, project)
    snap = service.snapshot(deps.sessions, project_slug=project, on_progress=_echo_progress)
    typer.echo(
        f'{snap.snapshot_key}: {snap.file_count} files, {human_size(snap.size_bytes)}, '
        f'{human_size(snap.uploaded_bytes)} of files uploaded in {snap.duration_s:.1f} s'
    )


@backup_cli.command('list')
@guarded
def list_(project: ProjectOpt = None) -> None:
    """List the snapshots in the bucket, newest first (the bucket is the truth, not this machine)."""
    settings = get_settings()
    service = _service(settings, deps_for_cli(settings), project)
    items = service.list_snapshots()
    if not items:
        typer.echo(f'no snapshots in s3://{service.target.bucket}/{service.target.prefix}')
    for i in items:
        when = f'{i["created_at"]:%Y-%m-%d %H:%M} UTC' if i['created_at'] else '?'
        scope = ', '.join(p for p in i['projects'] if p) if i['scope'] != 'all' else 'all projects'
        line = f'{i["name"]}  {when}  {scope or i["scope"]}  {i["file_count"]} files  {human_size(i["size_bytes"])}'
        typer.echo(line + (f'  ({i["error"]})' if i.get('error') else ''))


@backup_cli.command('verify')
@guarded
def verify(
    snapshot: Annotated[str, typer.Argument(help='Snapshot name or key, as `kroma backup list` prints it.')],
    quick: Annotated[bool, typer.Option('--quick', help='Trust stored checksums instead of downloading.')] = False,
    project: ProjectOpt = None,
) -> None:
    """Re-check every object of a snapshot against its SHA-256; exits 1 when anything is missing or damaged."""
    settings = get_settings()
    deps = deps_for_cli(settings)
    result = _service(settings, deps, project).verify(snapshot, deep=not quick, session_factory=deps.sessions)
    for path in result['missing']:
        typer.echo(f'missing     {path}')
    for path in result['mismatched']:
        typer.echo(f'mismatched  {path}')
    if not result['ok']:
        fail(
            f'{result["snapshot_key"]} failed verification: {len(result["missing"])} missing, '
            f'{len(result["mismatched"])} mismatched of {result["checked"]} files'
        )
    typer.echo(f'ok: {result["snapshot_key"]} ({result["checked"]} files checked)')


@backup_cli.command('restore')
@guarded
def restore(
    snapshot: Annotated[str, typer.Argument(help='Snapshot name or key, as `kroma backup list` prints it.')],
    to: Annotated[Path, typer.Option('--to', help='A new or empty folder to rebuild the data dir in.')],
    project: ProjectOpt = None,
) -> None:
    """Rebuild a data dir from a snapshot into a new or empty folder, checking every file; never overwrites."""
    settings = get_settings()
    db = backup_defaults(settings).db_path or settings.data_dir / 'kroma.db'
    # without a database (say, restoring a lost data dir in place) credentials come from boto3's chain
    deps = deps_for_cli(settings) if db.exists() else None
    target_dir = to.expanduser().resolve()
    result = _service(settings, deps, project).restore(
        snapshot, target_dir, on_progress=_echo_progress, session_factory=deps.sessions if deps else None
    )
    typer.echo(
        f'restored {result["files"]} files and the database ({human_size(result["bytes"])}) into {target_dir}; '
        f'start it with KROMA_HOME={target_dir} and your master key (it is never in a backup)'
    )


def register(cli: typer.Typer) -> None:
    cli.add_typer(backup_cli, name='backup')
