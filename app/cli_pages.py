"""`kroma pages`: the book's chapters and pages with their panels, auto-layout, and chapters added, renamed, reordered."""

from __future__ import annotations

from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from app import cli_panels
from app.cli_common import deps_for_cli, guarded
from models.layout import ChapterCreate, ChapterUpdate, PageRead
from services.errors import parse
from services.layout import autolayout, chapters, outline
from services.projects import projects

Project = Annotated[str, typer.Argument(help='Project slug.')]
ChapterNo = Annotated[int, typer.Argument(help='Chapter number.')]


class PagesGroup(TyperGroup):
    """`kroma pages PROJECT` prints the book, while `kroma pages layout|chapter|page|panel|balloon ...` change it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ('--help', '-h'):
            args = ['show', *args]
        return super().parse_args(ctx, args)


pages_cli = typer.Typer(
    cls=PagesGroup,
    help='Chapters, pages, panels and balloons: kroma pages PROJECT; kroma pages layout PROJECT --chapter N; '
    'chapter|page|panel|balloon commands.',
    no_args_is_help=True,
)
chapter_cli = typer.Typer(help='Add, rename, reorder and delete chapters.', no_args_is_help=True)
pages_cli.add_typer(chapter_cli, name='chapter')


def page_lines(page: PageRead, labels: dict[str, str]) -> list[str]:
    """A page and one line per slot: what is in it, its crop and its balloons."""
    grid = f' {page.grid["rows"]}x{page.grid["cols"]}' if page.template == 'grid' and 'rows' in page.grid else ''
    lines = [f'  page {page.number}  {page.template}{grid}  {page.size_preset}  {page.slots} panel(s)  id {page.id}']
    for slot in range(page.slots):
        panel = page.panel(slot)
        if panel is None or (panel.asset_id is None and not panel.balloons):
            lines.append(f'    panel {slot + 1}: empty')
            continue
        art = f'{labels.get(panel.asset_id, "?")} asset {panel.asset_id}' if panel.asset_id else 'no image'
        crop = panel.crop
        framing = f'  zoom {crop["zoom"]:g} at {crop["x"]:g},{crop["y"]:g}' if crop.get('zoom', 1) != 1 else ''
        lines.append(f'    panel {slot + 1}: {art}{framing}')
        for i, b in enumerate(panel.balloons, 1):
            lines.append(f'      {b["kind"]} {i}: "{b["text"]}" at {b["x"]:g},{b["y"]:g}')
    return lines


@pages_cli.command('show')
@guarded
def show(project: Project) -> None:
    """Every chapter with its pages and each page's panels."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        book = outline.outline(s, proj.id)
        placed = {p.asset_id for c in book for page in c.pages for p in page.panels if p.asset_id}
        labels = outline.asset_labels(s, proj.id, placed)
    if not book:
        typer.echo(f'{project} has no chapters yet: kroma pages layout {project} --chapter 1')
    for item in book:
        c = item.chapter
        title = f' "{c.title}"' if c.title else ''
        typer.echo(f'chapter {c.number}{title}  {c.pages} page(s)  id {c.id}')
        for page in item.pages:
            for line in page_lines(page, labels):
                typer.echo(line)


@pages_cli.command('layout')
@guarded
def layout(
    project: Project,
    chapter: Annotated[int, typer.Option(help='Chapter number (made if it does not exist).')] = 1,
    template: Annotated[
        str | None, typer.Option(help='One template for every full page (default: chosen per page).')
    ] = None,
    rows: Annotated[int | None, typer.Option(help='Rows of the grid template.')] = None,
    cols: Annotated[int | None, typer.Option(help='Columns of the grid template.')] = None,
    stage: Annotated[
        str | None, typer.Option(help="Use this stage's approved images (default: each scene's latest).")
    ] = None,
    dry_run: Annotated[bool, typer.Option('--dry-run', help='Print the layout and change nothing.')] = False,
) -> None:
    """Fill new pages with the chapter's approved panels in scene order; scenes already on a page are left alone."""
    grid = {k: v for k, v in (('rows', rows), ('cols', cols)) if v is not None}
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        plan = autolayout.auto_layout(s, proj.id, chapter, template=template, grid=grid, stage=stage, dry_run=dry_run)
    for page in plan.pages:
        shape = f' {page.grid["rows"]}x{page.grid["cols"]}' if page.grid else ''
        typer.echo(f'page {page.number}: {page.template}{shape}')
        for slot, pick in enumerate(page.panels, 1):
            post = ', post-processed' if pick.asset_id != pick.source_id else ''
            typer.echo(
                f'  panel {slot}: {pick.scene} ({pick.stage}{post}, {pick.width}x{pick.height}) asset {pick.asset_id}'
            )
    for scene, reason in plan.skipped:
        typer.echo(f'skipped {scene}: {reason}')
    panels = sum(len(p.panels) for p in plan.pages)
    verb = 'would add' if plan.dry_run else 'added'
    typer.echo(
        f'chapter {chapter}: {verb} {len(plan.pages)} page(s) with {panels} panel(s)' + ' (dry run)' * plan.dry_run
    )


@chapter_cli.command('add')
@guarded
def chapter_add(
    project: Project,
    number: Annotated[int | None, typer.Option(help='Default: the next free number.')] = None,
    title: str = '',
    writer: str = '',
) -> None:
    """Add a chapter."""
    data = parse(ChapterCreate, number=number, title=title, writer=writer)
    deps = deps_for_cli()
    with deps.sessions() as s:
        row = chapters.create_chapter(s, projects.get_project(s, project).id, data)
    typer.echo(f'chapter {row.number} added (id {row.id})')


@chapter_cli.command('rename')
@guarded
def chapter_rename(
    project: Project,
    chapter: ChapterNo,
    title: Annotated[str | None, typer.Option(help='New title.')] = None,
    writer: Annotated[str | None, typer.Option(help='New writer.')] = None,
    number: Annotated[int | None, typer.Option(help='New number (must be free).')] = None,
) -> None:
    """Change a chapter's title, writer or number."""
    data = parse(ChapterUpdate, title=title, writer=writer, number=number)
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        row = chapters.update_chapter(s, proj.id, chapters.chapter_by_number(s, proj.id, chapter).id, data)
    typer.echo(f'chapter {row.number}: "{row.title}" by {row.writer or "?"}')


@chapter_cli.command('reorder')
@guarded
def chapter_reorder(
    project: Project, order: Annotated[list[int], typer.Argument(help='Every chapter number, in the new order.')]
) -> None:
    """Renumber the chapters 1..n in the order given (e.g. `3 1 2` makes chapter 3 the first)."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        ids = [chapters.chapter_by_number(s, proj.id, n).id for n in order]
        rows = outline.reorder_chapters(s, proj.id, ids)
    typer.echo('  '.join(f'{c.number}: {c.title or c.id[:8]}' for c in rows))


@chapter_cli.command('delete')
@guarded
def chapter_delete(project: Project, chapter: ChapterNo) -> None:
    """Delete a chapter with its pages (the placed images stay in the project)."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        chapters.delete_chapter(s, proj.id, chapters.chapter_by_number(s, proj.id, chapter).id)
    typer.echo(f'chapter {chapter} deleted')


cli_panels.add_commands(pages_cli)


def register(cli: typer.Typer) -> None:
    """Add `kroma pages` to the root CLI (app/cli.py)."""
    cli.add_typer(pages_cli, name='pages')
