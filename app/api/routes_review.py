"""Review without the mouse: a run's candidates ranked with QA, decisions on several at once, approve-best per scene."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import Access, ApiContext
from app.api.errors import EnvelopeRoute
from models.base import Stage
from services.review import best
from services.review import decisions as review

P = '/api/projects/{slug}'


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid')


class ApproveBestIn(Strict):
    stage: Stage | None = Field(None, description="Default: the stage of the project's newest run.")
    run_id: str | None = Field(None, max_length=32, description="Only this run (default: each scene's newest run).")


class DecisionsIn(Strict):
    decision: Literal['approve', 'reject', 'shortlist']
    candidate_ids: list[str] = Field(min_length=1, max_length=500)
    note: str = Field('', max_length=2000)


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute, tags=['reviews'])
    sessions = ctx.deps.sessions

    @router.get(P + '/review')
    def review_queue(
        stage: Stage | None = Query(None, description='Default: any stage.'),
        run_id: str | None = Query(None, max_length=32, description='Default: the newest run of the stage.'),
        a: Access = Depends(ctx.access),
    ) -> dict[str, Any]:
        """A run's scenes with their candidates best first: rank, QA verdict, score, metrics, review state."""
        with sessions() as s:
            run, jobs = best.review_run(s, a.project.id, stage=stage.value if stage else None, run_id=run_id)
        out = [{'job_id': j.id, 'scene_id': j.scene_id, 'scene': j.scene, 'retry_note': j.retry_note,
                'candidates': jsonable_encoder(j.candidates)} for j in jobs]  # fmt: skip
        head = {'id': run.id, 'stage': run.stage.value, 'status': run.status.value, 'created_at': run.created_at}
        return {'ok': True, 'run': jsonable_encoder(head), 'count': len(out), 'jobs': out}

    @router.post(P + '/review/decisions')
    def decide_many(body: DecisionsIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The same decision on several candidates in one transaction: one bad id and none is saved."""
        payload = {'decision': body.decision, 'candidates': len(body.candidate_ids), 'note': body.note}
        with ctx.unit(a.principal, f'review.{body.decision}', project_id=a.project.id, payload=payload) as u:
            views = [
                review.decide(u.session, a.project.id, cid, body.decision, note=body.note) for cid in body.candidate_ids
            ]
        return {'ok': True, 'count': len(views), 'candidates': jsonable_encoder(views)}

    @router.post(P + '/review/approve-best')
    def approve_best(body: ApproveBestIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Per scene, approve the top-ranked candidate that passed QA; never a failing one, never over an approval."""
        stage = body.stage.value if body.stage else None
        with ctx.unit(a.principal, 'review.approve_best', project_id=a.project.id) as u:
            result = best.approve_best(u.session, a.project.id, stage, run_id=body.run_id)
        return {
            'ok': True,
            'stage': result.stage,
            'approved': [asdict(p) for p in result.approved],
            'kept': [asdict(p) for p in result.kept],
            'unresolved': [asdict(x) for x in result.unresolved],
        }

    return router
