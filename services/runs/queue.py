"""The durable queue: run → jobs → candidates as rows with states; atomic claims; cancel, resume, retry, recovery."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from models.base import RunMode, WorkState, new_row, utcnow
from models.runs import Candidate, CostEvent, Job, Run
from services.errors import Invalid, NotFound
from services.runs.plan import RunPlan
from services.security import audit

log = logging.getLogger(__name__)

TERMINAL = {WorkState.done, WorkState.failed, WorkState.canceled}
LEASE_S = 30.0  # a claim lasts this long unless its worker renews it (the executor renews every third of it)


PROVIDER_PARAMS = ('time', 'weather', 'palette')


def provider_params(job_params: dict[str, Any]) -> dict[str, Any]:
    """What of a job's parameters a provider is given (and a reproduction must give it again)."""
    return {k: job_params[k] for k in PROVIDER_PARAMS if job_params.get(k)}


def candidate_seed(run_seed: int, job_index: int, index: int) -> int:
    """Deterministic per (run seed, job, index): a resumed or reproduced candidate gets the same seed."""
    digest = hashlib.sha256(f'{run_seed}:{job_index}:{index}'.encode()).digest()
    return int.from_bytes(digest[:4], 'big') & 0x7FFFFFFF


def create_run(session: Session, project_id: str, plan: RunPlan, *, account: dict[str, Any]) -> str:
    """Record the plan; a dry run stays `planned`, a real run queues its jobs and candidates."""
    req = plan.request
    queued = req.mode == 'run'
    run = Run(
        project_id=project_id,
        stage=req.stage,
        mode=RunMode(req.mode),
        status=WorkState.queued if queued else WorkState.planned,
        provider_account_id=account.get('id'),
        cost_estimate_usd=plan.total_cost_usd,
        settings_snapshot={
            'request': {k: v for k, v in asdict(req).items()},
            'provider': account,
            'blocked': [
                {'scene_id': j.scene_id, 'scene': j.scene_name, 'reason': j.blocked} for j in plan.jobs if j.blocked
            ],
        },
    )
    session.add(run)
    session.flush()
    state = WorkState.queued if queued else WorkState.planned
    jobs, candidates = [], []  # hundreds of rows: two bulk INSERTs, not an ORM object and a flush each
    for i, pj in enumerate(plan.runnable):
        job = new_row(
            Job,
            project_id=project_id,
            run_id=run.id,
            scene_id=pj.scene_id,
            index=i,
            status=state,
            prompt=pj.prompt,
            inputs=[asdict(x) for x in pj.inputs],
            cost_estimate_usd=pj.cost_usd,
            params={
                'time': pj.time,
                'weather': pj.weather,
                'size': list(pj.size),
                'characters': pj.character_names,
                'scene': pj.scene_name,
                'palette': plan.palette,
                **pj.extras,  # continuity state, character bible versions, reference picks (#22)
            },
        )
        jobs.append(job)
        candidates += [
            new_row(
                Candidate,
                project_id=project_id,
                run_id=run.id,
                job_id=job['id'],
                index=c,
                seed=candidate_seed(req.seed, i, c),
                status=state,
            )
            for c in range(req.candidates)
        ]
    if jobs:
        session.execute(insert(Job), jobs)
    if candidates:
        session.execute(insert(Candidate), candidates)
    return run.id


def claim_job(session: Session, worker: str, *, run_id: str | None = None, lease_s: float = LEASE_S) -> str | None:
    """Take one queued job atomically; see claim_jobs."""
    return next(iter(claim_jobs(session, worker, run_id=run_id, limit=1, lease_s=lease_s)), None)


def claim_jobs(
    session: Session,
    worker: str,
    *,
    run_id: str | None = None,
    limit: int = 1,
    lease_s: float = LEASE_S,
    stages: Sequence[str] | None = None,
) -> list[str]:
    """Take up to `limit` queued jobs, each with one UPDATE guarded by its status: two processes never run one job.

    On PostgreSQL the candidates are picked with SELECT … FOR UPDATE SKIP LOCKED, so workers on several machines
    take different jobs without waiting on each other; SQLite has one writer at a time and the guard suffices.
    Each claim carries a lease (`lease_expires_at`) that the worker renews while it works; when it runs out, any
    worker may reclaim the job (reclaim_expired), so a dead process never holds work for good. `stages` limits the
    claim to runs of those stages (a worker that serves only some)."""
    query = (
        select(Job.id)
        .join(Run, Run.id == Job.run_id)
        .where(Job.status == WorkState.queued, Run.status.in_([WorkState.queued, WorkState.running]))
    )  # type: ignore[attr-defined]
    if run_id:
        query = query.where(Job.run_id == run_id)
    if stages:
        query = query.where(col(Run.stage).in_(list(stages)))
    shared = session.get_bind().dialect.name == 'postgresql'
    query = query.order_by(col(Job.created_at), col(Job.index))
    query = query.limit(limit).with_for_update(skip_locked=True, of=Job) if shared else query.limit(limit + 4)
    claimed: list[str] = []
    now = utcnow()
    for job_id in session.exec(query).all():
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == WorkState.queued)
            .values(
                status=WorkState.running,
                claimed_by=worker,
                claimed_at=now,
                lease_expires_at=now + timedelta(seconds=lease_s),
            )
        )
        if result.rowcount != 1:  # another process took it between the select and the update
            continue
        claimed.append(job_id)
        _mark_running(session, session.get(Job, job_id).run_id, shared)
        if len(claimed) == limit:
            break
    session.flush()
    return claimed


def _mark_running(session: Session, run_id: str, shared: bool) -> None:
    """The run's first claim starts it; on PostgreSQL a run row another worker is starting is skipped, not waited on."""
    query = select(Run).where(Run.id == run_id, Run.status == WorkState.queued)
    if shared:
        query = query.with_for_update(skip_locked=True)
    run = session.exec(query).first()
    if run is not None:
        run.status, run.started_at = WorkState.running, run.started_at or utcnow()
        session.add(run)


def start_candidates(session: Session, job_id: str) -> list[Candidate]:
    """Mark the claimed job's candidates that wait for a call running (none if its run was canceled).

    A failed one stays failed: after a reclaim that is a paid call that was in flight when its worker died, made
    again only when the artist asks (Retry failed queues it)."""
    job = session.get(Job, job_id)
    if session.get(Run, job.run_id).status == WorkState.canceled:
        return []
    startable = (WorkState.queued, WorkState.running, WorkState.interrupted)
    pending = [c for c in pending_candidates(session, job_id) if c.status in startable]
    for cand in pending:
        cand.status, cand.attempts = WorkState.running, cand.attempts + 1
        session.add(cand)
    session.flush()
    return pending


def pending_candidates(session: Session, job_id: str) -> list[Candidate]:
    return list(
        session.exec(
            select(Candidate)
            .where(Candidate.job_id == job_id, Candidate.status != WorkState.done)
            .order_by(col(Candidate.index))
        ).all()
    )


def finish_job(session: Session, job_id: str) -> None:
    """A job ends done, failed (some candidate failed) or canceled; then the run is settled."""
    job = session.get(Job, job_id)
    states = [c.status for c in session.exec(select(Candidate).where(Candidate.job_id == job_id)).all()]
    run = session.get(Run, job.run_id)
    if run.status == WorkState.canceled and any(s not in TERMINAL for s in states):
        for c in session.exec(
            select(Candidate).where(
                Candidate.job_id == job_id, col(Candidate.status).in_([WorkState.queued, WorkState.running])
            )
        ):
            c.status = WorkState.canceled
            session.add(c)
        job.status = WorkState.canceled
    elif all(s == WorkState.done for s in states):
        job.status = WorkState.done
    else:
        job.status = WorkState.failed
    job.claimed_by, job.lease_expires_at = None, None
    session.add(job)
    session.flush()
    settle_run(session, job.run_id)


def settle_run(session: Session, run_id: str) -> None:
    run = session.get(Run, run_id)
    jobs = [j.status for j in session.exec(select(Job).where(Job.run_id == run_id)).all()]
    if any(s in (WorkState.queued, WorkState.running) for s in jobs):
        return
    if run.status == WorkState.canceled:
        pass
    elif jobs and all(s == WorkState.done for s in jobs):
        run.status = WorkState.done
    elif any(s == WorkState.interrupted for s in jobs):
        run.status = WorkState.interrupted
    else:
        run.status = WorkState.failed if jobs else WorkState.done
    run.cost_actual_usd = float(
        session.exec(select(func.coalesce(func.sum(CostEvent.amount_usd), 0.0)).where(CostEvent.run_id == run_id)).one()
    )
    run.finished_at = utcnow()
    session.add(run)


def get_run(session: Session, project_id: str, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None or run.project_id != project_id:
        raise NotFound(f'No run {run_id} in this project.')
    return run


def get_run_any(session: Session, run_id: str) -> Run:
    """A run by id alone (links and the CLI name runs by id); the caller then scopes by its project."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f'No run {run_id}.')
    return run


def cancel_run(session: Session, project_id: str, run_id: str) -> None:
    """Cancel keeps what finished; calls in flight return first, queued work never starts."""
    run = get_run(session, project_id, run_id)
    if run.status in TERMINAL:
        raise Invalid(f'The run is already {run.status.value}.', code='run_finished')
    run.status = WorkState.canceled
    session.add(run)
    session.execute(
        update(Job)
        .where(Job.run_id == run_id, col(Job.status).in_([WorkState.queued, WorkState.interrupted]))
        .values(status=WorkState.canceled)
    )
    session.execute(
        update(Candidate)
        .where(Candidate.run_id == run_id, Candidate.status == WorkState.queued)
        .values(status=WorkState.canceled)
    )
    session.flush()
    settle_run(session, run_id)
    audit.record(session, project_id=project_id, action='run.cancel', payload={'run_id': run_id})


def requeue(session: Session, project_id: str, run_id: str, *, failed_only: bool = False) -> int:
    """Resume (everything unfinished) or Retry failed (R01): finished candidates are never generated again."""
    run = get_run(session, project_id, run_id)
    if run.mode != RunMode.run:
        raise Invalid('A dry run has nothing to resume; start it as a real run.', code='dry_run')
    if not failed_only and (held := _held(session, run_id)) is not None:
        raise Invalid(
            f'The run is still running: worker {held.claimed_by} holds a job until '
            f'{held.lease_expires_at:%H:%M:%S} UTC. If that process is gone, its work is reclaimed then.',
            code='run_running',
        )
    states = (
        [WorkState.failed]
        if failed_only
        else [WorkState.failed, WorkState.interrupted, WorkState.canceled, WorkState.queued, WorkState.running]
    )
    cands = session.exec(select(Candidate).where(Candidate.run_id == run_id, col(Candidate.status).in_(states))).all()
    job_ids = {c.job_id for c in cands}
    if not failed_only:  # a job stopped after its last candidate but before it was settled still needs QA and settling
        job_ids |= set(
            session.exec(select(Job.id).where(Job.run_id == run_id, Job.status == WorkState.interrupted)).all()
        )
    for c in cands:
        c.status, c.error = WorkState.queued, ''
        session.add(c)
    for job in session.exec(select(Job).where(col(Job.id).in_(job_ids))):
        if job.status != WorkState.running:
            job.status, job.error, job.claimed_by, job.lease_expires_at = WorkState.queued, '', None, None
            session.add(job)
    if job_ids:
        run.status, run.finished_at, run.error = WorkState.queued, None, ''
        session.add(run)
    action = 'run.retry_failed' if failed_only else 'run.resume'
    audit.record(session, project_id=project_id, action=action, payload={'run_id': run_id, 'requeued': len(cands)})
    session.flush()
    return len(cands)


def _held(session: Session, run_id: str) -> Job | None:
    """A job of the run that a live worker holds (its lease has not run out)."""
    return session.exec(
        select(Job).where(Job.run_id == run_id, Job.status == WorkState.running, col(Job.lease_expires_at) > utcnow())
    ).first()
