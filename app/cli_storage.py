"""`kroma storage`: where a project's files live, and moving them between the data dir and S3 (SHA-256 checked)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_common import deps_for_cli, guarded
from services.projects import projects
from services.projects.file_moves import asset_files, move_project_files

storage_cli = typer.Typer(help="Where a project's files live; move them to S3 and back.", no_args_is_help=True)


def register(cli: typer.Typer) -> None:
    cli.add_typer(storage_cli, name='storage')


@storage_cli.command('show')
@guarded
def show(slug: str) -> None:
    """Print where the project's asset files live and how many there are."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        project = projects.get_project(s, slug)
        files = asset_files(s, project.id)
    where = deps.store.backends.url_for(project.files_url)
    typer.echo(f'{slug}\t{where}\tfiles={len(files)}\tbytes={sum(size for _, _, size in files)}')


@storage_cli.command('move')
@guarded
def move(
    slug: str,
    to: Annotated[
        str, typer.Option('--to', help='"local" or s3://bucket/prefix (endpoint: KROMA_FILES_S3_ENDPOINT_URL).')
    ],
) -> None:
    """Copy every asset file there, verify each SHA-256, point the project at it, then delete the old copies."""
    deps = deps_for_cli()
    report = move_project_files(deps.sessions, deps.store, slug, to)
    typer.echo(
        f'moved {report.files} file(s) ({report.bytes} bytes) of {slug} from {report.source} to {report.target}; '
        f'every SHA-256 verified; {report.removed} old copy(ies) removed'
    )
