"""Runs (J04, R01) with the same validation and spend guard as the page, and reviews of their candidates."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import Access, ApiContext
from app.api.errors import EnvelopeRoute
from models.base import Stage
from services.review import decisions as review
from services.runs import control as runs
from services.runs import planned
from services.runs import queue as run_queue
from services.runs import status as run_status
from services.runs.plan import MAX_CANDIDATES, RunPlan, RunRequest

P = '/api/projects/{slug}'


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid')


class SceneTarget(Strict):
    time: Literal['day', 'dusk', 'night'] | None = Field(None, title='Time')
    weather: Literal['clear', 'rain', 'fog', 'snow'] | None = Field(None, title='Weather')


class RunIn(Strict):
    stage: Stage = Stage.style
    mode: Literal['dry', 'run'] = Field('dry', description='"dry" records the plan; "run" queues the generation.')
    confirm_spend: bool = Field(False, description='Required for a paid provider in "run" mode.')
    scene_ids: list[str] | None = Field(None, max_length=500, description='Default: every scene.')
    candidates: int = Field(3, ge=1, le=MAX_CANDIDATES)
    account_id: str | None = Field(None, max_length=32, description='Default: the offline renderer.')
    style_asset_ids: list[str] | None = Field(None, max_length=100)
    character_ids: list[str] | None = Field(None, max_length=100)
    time: Literal['day', 'dusk', 'night'] | None = Field(None, description="Default: each scene's own time.")
    weather: Literal['clear', 'rain', 'fog', 'snow'] | None = Field(None, description="Default: each scene's own.")
    scene_targets: dict[str, SceneTarget] | None = Field(
        None,
        title='Scene targets',
        max_length=500,
        description="One scene's time or weather, by scene id, over the run's and its own.",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)


class StartPlanIn(Strict):
    confirm_spend: bool = Field(False, description='Required when the plan uses a paid provider.')


class ResumeIn(Strict):
    failed_only: bool = Field(False, description='Retry only failed candidates (else everything unfinished).')


class DecisionIn(Strict):
    note: str = Field('', max_length=2000)


class RetryIn(Strict):
    stage: Stage
    note: str = Field(max_length=2000)


def plan_json(plan: RunPlan) -> dict[str, Any]:
    """What the composer shows: jobs, blocked scenes and the cost beside the remaining budget."""
    return {
        'jobs': [
            {'scene_id': j.scene_id, 'scene': j.scene_name, 'prompt': j.prompt, 'cost_usd': j.cost_usd,
             'inputs': [asdict(i) for i in j.inputs], 'size': list(j.size),
             'references': [asdict(r) for r in j.references]}
            for j in plan.runnable
        ],
        'blocked': [{'scene_id': j.scene_id, 'scene': j.scene_name, 'reason': j.blocked} for j in plan.jobs if j.blocked],
        'candidates_per_job': plan.request.candidates,
        'total_cost_usd': plan.total_cost_usd,
        'remaining_budget_usd': plan.remaining_budget_usd,
        'provider_offline': plan.provider_offline,
    }  # fmt: skip


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute, tags=['runs'])
    deps, sessions = ctx.deps, ctx.deps.sessions
    R = P + '/runs'

    @router.get(R)
    def list_runs(limit: int = Query(50, ge=1, le=1000), a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            rows = run_status.list_runs(s, a.project.id, limit=limit)
        return {'ok': True, 'count': len(rows), 'runs': jsonable_encoder(rows)}

    def trigger(body: RunIn, a: Access) -> dict[str, Any]:
        data = body.model_dump()
        targets = {k: {f: v for f, v in t.items() if v} for k, t in (data.pop('scene_targets') or {}).items()}
        req = RunRequest(**data, scene_targets=targets or None)
        payload = {'stage': body.stage.value, 'mode': body.mode, 'candidates': body.candidates}
        with ctx.unit(a.principal, 'run.start', project_id=a.project.id, payload=payload) as u:
            started = runs.start(
                u.session, a.project, req, secrets=deps.secrets, project_root=deps.store.root(a.project)
            )
            u.payload.update(run_id=started.run_id, cost_estimate_usd=started.plan.total_cost_usd)
            progress = run_status.run_progress(u.session, a.project.id, started.run_id)
        if body.mode == 'run':
            deps.wake.runs()
        return {'ok': True, 'run_id': started.run_id, 'run': jsonable_encoder(progress.run),
                'plan': plan_json(started.plan)}  # fmt: skip

    @router.post(R, status_code=201)
    def start_run(body: RunIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Plan and record a run (dry) or queue it (run); refused before any call by the spend guard."""
        return trigger(body, a)

    @router.post(R + '/trigger', status_code=201)
    def trigger_run(body: RunIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The original's path for starting a run; same as POST …/runs."""
        return trigger(body, a)

    @router.get(R + '/{run_id}')
    def get_run(run_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The run with per-job progress, read from the database (the truth for every tab and after a restart)."""
        with sessions() as s:
            progress = run_status.run_progress(s, a.project.id, run_id)
            snapshot = run_queue.get_run(s, a.project.id, run_id).settings_snapshot
        return {'ok': True, 'run': {**jsonable_encoder(progress.run), 'fraction': progress.fraction,
                                    'spent_usd': progress.spent_usd, 'maybe_billed_usd': progress.maybe_billed_usd,
                                    'blocked': snapshot.get('blocked', [])}, 'jobs': jsonable_encoder(progress.jobs)}  # fmt: skip

    @router.get(R + '/{run_id}/jobs')
    def run_jobs(run_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            progress = run_status.run_progress(s, a.project.id, run_id)
        return {'ok': True, 'run_id': run_id, 'count': len(progress.jobs), 'jobs': jsonable_encoder(progress.jobs)}

    @router.get(R + '/{run_id}/candidates')
    def run_candidates(run_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Every job's candidates, best first, with QA verdict, score and metrics."""
        with sessions() as s:
            run_queue.get_run(s, a.project.id, run_id)
            views = review.run_review(s, a.project.id, run_id)
        cands = [{**jsonable_encoder(c), 'job_id': v.id, 'scene': v.scene} for v in views for c in v.candidates]
        return {'ok': True, 'run_id': run_id, 'count': len(cands), 'candidates': cands}

    @router.post(R + '/{run_id}/start')
    def start_plan(run_id: str, body: StartPlanIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Queue a recorded plan (a dry run) exactly as planned; refused if the project changed since."""
        with ctx.unit(a.principal, 'run.start_plan', project_id=a.project.id, payload={'run_id': run_id}) as u:
            plan = planned.start_planned(
                u.session,
                a.project,
                run_id,
                confirm_spend=body.confirm_spend,
                secrets=deps.secrets,
                project_root=deps.store.root(a.project),
            )
            progress = run_status.run_progress(u.session, a.project.id, run_id)
        deps.wake.runs()
        return {'ok': True, 'run_id': run_id, 'run': jsonable_encoder(progress.run), 'plan': plan_json(plan)}

    @router.post(R + '/{run_id}/resume')
    def resume_run(run_id: str, body: ResumeIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Requeue what did not finish (or only what failed); finished candidates are never generated again."""
        action = 'run.retry_failed' if body.failed_only else 'run.resume'
        runs.recover(sessions)
        with ctx.unit(a.principal, action, project_id=a.project.id, payload={'run_id': run_id}) as u:
            count = run_queue.requeue(u.session, a.project.id, run_id, failed_only=body.failed_only)
            u.payload['requeued'] = count
        if count:
            deps.wake.runs()
        return {'ok': True, 'run_id': run_id, 'requeued': count}

    @router.post(R + '/{run_id}/cancel')
    def cancel_run(run_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Finished candidates are kept; queued work never starts."""
        with ctx.unit(a.principal, 'run.cancel', project_id=a.project.id, payload={'run_id': run_id}) as u:
            runs.cancel(u.session, a.project, run_id, store=deps.store)
            progress = run_status.run_progress(u.session, a.project.id, run_id)
        return {'ok': True, 'run': jsonable_encoder(progress.run)}

    # -- reviews ---------------------------------------------------------------------------------------------
    def decide(candidate_id: str, decision: str, body: DecisionIn, a: Access) -> dict[str, Any]:
        payload = {'candidate_id': candidate_id, 'decision': decision, 'note': body.note}
        with ctx.unit(a.principal, f'review.{decision}', project_id=a.project.id, payload=payload) as u:
            view = review.decide(u.session, a.project.id, candidate_id, decision, note=body.note)
        return {'ok': True, 'candidate': jsonable_encoder(view)}

    @router.post(P + '/candidates/{candidate_id}/approve', tags=['reviews'])
    def approve(candidate_id: str, body: DecisionIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """One winner per scene and stage: the image becomes immutable and the next stage's input."""
        return decide(candidate_id, 'approve', body, a)

    @router.post(P + '/candidates/{candidate_id}/reject', tags=['reviews'])
    def reject(candidate_id: str, body: DecisionIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        return decide(candidate_id, 'reject', body, a)

    @router.post(P + '/candidates/{candidate_id}/shortlist', tags=['reviews'])
    def shortlist(candidate_id: str, body: DecisionIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        return decide(candidate_id, 'shortlist', body, a)

    @router.post(P + '/scenes/{scene_id}/retry', status_code=201, tags=['reviews'])
    def retry_scene(scene_id: str, body: RetryIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Ask for another try at a scene's stage; the note travels with the next run."""
        payload = {'scene_id': scene_id, 'stage': body.stage.value, 'note': body.note}
        with ctx.unit(a.principal, 'review.retry', project_id=a.project.id, payload=payload) as u:
            review.mark_retry(u.session, a.project.id, scene_id, body.stage.value, body.note)
        return {'ok': True, 'review': payload}

    return router
