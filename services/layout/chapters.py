"""Chapters, pages and panels (J08): approved art in template slots, crops and balloons kept as data until export."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.assets import Asset, AssetLink, AssetRead
from models.base import AssetKind, LinkRelation, ReviewState
from models.layout import (
    Chapter,
    ChapterCreate,
    ChapterRead,
    ChapterUpdate,
    Page,
    PageCreate,
    PageLayout,
    PageRead,
    PageUpdate,
    Panel,
    PanelRead,
)
from models.project import ProjectRead
from services.crud import changes, get_owned
from services.errors import Conflict, Invalid, NotFound
from services.layout.balloons import Balloon
from services.layout.render import PageSpec, PanelSpec, normalise_crop, render_page
from services.projects import assets as assets_svc
from services.projects.assets import AssetStore
from services.security import audit

BALLOONS_MAX, LINEAGE_DEPTH, PREVIEW_WIDTH = 30, 32, 600


def _spec(layout: PageLayout) -> PageSpec:
    """Validate a layout as an empty page: the renderer knows the templates, sizes and grids (and names the field)."""
    grid = {k: v for k, v in (('rows', layout.rows), ('cols', layout.cols)) if v is not None}
    grid = grid if layout.template == 'grid' else {}
    gutter = {} if layout.gutter is None else {'gutter': layout.gutter}
    return PageSpec(1, layout.template, layout.size_preset, (), grid | gutter)


def list_chapters(session: Session, project_id: str) -> list[ChapterRead]:
    """In reading order (by number), with page counts from one grouped query."""
    query = select(Page.chapter_id, func.count()).where(Page.project_id == project_id).group_by(Page.chapter_id)
    counts = dict(session.exec(query).all())
    rows = session.exec(select(Chapter).where(Chapter.project_id == project_id).order_by(col(Chapter.number))).all()
    return [_chapter_read(c, counts.get(c.id, 0)) for c in rows]


def get_chapter(session: Session, project_id: str, chapter_id: str) -> ChapterRead:
    """One chapter of this project only."""
    row = get_owned(session, Chapter, project_id, chapter_id)
    pages = session.exec(select(func.count()).select_from(Page).where(Page.chapter_id == row.id)).one()
    return _chapter_read(row, pages)


def _chapter_read(row: Chapter, pages: int) -> ChapterRead:
    return ChapterRead(id=row.id, number=row.number, title=row.title, writer=row.writer, pages=pages)


def chapter_by_number(session: Session, project_id: str, number: int) -> ChapterRead:
    """The CLI names chapters by number."""
    row = session.exec(select(Chapter).where(Chapter.project_id == project_id, Chapter.number == number)).first()
    if row is None:
        raise NotFound(f'Chapter {number} does not exist in this project.', code='chapter_missing')
    return get_chapter(session, project_id, row.id)


def create_chapter(session: Session, project_id: str, data: ChapterCreate) -> ChapterRead:
    """A new chapter: the next free number unless one is given; numbers are unique in a project."""
    taken = set(session.exec(select(Chapter.number).where(Chapter.project_id == project_id)))
    number = data.number if data.number is not None else max(taken, default=0) + 1
    if number in taken:
        raise Conflict(f'Chapter {number} already exists in this project.', code='chapter_exists')
    row = Chapter(project_id=project_id, number=number, title=data.title, writer=data.writer)
    return _save_chapter(session, row, 'chapter.create')


def update_chapter(session: Session, project_id: str, chapter_id: str, data: ChapterUpdate) -> ChapterRead:
    """Change what is given; a number another chapter has is refused."""
    row = get_owned(session, Chapter, project_id, chapter_id)
    patch = changes(data)
    number = patch.get('number', row.number)
    clash = session.exec(select(Chapter.id).where(Chapter.project_id == project_id, Chapter.number == number)).first()
    if clash not in (None, row.id):
        raise Conflict(f'Chapter {number} already exists in this project.', code='chapter_exists')
    for key, value in patch.items():
        setattr(row, key, value)
    return _save_chapter(session, row, 'chapter.update')


def _save_chapter(session: Session, row: Chapter, action: str) -> ChapterRead:
    session.add(row)
    session.flush()
    payload = {'chapter_id': row.id, 'number': row.number}
    audit.record(session, project_id=row.project_id, action=action, payload=payload)
    return get_chapter(session, row.project_id, row.id)


def delete_chapter(session: Session, project_id: str, chapter_id: str) -> None:
    """Pages and panels go with it (foreign-key cascade); the placed assets themselves are untouched."""
    row = get_owned(session, Chapter, project_id, chapter_id)
    session.delete(row)
    session.flush()
    audit.record(
        session, project_id=project_id, action='chapter.delete', payload={'chapter_id': row.id, 'number': row.number}
    )


def _page_read(session: Session, page: Page) -> PageRead:
    panels = session.exec(select(Panel).where(Panel.page_id == page.id).order_by(col(Panel.slot))).all()
    slots = PageSpec(page.number, page.template, page.size_preset, (), page.layout or None).slots()
    views = tuple(
        PanelRead(slot=p.slot, asset_id=p.asset_id, crop=normalise_crop(p.crop), balloons=tuple(p.balloons))
        for p in panels
    )
    return PageRead(
        id=page.id,
        chapter_id=page.chapter_id,
        number=page.number,
        template=page.template,
        size_preset=page.size_preset,
        grid=page.layout,
        slots=slots,
        panels=views,
    )


def list_pages(session: Session, project_id: str, chapter_id: str) -> list[PageRead]:
    """A chapter's pages in reading order with their panels."""
    get_owned(session, Chapter, project_id, chapter_id)
    rows = session.exec(select(Page).where(Page.chapter_id == chapter_id).order_by(col(Page.number))).all()
    return [_page_read(session, p) for p in rows]


def get_page(session: Session, project_id: str, page_id: str) -> PageRead:
    """One page of this project only."""
    return _page_read(session, get_owned(session, Page, project_id, page_id))


def create_page(session: Session, project_id: str, data: PageCreate) -> PageRead:
    """Append a page to a chapter."""
    spec = _spec(data)
    get_owned(session, Chapter, project_id, data.chapter_id)
    last = session.exec(select(func.max(Page.number)).where(Page.chapter_id == data.chapter_id)).one()
    row = Page(project_id=project_id, chapter_id=data.chapter_id, number=(last or 0) + 1)
    return _save_page(session, row, spec, 'page.create')


def update_page(session: Session, project_id: str, page_id: str, data: PageUpdate) -> PageRead:
    """Change a page's layout; a filled slot the new layout lacks is refused."""
    spec = _spec(data)
    row = get_owned(session, Page, project_id, page_id)
    gone = session.exec(select(Panel).where(Panel.page_id == page_id, Panel.slot >= spec.slots())).all()
    if filled := [p for p in gone if p.asset_id or p.balloons]:
        where = f'clear it before switching to a layout with {spec.slots()} panels'
        raise Invalid(f'Panel {filled[0].slot + 1} is filled; {where}.', code='page_slot_filled')
    for p in gone:
        session.delete(p)
    return _save_page(session, row, spec, 'page.update')


def _save_page(session: Session, row: Page, spec: PageSpec, action: str) -> PageRead:
    row.template, row.size_preset, row.layout = spec.template, spec.size_preset, dict(spec.grid or {})
    session.add(row)
    session.flush()
    payload = {'page_id': row.id, 'chapter_id': row.chapter_id, 'number': row.number, 'template': row.template}
    audit.record(session, project_id=row.project_id, action=action, payload=payload)
    return _page_read(session, row)


def reorder_pages(session: Session, project_id: str, chapter_id: str, page_ids: list[str]) -> list[PageRead]:
    """Renumber 1..n in the given order; the list must name every page of the chapter exactly once."""
    pages = _renumber(session, project_id, chapter_id, page_ids)
    audit.record(session, project_id=project_id, action='page.reorder', payload={'chapter_id': chapter_id})
    return pages


def _renumber(session: Session, project_id: str, chapter_id: str, page_ids: list[str]) -> list[PageRead]:
    """Unaudited, so a move or a delete records one event of its own rather than two."""
    get_owned(session, Chapter, project_id, chapter_id)
    rows = {p.id: p for p in session.exec(select(Page).where(Page.chapter_id == chapter_id)).all()}
    if sorted(page_ids) != sorted(rows):
        raise Invalid('The new order must list every page of the chapter exactly once.', code='page_order')
    for sign in (-1, 1):  # negative first, so the unique (chapter, number) index never sees a clash
        for i, page_id in enumerate(page_ids, 1):
            rows[page_id].number = sign * i
            session.add(rows[page_id])
        session.flush()
    return list_pages(session, project_id, chapter_id)


def move_page(session: Session, project_id: str, page_id: str, offset: int) -> list[PageRead]:
    """Move a page earlier (negative) or later (positive), clamped to the chapter."""
    page = get_owned(session, Page, project_id, page_id)
    order = [p.id for p in list_pages(session, project_id, page.chapter_id)]
    order.remove(page_id)
    order.insert(min(max(page.number - 1 + offset, 0), len(order)), page_id)
    pages = _renumber(session, project_id, page.chapter_id, order)
    payload = {'page_id': page_id, 'chapter_id': page.chapter_id, 'offset': offset}
    audit.record(session, project_id=project_id, action='page.move', payload=payload)
    return pages


def delete_page(session: Session, project_id: str, page_id: str) -> None:
    """Delete a page and close the gap in the numbering."""
    page = get_owned(session, Page, project_id, page_id)
    session.delete(page)
    session.flush()
    rest = [p.id for p in list_pages(session, project_id, page.chapter_id)]
    _renumber(session, project_id, page.chapter_id, rest)
    payload = {'page_id': page_id, 'chapter_id': page.chapter_id, 'number': page.number}
    audit.record(session, project_id=project_id, action='page.delete', payload=payload)


def derived_chain(session: Session, asset: Asset) -> tuple[Asset, list[tuple[AssetLink, Asset]]]:
    """Walk derived_from links back to the source: (source, [(link, output)…] in the order the steps ran)."""
    chain, current = [], asset
    for _ in range(LINEAGE_DEPTH):
        link = session.exec(
            select(AssetLink).where(AssetLink.child_id == current.id, AssetLink.relation == LinkRelation.derived_from)
        ).first()
        parent = session.get(Asset, link.parent_id) if link else None
        if link is None or parent is None:
            break
        chain.append((link, current))
        current = parent
    return current, chain[::-1]


def placeable_asset(session: Session, project_id: str, asset_id: str) -> Asset:
    """An approved asset of this project, or a post-processed (derived) asset of one that did not fail QA."""
    asset = assets_svc.get_asset(session, project_id, asset_id)
    name = asset.original_name or asset.id[:8]
    if asset.status == ReviewState.archived:
        raise Invalid(f'{name} failed QA and is archived; it cannot go on a page.', code='not_approved')
    if asset.status == ReviewState.approved or (
        asset.kind == AssetKind.derived and derived_chain(session, asset)[0].status == ReviewState.approved
    ):
        return asset
    raise Invalid(f'{name} is not approved; approve it in Review before placing it on a page.', code='not_approved')


def placeable_assets(session: Session, project_id: str, *, limit: int = 300) -> list[AssetRead]:
    """What the slot picker offers: approved assets first, then live derived assets of approved ones."""
    newest = col(Asset.created_at).desc()
    mine = select(Asset).where(Asset.project_id == project_id, Asset.kind != AssetKind.page).order_by(newest)
    approved = session.exec(mine.where(Asset.status == ReviewState.approved).limit(limit)).all()
    live = col(Asset.status).in_([ReviewState.generated, ReviewState.shortlisted])
    derived = session.exec(mine.where(Asset.kind == AssetKind.derived, live).limit(limit)).all()
    ok = [a for a in derived if derived_chain(session, a)[0].status == ReviewState.approved]
    return [assets_svc.read(a) for a in [*approved, *ok][:limit]]


def _panel(session: Session, project_id: str, page_id: str, slot: int) -> tuple[Page, Panel]:
    page = get_owned(session, Page, project_id, page_id)
    slots = _page_read(session, page).slots
    if type(slot) is not int or not 0 <= slot < slots:
        where = f'Page {page.number} has panels 1 to {slots}'
        raise Invalid(f'{where}; there is no panel {slot + 1}.', details={'field': 'slot'})
    row = session.exec(select(Panel).where(Panel.page_id == page_id, Panel.slot == slot)).first()
    return page, row or Panel(project_id=project_id, page_id=page_id, slot=slot, crop={}, balloons=[])


def _save(session: Session, page: Page, row: Panel, action: str, **extra: Any) -> PageRead:
    session.add(row)
    session.flush()
    payload = {'page_id': page.id, 'slot': row.slot, 'asset_id': row.asset_id, **extra}
    audit.record(session, project_id=page.project_id, action=action, payload=payload)
    return _page_read(session, page)


def place_asset(
    session: Session, project_id: str, page_id: str, slot: int, asset_id: str, *, crop: dict | None = None
) -> PageRead:
    """Put an approved image in a slot (0-based); its crop restarts unless one is given, its balloons stay."""
    page, row = _panel(session, project_id, page_id, slot)
    row.asset_id = placeable_asset(session, project_id, asset_id).id
    row.crop = normalise_crop(crop, where=f'Panel {slot + 1} crop')
    return _save(session, page, row, 'panel.place')


def set_crop(session: Session, project_id: str, page_id: str, slot: int, crop: dict) -> PageRead:
    """Frame the panel: zoom 1–4 around a focal centre x/y (0–1); the source stays untouched."""
    page, row = _panel(session, project_id, page_id, slot)
    row.crop = normalise_crop(crop, where=f'Panel {slot + 1} crop')
    return _save(session, page, row, 'panel.crop')


def clear_panel(session: Session, project_id: str, page_id: str, slot: int) -> PageRead:
    """Empty a slot: image, crop and balloons go; the source asset is untouched."""
    page, row = _panel(session, project_id, page_id, slot)
    if session.get(Panel, row.id) is not None:
        session.delete(row)
        session.flush()
        payload = {'page_id': page.id, 'slot': slot, 'asset_id': row.asset_id}
        audit.record(session, project_id=project_id, action='panel.clear', payload=payload)
    return _page_read(session, page)


def validate_balloons(balloons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each balloon checked against BalloonData; the error says which balloon and which field."""
    if not isinstance(balloons, list) or len(balloons) > BALLOONS_MAX:
        raise Invalid(f'Balloons must be a list of at most {BALLOONS_MAX}.', details={'field': 'balloons'})
    return [Balloon.from_dict(data, where=f'Balloon {i}').to_dict() for i, data in enumerate(balloons, 1)]


def edit_balloon(
    session: Session, project_id: str, page_id: str, slot: int, index: int | None, balloon: dict | None
) -> PageRead:
    """Append (index None), replace balloon `index` (0-based), or remove it (balloon None); all are re-validated."""
    page, row = _panel(session, project_id, page_id, slot)
    items = list(row.balloons or ())
    if index is not None and not 0 <= index < len(items):
        raise Invalid(f'Panel {slot + 1} has no balloon {index + 1}.', details={'field': 'balloon'})
    if index is None:
        items.append(balloon)
    elif balloon is None:
        del items[index]
    else:
        items[index] = balloon
    row.balloons = validate_balloons(items)
    change = 'add' if index is None else 'remove' if balloon is None else 'replace'
    return _save(session, page, row, f'balloon.{change}', index=index, balloons=len(row.balloons))


def page_spec(session: Session, project: ProjectRead, page_id: str, *, store: AssetStore) -> PageSpec:
    """The renderable page: each panel's asset resolved to its file, balloons and crop as stored."""
    page = get_page(session, project.id, page_id)
    panels = []
    for p in page.panels:
        path = store.path_of(project, assets_svc.get_asset(session, project.id, p.asset_id)) if p.asset_id else None
        panels.append(PanelSpec(p.slot, path, p.crop, p.balloons))
    return PageSpec(page.number, page.template, page.size_preset, tuple(panels), page.grid or None)


def preview_jpeg(spec: PageSpec, width: int = PREVIEW_WIDTH) -> bytes:
    """A small, fast render for the live editor (blocking: run it in a worker)."""
    buf = io.BytesIO()
    render_page(spec, preview_width=width).save(buf, 'JPEG', quality=85)
    return buf.getvalue()
