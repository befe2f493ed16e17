"""`kroma pages page|panel|balloon`: pages with their templates, approved images in panels with a crop, balloons as data.

Chapters, pages, panels and balloons are numbered from 1 as the studio shows them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli_common import deps_for_cli, guarded
from models.layout import Crop, PageCreate, PageUpdate
from services.errors import Invalid, parse
from services.layout import chapters, outline
from services.projects import projects

Project = Annotated[str, typer.Argument(help='Project slug.')]
ChapterOpt = Annotated[int, typer.Option(help='Chapter number.')]
PageOpt = Annotated[int, typer.Option(help='Page number in the chapter.')]
PanelOpt = Annotated[int, typer.Option(help='Panel number on the page (1 = top left).')]
Template = Annotated[str, typer.Option(help='splash, two, three, four, six or grid.')]

page_cli = typer.Typer(help='Add pages, choose their template, move and delete them.', no_args_is_help=True)
panel_cli = typer.Typer(help='Place an approved image in a panel, frame it, clear it.', no_args_is_help=True)
balloon_cli = typer.Typer(help='Speech balloons, captions and thoughts on a panel.', no_args_is_help=True)


def _layout(template: str, size: str | None, rows: int | None, cols: int | None) -> dict[str, Any]:
    given = {'template': template, 'size_preset': size, 'rows': rows, 'cols': cols}
    return {k: v for k, v in given.items() if v is not None}


def _page(project: str, chapter: int, page: int) -> tuple[Any, str, Any]:
    """(deps, project id, page) with the page found by chapter and page number."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        return deps, proj.id, outline.page_at(s, proj.id, chapter, page)


@page_cli.command('add')
@guarded
def page_add(
    project: Project,
    chapter: ChapterOpt = 1,
    template: Template = 'splash',
    size: Annotated[str | None, typer.Option(help='us_comic, a4 or webtoon.')] = None,
    rows: Annotated[int | None, typer.Option(help='Rows (grid template).')] = None,
    cols: Annotated[int | None, typer.Option(help='Columns (grid template).')] = None,
) -> None:
    """Append a page to a chapter."""
    deps = deps_for_cli()
    with deps.sessions() as s:
        proj = projects.get_project(s, project)
        chapter_id = chapters.chapter_by_number(s, proj.id, chapter).id
        row = chapters.create_page(
            s, proj.id, parse(PageCreate, _layout(template, size, rows, cols), chapter_id=chapter_id)
        )
    typer.echo(f'page {row.number} added to chapter {chapter}: {row.template}, {row.slots} panel(s) (id {row.id})')


@page_cli.command('template')
@guarded
def page_template(
    project: Project,
    chapter: ChapterOpt = 1,
    page: PageOpt = 1,
    template: Template = 'splash',
    size: Annotated[str | None, typer.Option(help='us_comic, a4 or webtoon.')] = None,
    rows: Annotated[int | None, typer.Option(help='Rows (grid template).')] = None,
    cols: Annotated[int | None, typer.Option(help='Columns (grid template).')] = None,
) -> None:
    """Choose a page's template; a filled panel the new template lacks is refused."""
    deps, project_id, found = _page(project, chapter, page)
    layout = {'size_preset': found.size_preset} | _layout(template, size, rows, cols)
    with deps.sessions() as s:
        row = chapters.update_page(s, project_id, found.id, parse(PageUpdate, layout))
    typer.echo(f'page {row.number}: {row.template}, {row.slots} panel(s)')


@page_cli.command('move')
@guarded
def page_move(project: Project, chapter: ChapterOpt = 1, page: PageOpt = 1,
              to: Annotated[int, typer.Option(help='The page number it should get.')] = 1) -> None:  # fmt: skip
    """Move a page within its chapter; the others close up around it."""
    deps, project_id, found = _page(project, chapter, page)
    with deps.sessions() as s:
        pages = chapters.move_page(s, project_id, found.id, to - found.number)
    typer.echo(f'page {next(p.number for p in pages if p.id == found.id)} of {len(pages)}')


@page_cli.command('delete')
@guarded
def page_delete(project: Project, chapter: ChapterOpt = 1, page: PageOpt = 1) -> None:
    """Delete a page; the pages after it move up."""
    deps, project_id, found = _page(project, chapter, page)
    with deps.sessions() as s:
        chapters.delete_page(s, project_id, found.id)
    typer.echo(f'page {page} of chapter {chapter} deleted')


def _crop(zoom: float | None, x: float | None, y: float | None, where: str) -> dict[str, float] | None:
    given = {k: v for k, v in (('zoom', zoom), ('x', x), ('y', y)) if v is not None}
    return parse(Crop, given, where=where).model_dump() if given else None


@panel_cli.command('place')
@guarded
def panel_place(
    project: Project,
    asset_id: Annotated[str, typer.Argument(help='An approved image (or a post-processed output of one).')],
    chapter: ChapterOpt = 1,
    page: PageOpt = 1,
    panel: PanelOpt = 1,
    zoom: Annotated[float | None, typer.Option(help='Zoom 1–4.')] = None,
    x: Annotated[float | None, typer.Option(help='Focal centre x (0–1).')] = None,
    y: Annotated[float | None, typer.Option(help='Focal centre y (0–1).')] = None,
) -> None:
    """Put an approved image in a panel, optionally framed; its balloons stay."""
    deps, project_id, found = _page(project, chapter, page)
    crop = _crop(zoom, x, y, f'Panel {panel} crop')
    with deps.sessions() as s:
        chapters.place_asset(s, project_id, found.id, panel - 1, asset_id, crop=crop)
    typer.echo(f'panel {panel} of page {page}: asset {asset_id}')


@panel_cli.command('crop')
@guarded
def panel_crop(project: Project, chapter: ChapterOpt = 1, page: PageOpt = 1, panel: PanelOpt = 1,
               zoom: Annotated[float, typer.Option(help='Zoom 1–4.')] = 1.0,
               x: Annotated[float, typer.Option(help='Focal centre x (0–1).')] = 0.5,
               y: Annotated[float, typer.Option(help='Focal centre y (0–1).')] = 0.5) -> None:  # fmt: skip
    """Frame a panel's image: zoom around a focal centre; the source stays untouched."""
    deps, project_id, found = _page(project, chapter, page)
    crop = _crop(zoom, x, y, f'Panel {panel} crop')
    with deps.sessions() as s:
        chapters.set_crop(s, project_id, found.id, panel - 1, crop or {})
    typer.echo(f'panel {panel} of page {page}: zoom {zoom:g} at {x:g},{y:g}')


@panel_cli.command('clear')
@guarded
def panel_clear(project: Project, chapter: ChapterOpt = 1, page: PageOpt = 1, panel: PanelOpt = 1) -> None:
    """Empty a panel: image, crop and balloons go; the image stays in the project."""
    deps, project_id, found = _page(project, chapter, page)
    with deps.sessions() as s:
        chapters.clear_panel(s, project_id, found.id, panel - 1)
    typer.echo(f'panel {panel} of page {page} cleared')


def _balloon_fields(**given: Any) -> dict[str, Any]:
    return {k: v for k, v in given.items() if v is not None}


def _edit(project: str, chapter: int, page: int, panel: int, index: int | None, fields: dict | None) -> str:
    deps, project_id, found = _page(project, chapter, page)
    with deps.sessions() as s:
        if index is not None and index < 1:
            raise Invalid('Balloons are numbered from 1.', details={'field': 'index'})
        at = None if index is None else index - 1
        if fields is not None and at is not None:
            fields = outline.balloon_at(s, project_id, found.id, panel - 1, at) | fields
        row = chapters.edit_balloon(s, project_id, found.id, panel - 1, at, fields)
    count = len(row.panel(panel - 1).balloons) if row.panel(panel - 1) else 0
    return f'panel {panel} of page {page}: {count} balloon(s)'


BalloonText = Annotated[str | None, typer.Option(help='The words (a caption is a box, a speech balloon has a tail).')]
Kind = Annotated[str | None, typer.Option(help='speech, caption or thought.')]
Tail = Annotated[str | None, typer.Option(help='none, bottom, top, left, right, bottom-left, … towards the speaker.')]
Where = Annotated[float | None, typer.Option(help='Centre in the panel, 0–1.')]
FontSize = Annotated[int | None, typer.Option('--font-size', help='8–200 (at 150 DPI).')]
Width = Annotated[float | None, typer.Option(help='Largest width as a share of the panel, 0.1–1.')]


@balloon_cli.command('add')
@guarded
def balloon_add(project: Project, chapter: ChapterOpt = 1, page: PageOpt = 1, panel: PanelOpt = 1,
                text: BalloonText = None, kind: Kind = None, tail: Tail = None, x: Where = None, y: Where = None,
                font_size: FontSize = None, width: Width = None) -> None:  # fmt: skip
    """Add a balloon or caption to a panel (x and y default to the top centre)."""
    fields = _balloon_fields(text=text, kind=kind, tail=tail, font_size=font_size, width=width)
    fields |= {'x': 0.5 if x is None else x, 'y': 0.15 if y is None else y}
    typer.echo(_edit(project, chapter, page, panel, None, fields))


@balloon_cli.command('edit')
@guarded
def balloon_edit(project: Project, index: Annotated[int, typer.Option(help='Balloon number on the panel.')] = 1,
                 chapter: ChapterOpt = 1, page: PageOpt = 1, panel: PanelOpt = 1, text: BalloonText = None,
                 kind: Kind = None, tail: Tail = None, x: Where = None, y: Where = None, font_size: FontSize = None,
                 width: Width = None) -> None:  # fmt: skip
    """Change only the fields given of one balloon."""
    fields = _balloon_fields(text=text, kind=kind, tail=tail, x=x, y=y, font_size=font_size, width=width)
    typer.echo(_edit(project, chapter, page, panel, index, fields))


@balloon_cli.command('remove')
@guarded
def balloon_remove(project: Project, index: Annotated[int, typer.Option(help='Balloon number on the panel.')] = 1,
                   chapter: ChapterOpt = 1, page: PageOpt = 1, panel: PanelOpt = 1) -> None:  # fmt: skip
    """Remove one balloon from a panel."""
    typer.echo(_edit(project, chapter, page, panel, index, None))


def add_commands(pages_cli: typer.Typer) -> None:
    """`kroma pages page|panel|balloon` (the chapter commands and the listing are in app/cli_pages.py)."""
    pages_cli.add_typer(page_cli, name='page')
    pages_cli.add_typer(panel_cli, name='panel')
    pages_cli.add_typer(balloon_cli, name='balloon')
