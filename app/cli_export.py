"""`kroma export`: package a project's pages (ZIP, CBZ, PDF), verify a package, reproduce it from its manifest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from app.cli_common import deps_for_cli, fail, guarded
from services.exports import exporter as exports
from services.exports.exporter import DEFAULT_DPI, Exporter, ExportRequest
from services.exports.packages import verify_package
from services.exports.reproduce import reproduce_package
from services.projects import projects


class ExportGroup(TyperGroup):
    """`kroma export PROJECT ...` makes a package, while `kroma export verify|reproduce PACKAGE` check one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ('--help', '-h'):
            args = ['project', *args]
        return super().parse_args(ctx, args)


export_cli = typer.Typer(
    cls=ExportGroup,
    help='Export pages: kroma export PROJECT --format zip|cbz|pdf; kroma export verify|reproduce PACKAGE.',
    no_args_is_help=True,
)


@export_cli.command('project')
@guarded
def export_project(
    project: Annotated[str, typer.Argument(help='Project slug.')],
    format_: Annotated[str, typer.Option('--format', '-f', help='zip, cbz or pdf.')] = 'zip',
    chapter: Annotated[int | None, typer.Option(help='Only this chapter (by number); default all chapters.')] = None,
    dpi: Annotated[int, typer.Option(help='Page resolution in dots per inch.')] = DEFAULT_DPI,
    out: Annotated[Path | None, typer.Option(help='Package file or folder (default <project>/exports/).')] = None,
) -> None:
    """Render the pages and write the package; prints its path and SHA-256."""
    deps = deps_for_cli()
    req = ExportRequest(format=format_.lower(), chapter=chapter, dpi=dpi, out=out)
    done = Exporter(deps.sessions, deps.store).run(project, req)
    with deps.sessions() as s:
        path = exports.export_path(deps.store, projects.get_project(s, project), done)
    typer.echo(str(path))
    typer.echo(f'sha256 {done.sha256}')


@export_cli.command('verify')
@guarded
def verify(package: Annotated[Path, typer.Argument(help='A .zip, .cbz or .pdf written by kroma export.')]) -> None:
    """Recompute every checksum; exits 1 naming each file that differs, is missing or is not listed."""
    result = verify_package(package)
    problems = [('changed', result.mismatches), ('missing', result.missing), ('unlisted', result.extra)]
    for what, names in problems:
        for name in names:
            typer.echo(f'{what}: {name}', err=True)
    if not result.ok:
        fail(f'{package.name} failed verification ({sum(len(n) for _, n in problems)} problem(s)).')
    typer.echo(f'ok: {result.checked} file(s) verified in {package.name}')


@export_cli.command('reproduce')
@guarded
def reproduce(package: Annotated[Path, typer.Argument(help='A ZIP written by kroma export --format zip.')]) -> None:
    """Re-render every local-provider image and page from the manifest; exits 1 if any hash differs."""
    lines = asyncio.run(reproduce_package(package))
    for line in lines:
        status = 'DIFFERENT' if line.status == 'different' else line.status
        extra = f' ({line.reason})' if line.reason else ''
        typer.echo(f'{status:<10} {line.name}{extra}')
    different = [line for line in lines if line.status == 'different']
    if different:
        fail(f'{len(different)} of {len(lines)} file(s) came out DIFFERENT.')
    if not any(line.status == 'identical' for line in lines):
        fail('Nothing in this package could be re-rendered offline.')


def register(cli: typer.Typer) -> None:
    """Add `kroma export` to the root CLI (app/cli.py)."""
    cli.add_typer(export_cli, name='export')
