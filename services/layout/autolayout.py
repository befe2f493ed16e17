"""Auto-layout (J08): a chapter's approved panels onto new pages in scene order, each template chosen to fit its panels.

One panel per scene: the scene's approved image of the given stage (default: its latest approved stage), or the newest
post-processed output of that image that passed QA. Scenes already on a page of the chapter are left alone, so what
the artist placed by hand is never overwritten; new pages are appended after the chapter's last page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

from sqlmodel import Session, col, select

from models.assets import Asset, AssetLink, QualityReport
from models.base import AssetKind, LinkRelation, ReviewState, Stage
from models.layout import ChapterCreate, Page, PageCreate, Panel
from services.errors import Invalid, NotFound
from services.layout import chapters
from services.layout.templates import TEMPLATES, page_pixels, panel_rects, slot_count
from services.references import scenes as scenes_svc
from services.security import audit

STAGE_ORDER = tuple(s.value for s in Stage)  # style → time → weather → character: later is further along
PASSED = ('pass', 'warn')
PAGE_COST = 1.0  # one more page costs as much as a panel shown at e^1 ≈ 2.7× off its slot's shape
# What the chooser may use: the fixed templates and three wide tiers (a grid of 3 rows × 1 column).
CHOICES: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ('splash', ()),
    ('two', ()),
    ('three', ()),
    ('four', ()),
    ('six', ()),
    ('grid', (('rows', 3), ('cols', 1))),
)
DEPTH_MAX = 32


@dataclass(frozen=True)
class PanelPick:
    """What goes in one slot: the image (maybe a post-processed output) and the approved image it comes from."""

    scene_id: str
    scene: str
    asset_id: str
    source_id: str
    stage: str
    width: int
    height: int

    @property
    def aspect(self) -> float:
        return self.width / max(1, self.height)


@dataclass(frozen=True)
class PlannedPage:
    number: int
    template: str
    grid: dict[str, int]
    panels: tuple[PanelPick, ...]
    page_id: str | None = None


@dataclass
class LayoutPlan:
    """The layout, dry or done: new pages with their panels, and the scenes that got none (with the reason)."""

    chapter: int
    chapter_id: str | None
    size_preset: str
    dry_run: bool
    pages: list[PlannedPage] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@cache
def slot_aspects(template: str, grid: tuple[tuple[str, int], ...], size_preset: str) -> tuple[float, ...]:
    """Width / height of every slot of a template on a page size, in reading order."""
    width, height = page_pixels(size_preset, 150)
    return tuple(w / h for _x, _y, w, h in panel_rects(template, width, height, **dict(grid)))


def _fit(aspects: list[float], slots: tuple[float, ...]) -> float:
    return sum(abs(math.log(a / s)) for a, s in zip(aspects, slots, strict=True)) + PAGE_COST


def choose_templates(
    aspects: list[float], size_preset: str = 'us_comic', *, template: str | None = None, grid: dict | None = None
) -> list[tuple[str, dict[str, int], int]]:
    """Split panels (in order) into pages: (template, grid, panel count) each, the fewest mismatched shapes and pages.

    With a template, every full page uses it and a shorter remainder gets the best fit for its count.
    """
    if template is not None:
        key = tuple(sorted((grid or {}).items())) if template == 'grid' else ()
        per_page = slot_count(template, **dict(key))
        full = len(aspects) // per_page * per_page
        fixed = [(template, dict(key), per_page)] * (full // per_page)
        return fixed + choose_templates(aspects[full:], size_preset)
    best: list[tuple[float, list]] = [(0.0, [])] + [(math.inf, [])] * len(aspects)
    for start in range(len(aspects)):
        cost, pages = best[start]
        if cost == math.inf:
            continue
        for name, key in CHOICES:
            slots = slot_aspects(name, key, size_preset)
            end = start + len(slots)
            if end <= len(aspects) and (total := cost + _fit(aspects[start:end], slots)) < best[end][0]:
                best[end] = (total, [*pages, (name, dict(key), len(slots))])
    return best[-1][1]


def _descendants(session: Session, source_id: str) -> list[str]:
    """Every post-processed output made from an image, through any number of steps."""
    found, frontier = [], [source_id]
    for _ in range(DEPTH_MAX):
        query = select(AssetLink.child_id).where(
            col(AssetLink.parent_id).in_(frontier), AssetLink.relation == LinkRelation.derived_from
        )
        frontier = [c for c in session.exec(query).all() if c not in found]
        if not frontier:
            break
        found += frontier
    return found


def preferred_output(session: Session, source: Asset) -> Asset:
    """The newest post-processed output of an approved image that passed QA, else the approved image itself."""
    ids = _descendants(session, source.id)
    if not ids:
        return source
    rows = session.exec(
        select(Asset)
        .where(col(Asset.id).in_(ids), Asset.kind == AssetKind.derived, Asset.status != ReviewState.archived)
        .order_by(col(Asset.created_at).desc())
    ).all()
    for asset in rows:
        report = session.exec(
            select(QualityReport)
            .where(QualityReport.asset_id == asset.id)
            .order_by(col(QualityReport.created_at).desc())
        ).first()
        if report is not None and report.verdict in PASSED:
            return asset
    return source


def _approved(session: Session, project_id: str, scene_id: str, stage: str | None) -> Asset | None:
    rows = session.exec(
        select(Asset).where(
            Asset.project_id == project_id,
            Asset.scene_id == scene_id,
            Asset.status == ReviewState.approved,
            Asset.kind != AssetKind.derived,
            col(Asset.stage).in_([stage] if stage else STAGE_ORDER),
        )
    ).all()
    return max(rows, key=lambda a: (STAGE_ORDER.index(a.stage), a.created_at), default=None)


def _placed_scenes(session: Session, chapter_id: str | None) -> dict[str, int]:
    """Scene id → the page number it is already on, from every filled panel of the chapter."""
    if chapter_id is None:
        return {}
    rows = session.exec(
        select(Asset.scene_id, Page.number)
        .join(Panel, Panel.asset_id == Asset.id)
        .join(Page, Page.id == Panel.page_id)
        .where(Page.chapter_id == chapter_id)
        .order_by(col(Page.number))
    ).all()
    placed: dict[str, int] = {}
    for scene_id, number in rows:
        if scene_id:
            placed.setdefault(scene_id, number)
    return placed


def _chapter_id(session: Session, project_id: str, number: int) -> str | None:
    try:
        return chapters.chapter_by_number(session, project_id, number).id
    except NotFound:
        return None


def plan_layout(
    session: Session,
    project_id: str,
    chapter: int,
    *,
    template: str | None = None,
    grid: dict[str, int] | None = None,
    stage: str | None = None,
) -> LayoutPlan:
    """The dry run: which scene goes on which new page in which slot, and why a scene was left out."""
    if stage is not None and stage not in STAGE_ORDER:
        raise Invalid(f'Stage must be one of {", ".join(STAGE_ORDER)}.', details={'field': 'stage'})
    if template is not None and template not in TEMPLATES:
        raise Invalid(f'Unknown page template {template!r}; choose one of {", ".join(TEMPLATES)}.',
                      code='page_template_unknown')  # fmt: skip
    if template is not None:
        slot_count(template, **(grid or {}))  # an impossible grid is refused before anything is read
    chapter_id = _chapter_id(session, project_id, chapter)
    pages = chapters.list_pages(session, project_id, chapter_id) if chapter_id else []
    size = pages[-1].size_preset if pages else 'us_comic'
    plan = LayoutPlan(chapter, chapter_id, size, dry_run=True)
    placed = _placed_scenes(session, chapter_id)
    picks: list[PanelPick] = []
    for scene in scenes_svc.list_scenes(session, project_id):
        if (1 if scene.chapter is None else scene.chapter) != chapter:  # no chapter yet: the first
            continue
        if scene.id in placed:
            plan.skipped.append((scene.name, f'already on page {placed[scene.id]}'))
            continue
        source = _approved(session, project_id, scene.id, stage)
        if source is None:
            plan.skipped.append((scene.name, f'no approved image{f" at the {stage} stage" if stage else ""}'))
            continue
        shown = preferred_output(session, source)
        picks.append(
            PanelPick(scene.id, scene.name, shown.id, source.id, source.stage or '', shown.width, shown.height)
        )
    number = (pages[-1].number if pages else 0) + 1
    for name, layout, count in choose_templates([p.aspect for p in picks], size, template=template, grid=grid):
        plan.pages.append(PlannedPage(number, name, layout, tuple(picks[:count])))
        picks, number = picks[count:], number + 1
    return plan


def auto_layout(
    session: Session,
    project_id: str,
    chapter: int,
    *,
    template: str | None = None,
    grid: dict[str, int] | None = None,
    stage: str | None = None,
    dry_run: bool = False,
) -> LayoutPlan:
    """Plan, then (unless dry) create the chapter if needed and append the pages with their panels placed."""
    plan = plan_layout(session, project_id, chapter, template=template, grid=grid, stage=stage)
    plan.dry_run = dry_run
    if dry_run or not plan.pages:
        return plan
    if plan.chapter_id is None:
        plan.chapter_id = chapters.create_chapter(session, project_id, ChapterCreate(number=chapter)).id
    done = []
    for page in plan.pages:
        data = PageCreate(chapter_id=plan.chapter_id, template=page.template, size_preset=plan.size_preset, **page.grid)
        row = chapters.create_page(session, project_id, data)
        for slot, pick in enumerate(page.panels):
            chapters.place_asset(session, project_id, row.id, slot, pick.asset_id)
        done.append(PlannedPage(row.number, page.template, page.grid, page.panels, row.id))
    plan.pages, plan.dry_run = done, False
    payload = {'chapter': chapter, 'pages': len(done), 'panels': sum(len(p.panels) for p in done), 'stage': stage}
    audit.record(session, project_id=project_id, action='layout.auto', payload=payload)
    return plan
