"""`kroma bootstrap prompt|import` and `kroma upload`: J02/J03 from the command line, same services as the studio."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import deps_for_cli, fail, guarded
from models.base import AssetKind
from models.references import CharacterReferenceTags
from services.bootstrap import importer as bootstrap
from services.errors import Invalid, parse
from services.files import MAX_BYTES
from services.projects import projects
from services.projects.assets import UploadResult
from services.references import characters

bootstrap_cli = typer.Typer(
    help='Set a project up with any chatbot: print the prompt, import the answer.', no_args_is_help=True
)
UPLOAD_KINDS = ('reference', 'scene', 'style', 'character')


@bootstrap_cli.command('prompt')
@guarded
def bootstrap_prompt(project: Annotated[str, typer.Argument(help='Project slug.')]) -> None:
    """Print the prompt to paste into a chatbot: current settings, the answer's shape, names (never values) of secrets."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        text = bootstrap.build_prompt(s, projects.get_project(s, project))
    typer.echo(text, nl=False)


@bootstrap_cli.command('import')
@guarded
def bootstrap_import(
    project: Annotated[str, typer.Argument(help='Project slug.')],
    file: Annotated[
        Path, typer.Argument(help="The chatbot's whole answer (prose around the JSON is fine); - reads stdin.")
    ],
    mode: Annotated[str, typer.Option(help='merge (upsert by name) or replace (the sections given).')] = 'merge',
    dry_run: Annotated[bool, typer.Option('--dry-run', help='Show the diff and write nothing.')] = False,
) -> None:
    """Import a bootstrap answer in one transaction and print the per-section diff; bad input names the field path."""
    if mode not in ('merge', 'replace'):
        raise Invalid(f'--mode must be merge or replace, not "{mode}".')
    text = typer.get_text_stream('stdin').read() if str(file) == '-' else _read_text(file)
    deps = deps_for_cli()
    with deps.sessions() as s:
        report = bootstrap.import_answer(
            s, projects.get_project(s, project), text, mode=mode, dry_run=dry_run, actor='cli'
        )
    for line in report.lines():
        typer.echo(line)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as e:
        raise Invalid(f'Cannot read {path}: {getattr(e, "strerror", None) or e}.') from e


def _read_files(paths: list[Path]) -> tuple[list[tuple[str, bytes]], list[UploadResult]]:
    """Read every regular file within the size limit; any other is refused on its own line before a byte is read."""
    files, unreadable = [], []
    for path in paths:
        try:
            if not path.is_file():
                why = 'no such file' if not path.exists() else 'not a regular file (a device, folder or pipe)'
                unreadable.append(UploadResult(path.name, 'refused', why))
                continue
            size = path.stat().st_size
            if size > MAX_BYTES:
                why = f'{size / 1e6:.1f} MB is over the {MAX_BYTES / 1e6:.0f} MB limit'
                unreadable.append(UploadResult(path.name, 'refused', why))
                continue
            files.append((path.name, path.read_bytes()))
        except OSError as e:
            unreadable.append(UploadResult(path.name, 'refused', f'cannot read the file ({e.strerror or e})'))
    return files, unreadable


def upload(
    project: Annotated[str, typer.Argument(help='Project slug.')],
    files: Annotated[list[Path], typer.Argument(help='Image files (PNG, JPEG, WebP).')],
    kind: Annotated[str, typer.Option(help='reference, scene, style or character.')] = 'reference',
    character: Annotated[str | None, typer.Option(help='Attach the images to this character (kind character).')] = None,
    angle: Annotated[str, typer.Option(help='With --character: front, three-quarter, profile or back.')] = 'front',
    outfit: Annotated[str, typer.Option(help='With --character: the outfit the images show.')] = '',
    shot: Annotated[str, typer.Option(help='With --character: head or full-body.')] = '',
) -> None:
    """Upload images: one line per file (accepted, duplicate, or refused with the reason); exit 1 if any was refused."""
    if kind not in UPLOAD_KINDS:
        fail(f'--kind must be one of {", ".join(UPLOAD_KINDS)}, not "{kind}".')
    tags = parse(CharacterReferenceTags, angle=angle, outfit=outfit, shot=shot)
    readable, unreadable = _read_files(files)
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        if character:
            char = characters.find_character(s, proj.id, character)
            results = characters.upload_references(s, deps.store, proj, char.id, readable, tags)
        else:
            results = deps.store.upload_many(s, proj, readable, kind=AssetKind(kind), tags=[kind])
    for r in [*results, *unreadable]:
        reason = r.reason.removeprefix(f'{r.name}: ')
        typer.echo(
            f'{r.name}\t{r.status}' + (f'\t{reason}' if reason else f'\t{r.asset.sha256[:12]}' if r.asset else '')
        )
    if unreadable or any(r.status == 'refused' for r in results):
        raise typer.Exit(1)


def register(cli: typer.Typer) -> None:
    cli.add_typer(bootstrap_cli, name='bootstrap')
    cli.command('upload')(guarded(upload))
