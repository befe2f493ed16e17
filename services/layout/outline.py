"""The book as a whole: chapters in order with their pages and panels, chapters renumbered, pages found by number."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.assets import Asset
from models.layout import Chapter, ChapterRead, PageRead
from models.references import Scene
from services.errors import Invalid, NotFound
from services.layout import chapters
from services.security import audit


@dataclass(frozen=True)
class ChapterOutline:
    chapter: ChapterRead
    pages: list[PageRead]


def outline(session: Session, project_id: str) -> list[ChapterOutline]:
    """Every chapter in reading order with its pages and their panels, as `kroma pages PROJECT` prints them."""
    return [
        ChapterOutline(c, chapters.list_pages(session, project_id, c.id))
        for c in chapters.list_chapters(session, project_id)
    ]


def asset_labels(session: Session, project_id: str, asset_ids: set[str]) -> dict[str, str]:
    """A short human name per placed image: its scene and stage, else its file name."""
    if not asset_ids:
        return {}
    rows = session.exec(
        select(Asset, Scene.name)
        .join(Scene, col(Scene.id) == col(Asset.scene_id), isouter=True)
        .where(Asset.project_id == project_id, col(Asset.id).in_(asset_ids))
    ).all()
    out = {}
    for asset, scene in rows:
        kind = f'{asset.stage or asset.kind.value}{", post-processed" if asset.kind.value == "derived" else ""}'
        out[asset.id] = f'{scene} ({kind})' if scene else asset.original_name or asset.id[:8]
    return out


def reorder_chapters(session: Session, project_id: str, chapter_ids: list[str]) -> list[ChapterRead]:
    """Renumber 1..n in the given order; the list must name every chapter of the project exactly once."""
    rows = {c.id: c for c in session.exec(select(Chapter).where(Chapter.project_id == project_id)).all()}
    if sorted(chapter_ids) != sorted(rows):
        raise Invalid('The new order must list every chapter of the project exactly once.', code='chapter_order')
    for sign in (-1, 1):  # negative first, so the unique (project, number) index never sees a clash
        for i, chapter_id in enumerate(chapter_ids, 1):
            rows[chapter_id].number = sign * i
            session.add(rows[chapter_id])
        session.flush()
    audit.record(session, project_id=project_id, action='chapter.reorder', payload={'chapters': len(chapter_ids)})
    return chapters.list_chapters(session, project_id)


def page_at(session: Session, project_id: str, chapter: int, page: int) -> PageRead:
    """A page named the way the CLI names it: chapter number and page number."""
    found = chapters.chapter_by_number(session, project_id, chapter)
    pages = chapters.list_pages(session, project_id, found.id)
    match = next((p for p in pages if p.number == page), None)
    if match is None:
        raise NotFound(f'Chapter {chapter} has {len(pages)} page(s); there is no page {page}.', code='page_missing')
    return match


def balloon_at(session: Session, project_id: str, page_id: str, slot: int, index: int) -> dict:
    """One stored balloon of a panel (0-based), to edit only the fields given."""
    page = chapters.get_page(session, project_id, page_id)
    panel = page.panel(slot)
    items = list(panel.balloons) if panel else []
    if not 0 <= index < len(items):
        raise Invalid(f'Panel {slot + 1} has no balloon {index + 1}.', details={'field': 'balloon'})
    return dict(items[index])
