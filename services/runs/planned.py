"""A recorded plan (a dry run) started as the run it describes: one click from its page, the same spend guard."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.base import RunMode, Stage, WorkState
from models.project import ProjectRead
from models.runs import Candidate, Job, Run
from services.errors import Conflict
from services.references.reference_picker import Pick
from services.runs import control
from services.runs import queue as run_queue
from services.runs.log import write_run_log
from services.runs.plan import RunPlan, RunRequest, check_spend
from services.security import audit


@dataclass(frozen=True)
class PlanSummary:
    """What a plan's page says: it is only a plan, what it would cost, on which provider, and what is blocked."""

    run_id: str
    jobs: int
    candidates: int
    cost_usd: float
    offline: bool
    provider: str
    blocked: list[dict[str, str]]
    lines: list[tuple[str, str, str]]  # per job: scene, what it aims for ('time day'; '' for other stages), prompt
    picks: list[list[Pick]]  # per job: the character references the planner chose or left out, and why

    @property
    def cost_text(self) -> str:
        return 'free (offline renderer)' if self.offline else f'about ${self.cost_usd:.2f}'


def request_of(run: Run) -> RunRequest:
    """The request a plan was made from, as recorded in its settings snapshot."""
    stored: dict[str, Any] = dict((run.settings_snapshot or {}).get('request') or {})
    known = {f.name for f in fields(RunRequest)}
    data = {k: v for k, v in stored.items() if k in known}
    data['stage'] = Stage(data.get('stage', run.stage))
    if data.get('size'):
        data['size'] = tuple(data['size'])
    data['account_id'] = ((run.settings_snapshot or {}).get('provider') or {}).get('id') or data.get('account_id')
    return RunRequest(**data)


def plan_summary(session: Session, project_id: str, run_id: str) -> PlanSummary:
    run = run_queue.get_run(session, project_id, run_id)
    jobs = session.exec(select(Job).where(Job.run_id == run_id).order_by(col(Job.index))).all()
    count = len(session.exec(select(Candidate.id).where(Candidate.run_id == run_id)).all())
    provider = (run.settings_snapshot or {}).get('provider') or {}
    stage = run.stage.value
    aims = {j.id: f'{stage} {j.params[stage]}' for j in jobs if stage in ('time', 'weather') and j.params.get(stage)}
    return PlanSummary(
        run_id=run.id,
        jobs=len(jobs),
        candidates=count,
        cost_usd=run.cost_estimate_usd,
        offline=provider.get('kind') == 'local',
        provider=str(provider.get('name') or 'Offline renderer'),
        blocked=list((run.settings_snapshot or {}).get('blocked') or []),
        lines=[(str(j.params.get('scene', '')), aims.get(j.id, ''), j.prompt) for j in jobs],
        picks=[[Pick(**p) for p in (j.params.get('references') or {}).get('picks', [])] for j in jobs],
    )


def _shape(session: Session, run_id: str) -> list[tuple[str | None, str, tuple[str, ...]]]:
    jobs = session.exec(select(Job).where(Job.run_id == run_id).order_by(col(Job.index))).all()
    return [(j.scene_id, j.prompt, tuple(i['sha256'] for i in j.inputs)) for j in jobs]


def _planned_shape(plan: RunPlan) -> list[tuple[str | None, str, tuple[str, ...]]]:
    return [(j.scene_id, j.prompt, tuple(i.sha256 for i in j.inputs)) for j in plan.runnable]


def start_planned(
    session: Session,
    project: ProjectRead,
    run_id: str,
    *,
    confirm_spend: bool = False,
    secrets: Any = None,
    project_root: Path | None = None,
) -> RunPlan:
    """Queue exactly the jobs the plan shows; refused when it is not a plan, when the spend guard says no, or when
    the project changed since (other inputs or prompts), so what runs is always what the artist saw."""
    run = run_queue.get_run(session, project.id, run_id)
    if run.status != WorkState.planned or run.mode != RunMode.dry:
        raise Conflict(f'Only a plan can be started; this run is already {run.status.value}.', code='not_a_plan')
    req = replace(request_of(run), mode='run', confirm_spend=confirm_spend)
    fresh, account = control.plan(session, project, req, secrets=secrets)
    check_spend(fresh, batch_limit=project.batch_limit)
    stored_account = ((run.settings_snapshot or {}).get('provider') or {}).get('id')
    if _planned_shape(fresh) != _shape(session, run_id) or (stored_account and stored_account != account.id):
        raise Conflict(
            'The project changed since this plan was made (its inputs, prompts or provider); make a new plan.',
            code='plan_outdated',
        )
    run.mode, run.status, run.cost_estimate_usd = RunMode.run, WorkState.queued, fresh.total_cost_usd
    run.settings_snapshot = {**run.settings_snapshot, 'request': {**run.settings_snapshot['request'], 'mode': 'run'}}
    session.add(run)
    for table in (Job, Candidate):
        session.execute(
            update(table)
            .where(table.run_id == run_id, table.status == WorkState.planned)
            .values(status=WorkState.queued)
        )
    payload = {'run_id': run_id, 'stage': run.stage.value, 'jobs': len(fresh.runnable)}
    payload |= {'cost_estimate_usd': fresh.total_cost_usd, 'account': account.name}
    audit.record(session, project_id=project.id, action='run.start_plan', payload=payload)
    session.flush()
    if project_root is not None:
        write_run_log(session, project_root, run_id)
    return fresh
