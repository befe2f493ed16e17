"""`kroma postprocess` on a project's approved images, and `kroma util` for one-off files with no project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import deps_for_cli, fail, guarded
from services.errors import Invalid
from services.files import atomic_write
from services.postprocess.runs import PostprocessRequest, PostprocessRunner
from services.utilities.scratch import apply_utility

util_cli = typer.Typer(help='One-off image tools, no project: remove-bg, upscale, recolor.', no_args_is_help=True)
InPath = Annotated[Path, typer.Argument(metavar='IN')]
OutPath = Annotated[Path, typer.Argument(metavar='OUT')]


@guarded
def postprocess(
    project: Annotated[str, typer.Argument(help='Project slug.')],
    stage: Annotated[str | None, typer.Option(help='Every approved image of this stage.')] = None,
    assets: Annotated[str | None, typer.Option(help='Approved asset ids, separated by commas.')] = None,
    steps: Annotated[str | None, typer.Option(help='bg,upscale,color in any order (default: the project’s).')] = None,
    profile: Annotated[str | None, typer.Option(help='Colour profile: built-in or the project’s own.')] = None,
    scale: Annotated[int | None, typer.Option(help='Upscale factor, 2 or 4.')] = None,
) -> None:
    """Run bg → upscale → colour on approved images; prints progress, then one line per derived asset."""
    if bool(stage) == bool(assets):
        raise Invalid('Give either --stage STAGE or --assets ID,... (one of them).')
    ids = [a.strip() for a in (assets or '').split(',') if a.strip()] or None
    deps = deps_for_cli()
    req = PostprocessRequest(asset_ids=ids, stage=stage, steps=steps, profile=profile, scale=scale)
    runner = PostprocessRunner(deps.sessions, deps.store, deps.secrets)
    result = runner.run(project, req, on_progress=lambda f, m: typer.echo(f'[{f:4.0%}] {m}'))
    for out in result.outputs:
        typer.echo(
            f'{out.asset_id}\t{" > ".join(out.ops)}\t{out.method}\tqa={out.verdict}' + ('\tarchived' * out.archived)
        )
    if result.failures:
        sources = len({o.source_id for o in result.outputs} | {f.source_id for f in result.failures})
        fail(f'{len(result.failures)} of {sources} image(s) failed; first: {result.failures[0].reason}')


def _util(src: Path, dst: Path, op: str, **options: object) -> None:
    """Read, run one operation, write the PNG atomically, and say what came out."""
    if dst.suffix.lower() != '.png':
        raise Invalid(f'{dst.name}: the output is a PNG, so OUT must end in .png.')
    try:
        data = src.read_bytes()
    except OSError as e:
        raise Invalid(f'{src}: cannot be read ({e.strerror or e}).') from e
    result = apply_utility(data, op, name=src.name, **options)  # type: ignore[arg-type]
    atomic_write(dst, result.png)
    alpha = 'alpha' if result.has_alpha else 'opaque'
    typer.echo(f'{dst}\t{result.width}x{result.height}\t{result.method}\t{alpha}\t{result.ms:.0f} ms')


@util_cli.command('remove-bg')
@guarded
def remove_bg(
    src: InPath, dst: OutPath, feather: Annotated[int, typer.Option(help='Soft edge in pixels (0–64).')] = 3
) -> None:
    """Cut the subject out offline; OUT is a PNG with a transparent background."""
    _util(src, dst, 'remove-bg', feather=feather)


@util_cli.command('upscale')
@guarded
def upscale(src: InPath, dst: OutPath, scale: Annotated[int, typer.Option(help='2 or 4.')] = 2) -> None:
    """Enlarge 2× or 4× offline (ACNet when it runs here, else Lanczos); transparency is kept."""
    _util(src, dst, 'upscale', scale=scale)


@util_cli.command('recolor')
@guarded
def recolor(
    src: InPath,
    dst: OutPath,
    profile: Annotated[str, typer.Option(help='neutral, cinematic_warm or cold_rain.')] = 'neutral',
) -> None:
    """Apply a built-in colour profile."""
    _util(src, dst, 'recolor', profile=profile)


def register(cli: typer.Typer) -> None:
    cli.command('postprocess')(postprocess)
    cli.add_typer(util_cli, name='util')
