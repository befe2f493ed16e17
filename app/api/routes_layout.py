"""Pages (J08) over the API: chapters, pages with templates, approved images in panels with a crop, balloons, auto-layout.

Panels (`slot`) and balloons (`index`) are numbered from 0 here, as PageRead returns them; bodies are the page
editor's own models (Crop, BalloonData, PageCreate/PageUpdate), so the API refuses exactly what the editor refuses.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Path
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import Access, ApiContext
from app.api.crud_routes import add_crud_routes
from app.api.errors import EnvelopeRoute
from models.base import ID_MAX, Stage
from models.layout import BalloonData, ChapterCreate, ChapterUpdate, Crop, PageCreate, PageUpdate
from services.layout import autolayout, chapters, outline

P = '/api/projects/{slug}'
SLOT = Path(ge=0, le=63, description='Panel slot, 0-based, in reading order.')
INDEX = Path(ge=0, le=99, description='Balloon index on the panel, 0-based.')


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid')


class OrderIn(Strict):
    ids: list[str] = Field(min_length=1, max_length=2000, description='Every id, once, in the new order.')


class PlaceIn(Strict):
    asset_id: str = Field(min_length=1, max_length=ID_MAX, description='An approved image or a live derived one.')
    crop: Crop | None = Field(None, description='Default: the whole image, centred.')


class LayoutIn(Strict):
    chapter: int = Field(1, ge=1, le=9999, description='Chapter number; made if it does not exist.')
    template: str | None = Field(None, max_length=40, description='One template for every full page; default: chosen.')
    rows: int | None = Field(None, ge=1, le=8, description='Rows of the grid template.')
    cols: int | None = Field(None, ge=1, le=8, description='Columns of the grid template.')
    stage: Stage | None = Field(None, description="Use this stage's approved images; default: each scene's latest.")
    dry_run: bool = Field(False, description='Return the layout and change nothing.')


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute, tags=['pages'])
    sessions = ctx.deps.sessions
    add_crud_routes(
        router, ctx, path=P + '/chapters', singular='chapter', plural='chapters', tag='pages',
        create_model=ChapterCreate, update_model=ChapterUpdate, list_fn=chapters.list_chapters,
        get_fn=chapters.get_chapter, create_fn=chapters.create_chapter, update_fn=chapters.update_chapter,
        delete_fn=chapters.delete_chapter,
    )  # fmt: skip

    def page_answer(page: Any) -> dict[str, Any]:
        return {'ok': True, 'page': jsonable_encoder(page)}

    @router.put(P + '/chapters/order')
    def reorder_chapters(body: OrderIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Renumber the chapters 1..n in this order."""
        with ctx.unit(a.principal, 'chapter.reorder', project_id=a.project.id) as u:
            rows = outline.reorder_chapters(u.session, a.project.id, body.ids)
        return {'ok': True, 'count': len(rows), 'chapters': jsonable_encoder(rows)}

    @router.get(P + '/chapters/{chapter_id}/pages')
    def list_pages(chapter_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """A chapter's pages in reading order, each with its slots and filled panels."""
        with sessions() as s:
            rows = chapters.list_pages(s, a.project.id, chapter_id)
        return {'ok': True, 'chapter_id': chapter_id, 'count': len(rows), 'pages': jsonable_encoder(rows)}

    @router.put(P + '/chapters/{chapter_id}/pages/order')
    def reorder_pages(chapter_id: str, body: OrderIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'page.reorder', project_id=a.project.id) as u:
            rows = chapters.reorder_pages(u.session, a.project.id, chapter_id, body.ids)
        return {'ok': True, 'chapter_id': chapter_id, 'count': len(rows), 'pages': jsonable_encoder(rows)}

    @router.post(P + '/pages', status_code=201)
    def create_page(body: PageCreate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Append a page to a chapter with a template (splash, two, three, four, six, grid) and a size."""
        with ctx.unit(a.principal, 'page.create', project_id=a.project.id) as u:
            return page_answer(chapters.create_page(u.session, a.project.id, body))

    @router.get(P + '/pages/{page_id}')
    def get_page(page_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            return page_answer(chapters.get_page(s, a.project.id, page_id))

    @router.patch(P + '/pages/{page_id}')
    def update_page(page_id: str, body: PageUpdate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Choose the page's template (given whole); a filled slot the new template lacks is refused."""
        with ctx.unit(a.principal, 'page.update', project_id=a.project.id) as u:
            return page_answer(chapters.update_page(u.session, a.project.id, page_id, body))

    @router.delete(P + '/pages/{page_id}')
    def delete_page(page_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'page.delete', project_id=a.project.id) as u:
            chapters.delete_page(u.session, a.project.id, page_id)
        return {'ok': True, 'deleted': True, 'id': page_id}

    @router.put(P + '/pages/{page_id}/panels/{slot}')
    def place(page_id: str, body: PlaceIn, slot: int = SLOT, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Put an approved image in a slot; its balloons stay."""
        crop = body.crop.model_dump() if body.crop else None
        with ctx.unit(a.principal, 'panel.place', project_id=a.project.id) as u:
            return page_answer(chapters.place_asset(u.session, a.project.id, page_id, slot, body.asset_id, crop=crop))

    @router.put(P + '/pages/{page_id}/panels/{slot}/crop')
    def crop(page_id: str, body: Crop, slot: int = SLOT, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Frame the panel: zoom 1–4 around a focal centre x/y (0–1)."""
        with ctx.unit(a.principal, 'panel.crop', project_id=a.project.id) as u:
            return page_answer(chapters.set_crop(u.session, a.project.id, page_id, slot, body.model_dump()))

    @router.delete(P + '/pages/{page_id}/panels/{slot}')
    def clear(page_id: str, slot: int = SLOT, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Empty a slot: image, crop and balloons go; the image stays in the project."""
        with ctx.unit(a.principal, 'panel.clear', project_id=a.project.id) as u:
            return page_answer(chapters.clear_panel(u.session, a.project.id, page_id, slot))

    def balloon(page_id: str, slot: int, index: int | None, data: BalloonData | None, a: Access) -> dict[str, Any]:
        body = data.model_dump() if data is not None else None
        with ctx.unit(a.principal, 'balloon.edit', project_id=a.project.id) as u:
            return page_answer(chapters.edit_balloon(u.session, a.project.id, page_id, slot, index, body))

    @router.post(P + '/pages/{page_id}/panels/{slot}/balloons', status_code=201)
    def add_balloon(
        page_id: str, body: BalloonData, slot: int = SLOT, a: Access = Depends(ctx.access)
    ) -> dict[str, Any]:
        """Add a speech balloon, caption or thought (kind) to a panel; rendered only at export."""
        return balloon(page_id, slot, None, body, a)

    @router.put(P + '/pages/{page_id}/panels/{slot}/balloons/{index}')
    def replace_balloon(page_id: str, body: BalloonData, slot: int = SLOT, index: int = INDEX,
                        a: Access = Depends(ctx.access)) -> dict[str, Any]:  # fmt: skip
        return balloon(page_id, slot, index, body, a)

    @router.delete(P + '/pages/{page_id}/panels/{slot}/balloons/{index}')
    def remove_balloon(page_id: str, slot: int = SLOT, index: int = INDEX,
                       a: Access = Depends(ctx.access)) -> dict[str, Any]:  # fmt: skip
        return balloon(page_id, slot, index, None, a)

    @router.get(P + '/placeable-assets')
    def placeable(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """What a panel may hold: approved images, then live post-processed outputs of approved ones."""
        with sessions() as s:
            rows = chapters.placeable_assets(s, a.project.id)
        return {'ok': True, 'count': len(rows), 'assets': jsonable_encoder(rows)}

    @router.post(P + '/layout')
    def layout(body: LayoutIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Auto-layout: the chapter's approved panels on new pages in scene order; dry_run returns the layout only."""
        grid = {k: v for k, v in (('rows', body.rows), ('cols', body.cols)) if v is not None}
        stage = body.stage.value if body.stage else None
        args = {'template': body.template, 'grid': grid, 'stage': stage, 'dry_run': body.dry_run}
        if body.dry_run:  # reads only: no transaction to audit
            with sessions() as s:
                plan = autolayout.auto_layout(s, a.project.id, body.chapter, **args)
        else:
            with ctx.unit(a.principal, 'layout.auto', project_id=a.project.id, payload={'chapter': body.chapter}) as u:
                plan = autolayout.auto_layout(u.session, a.project.id, body.chapter, **args)
        pages = [{**asdict(p), 'panels': [{**asdict(x), 'aspect': round(x.aspect, 3)} for x in p.panels]}
                 for p in plan.pages]  # fmt: skip
        skipped = [{'scene': scene, 'reason': why} for scene, why in plan.skipped]
        return {'ok': True, 'chapter': plan.chapter, 'chapter_id': plan.chapter_id, 'dry_run': plan.dry_run,
                'size_preset': plan.size_preset, 'pages': pages, 'skipped': skipped}  # fmt: skip

    return router
