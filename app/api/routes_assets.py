"""Assets (list with filters and paging, detail, file, upload), lineage links, QA reports and cost events."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.api.auth import Access, ApiContext
from app.api.errors import EnvelopeRoute
from models.assets import AssetLink, QualityReport
from models.base import AssetKind, LinkRelation, ReviewState
from models.runs import CostEvent
from services.crud import get_owned
from services.errors import Invalid
from services.projects import assets
from services.projects.assets import AssetFilter

P = '/api/projects/{slug}'
UPLOAD_KINDS = Literal['reference', 'style', 'scene', 'character']
MAX_UPLOAD_FILES = 100


class LinkIn(BaseModel):
    model_config = ConfigDict(extra='forbid')
    parent_asset_id: str = Field(max_length=32)
    child_asset_id: str = Field(max_length=32)
    relation: LinkRelation = LinkRelation.derived_from
    params: dict[str, Any] = Field(default_factory=dict)


# NOTE: these small queries belong in services/projects/assets.py, services/runs/candidate_qa.py and services/runs/control.py;
# they live here until those modules' owners add list/delete functions (no other caller needs them yet).
def list_links(s: Session, project_id: str, asset_id: str | None, relation: str | None) -> list[AssetLink]:
    query = select(AssetLink).where(AssetLink.project_id == project_id)
    if asset_id:
        query = query.where((AssetLink.parent_id == asset_id) | (AssetLink.child_id == asset_id))
    if relation:
        query = query.where(AssetLink.relation == relation)
    return list(s.exec(query.order_by(col(AssetLink.created_at).desc(), col(AssetLink.id))).all())


def list_reports(s: Session, project_id: str, asset_id: str | None, verdict: str | None, limit: int) -> list:
    query = select(QualityReport).where(QualityReport.project_id == project_id)
    if asset_id:
        query = query.where(QualityReport.asset_id == asset_id)
    if verdict:
        query = query.where(QualityReport.verdict == verdict)
    return list(s.exec(query.order_by(col(QualityReport.created_at).desc()).limit(limit)).all())


def list_costs(s: Session, project_id: str, run_id: str | None, limit: int) -> tuple[list[CostEvent], float]:
    where = [CostEvent.project_id == project_id, *([CostEvent.run_id == run_id] if run_id else [])]
    rows = s.exec(select(CostEvent).where(*where).order_by(col(CostEvent.created_at).desc()).limit(limit)).all()
    total = s.exec(select(func.coalesce(func.sum(CostEvent.amount_usd), 0.0)).where(*where)).one()
    return list(rows), float(total)


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute)
    deps, sessions = ctx.deps, ctx.deps.sessions

    @router.get(P + '/assets', tags=['assets'])
    def list_assets(
        kind: AssetKind | None = None,
        status: ReviewState | None = None,
        stage: str | None = Query(None, max_length=20),
        tag: str | None = Query(None, max_length=100),
        scene_id: str | None = Query(None, max_length=32),
        character_id: str | None = Query(None, max_length=32),
        page: int = Query(0, ge=0, le=1_000_000),
        page_size: int = Query(48, ge=1, le=500),
        a: Access = Depends(ctx.access),
    ) -> dict[str, Any]:
        """Newest first, one page at a time (fast with tens of thousands of assets)."""
        flt = AssetFilter(kind=kind, tag=tag, character_id=character_id, scene_id=scene_id, stage=stage, status=status)
        with sessions() as s:
            result = assets.list_assets(s, a.project.id, flt, page=page, page_size=page_size)
        return {'ok': True, 'count': len(result.items), 'total': result.total, 'page': result.page,
                'page_size': result.page_size, 'assets': jsonable_encoder(result.items)}  # fmt: skip

    @router.post(P + '/assets', status_code=201, tags=['assets'])
    def upload_assets(
        files: list[UploadFile] = File(description='PNG, JPEG or WebP images.'),
        kind: UPLOAD_KINDS = Form('reference'),
        tags: str = Form('', max_length=500, description='Comma-separated.'),
        a: Access = Depends(ctx.access),
    ) -> dict[str, Any]:
        """Each file is checked by content (type, size, pixels) and judged alone; a known image is not stored twice."""
        if len(files) > MAX_UPLOAD_FILES:
            raise Invalid(
                f'At most {MAX_UPLOAD_FILES} files per upload; this one has {len(files)}. Send them in batches.',
                code='too_many_files',
            )
        batch = ((f.filename or 'image', f.file.read()) for f in files)  # one file in memory at a time
        tag_list = [t for t in tags.split(',') if t.strip()]
        with ctx.unit(a.principal, 'asset.upload', project_id=a.project.id) as u:
            results = deps.store.upload_many(u.session, a.project, batch, kind=AssetKind(kind), tags=tag_list)
            if not any(r.asset for r in results):
                raise Invalid('No image was accepted: ' + '; '.join(f'{r.name}: {r.reason}' for r in results))
            u.payload.update({r.status: sum(x.status == r.status for x in results) for r in results})
        return {'ok': True, 'count': len(results), 'results': jsonable_encoder(results)}

    @router.get(P + '/assets/{asset_id}', tags=['assets'])
    def get_asset(asset_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The asset with its lineage (parents and children with the relation)."""
        with sessions() as s:
            row = assets.read(assets.get_asset(s, a.project.id, asset_id))
            lineage = assets.lineage(s, a.project.id, asset_id)
        return {'ok': True, 'asset': jsonable_encoder(row), 'lineage': jsonable_encoder(lineage)}

    @router.get(P + '/assets/{asset_id}/file', tags=['assets'], response_class=FileResponse)
    def download_asset(asset_id: str, a: Access = Depends(ctx.access)) -> FileResponse:
        with sessions() as s:
            row = assets.read(assets.get_asset(s, a.project.id, asset_id))
        path = deps.store.path_of(a.project, row)
        ext = path.suffix or '.png'
        return FileResponse(path, filename=f'{row.sha256[:12]}{ext}', media_type=None)

    @router.get(P + '/asset-links', tags=['asset links'])
    def get_links(
        asset_id: str | None = Query(None, max_length=32, description='Either side of the link.'),
        relation: LinkRelation | None = None,
        a: Access = Depends(ctx.access),
    ) -> dict[str, Any]:
        with sessions() as s:
            rows = list_links(s, a.project.id, asset_id, relation)
        return {'ok': True, 'count': len(rows), 'asset_links': jsonable_encoder(rows)}

    @router.post(P + '/asset-links', status_code=201, tags=['asset links'])
    def create_link(body: LinkIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Record lineage between two images of this project (idempotent on parent, child and relation)."""
        payload = body.model_dump(exclude={'params'})
        with ctx.unit(a.principal, 'asset_link.create', project_id=a.project.id, payload=payload) as u:
            assets.link_assets(
                u.session, a.project.id, body.parent_asset_id, body.child_asset_id, body.relation, body.params
            )
            row = next(r for r in list_links(u.session, a.project.id, body.child_asset_id, body.relation)
                       if r.parent_id == body.parent_asset_id)  # fmt: skip
        return {'ok': True, 'asset_link': jsonable_encoder(row)}

    @router.delete(P + '/asset-links/{link_id}', tags=['asset links'])
    def delete_link(link_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'asset_link.delete', project_id=a.project.id, payload={'id': link_id}) as u:
            u.session.delete(get_owned(u.session, AssetLink, a.project.id, link_id))
        return {'ok': True, 'deleted': True, 'id': link_id}

    @router.get(P + '/quality-reports', tags=['quality reports'])
    def quality_reports(
        asset_id: str | None = Query(None, max_length=32),
        verdict: Literal['pass', 'warn', 'fail', 'unverified'] | None = None,
        limit: int = Query(500, ge=1, le=2000),
        a: Access = Depends(ctx.access),
    ) -> dict[str, Any]:
        with sessions() as s:
            rows = list_reports(s, a.project.id, asset_id, verdict, limit)
        return {'ok': True, 'count': len(rows), 'quality_reports': jsonable_encoder(rows)}

    @router.get(P + '/cost-events', tags=['cost events'])
    def cost_events(
        run_id: str | None = Query(None, max_length=32),
        limit: int = Query(500, ge=1, le=2000),
        a: Access = Depends(ctx.access),
    ) -> dict[str, Any]:
        """Every paid call with its amount; total_usd covers all matching events, not just this page."""
        with sessions() as s:
            rows, total = list_costs(s, a.project.id, run_id, limit)
        return {'ok': True, 'count': len(rows), 'total_usd': total, 'cost_events': jsonable_encoder(rows)}

    return router
