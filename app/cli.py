"""The `kroma` command line: every command exits non-zero with a one-line reason on failure."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app import (
    cli_backups,
    cli_continuity,
    cli_copilot,
    cli_export,
    cli_pages,
    cli_postprocess,
    cli_providers,
    cli_qa,
    cli_references,
    cli_review,
    cli_runs,
    cli_storage,
    cli_tokens,
    cli_worker,
)
from app.cli_common import deps_for_cli, guarded
from app.logging import configure_logging
from app.settings import Settings
from models.project import ProjectCreate
from services.errors import parse
from services.projects import projects
from services.security.audit import acting_as

cli = typer.Typer(
    help='Kroma Studio: comics with consistent style and faces.', no_args_is_help=True, add_completion=False
)
project_cli = typer.Typer(help='Create and list projects.', no_args_is_help=True)
cli.add_typer(project_cli, name='project')
cli_runs.register(cli)
cli_review.register(cli)
cli_qa.register(cli)
cli_postprocess.register(cli)
cli_backups.register(cli)
cli_providers.register(cli)
cli_references.register(cli)
cli_continuity.register(cli)
cli_copilot.register(cli)
cli_export.register(cli)
cli_pages.register(cli)
cli_tokens.register(cli)
cli_worker.register(cli)
cli_storage.register(cli)


@cli.command()
def studio(
    host: Annotated[str | None, typer.Option(help='Address to bind (default 127.0.0.1).')] = None,
    port: Annotated[int | None, typer.Option(help='Port (default 8080).')] = None,
    data_dir: Annotated[Path | None, typer.Option('--data-dir', help='Data directory (KROMA_HOME).')] = None,
    native: Annotated[bool, typer.Option('--native', help='Open in a desktop window (needs kroma[native]).')] = False,
) -> None:
    """Start the studio in the browser (or a native window)."""
    from app.studio import run_studio

    overrides: dict[str, Any] = {
        k: v for k, v in {'host': host, 'port': port, 'home': data_dir}.items() if v is not None
    }
    if native:
        overrides['native'] = True
    settings = Settings(**overrides)
    configure_logging(settings.data_dir, settings.log_level)
    with acting_as('studio'):  # the server's pages are the studio, not the command that started it
        guarded(run_studio)(settings)


@cli.command()
@guarded
def demo() -> None:
    """Create the demo project (three scenes, two style sheets, two characters) if it does not exist."""
    from services.projects.demo import ensure_demo

    deps = deps_for_cli()
    created = ensure_demo(deps.sessions, deps.store)
    typer.echo('demo project created' if created else 'demo project already exists')


@project_cli.command('create')
@guarded
def project_create(
    slug: str,
    name: Annotated[str | None, typer.Option(help='Display name (default: the slug).')] = None,
    description: str = '',
    budget: Annotated[float, typer.Option(help='Budget in USD for paid runs.')] = 50.0,
) -> None:
    """Create a project."""
    data = parse(ProjectCreate, slug=slug, name=name or slug, description=description, budget_usd=budget)
    deps = deps_for_cli()
    with deps.sessions() as s:
        p = projects.create_project(s, data, data_dir=deps.data_dir)
    typer.echo(f'created {p.slug}')


@project_cli.command('list')
@guarded
def project_list(all_: Annotated[bool, typer.Option('--all', help='Include archived projects.')] = False) -> None:
    """List projects with their stats."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        rows = projects.list_projects(s, include_archived=all_)
    for r in rows:
        st = r.stats
        typer.echo(
            f'{r.project.slug}\t{r.project.name}\truns={st.runs}\tassets={st.assets}\tapproved={st.approved}\tspend=${st.spend_usd:.2f}'
        )


@project_cli.command('archive')
@guarded
def project_archive(slug: str, undo: bool = False) -> None:
    """Archive (or, with --undo, restore) a project."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        projects.archive_project(s, slug, archived=not undo)
    typer.echo(f'{"restored" if undo else "archived"} {slug}')


@project_cli.command('delete')
@guarded
def project_delete(slug: str, confirm: Annotated[str, typer.Option(help='Repeat the slug to confirm.')] = '') -> None:
    """Delete a project and its files for good."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        projects.delete_project(s, slug, confirm=confirm, data_dir=deps.data_dir)
    typer.echo(f'deleted {slug}')


def main() -> None:
    """Every change a command makes is audited as 'cli'."""
    try:
        with acting_as('cli'):
            cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == '__main__':
    main()
