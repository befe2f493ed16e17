"""Leases on claimed jobs: the worker renews them while it works; when one runs out, any worker reclaims the job.

This is how work held by a process that died (or hung) comes back without a restart, on SQLite or PostgreSQL alike:
liveness is told by the lease. The one shortcut: on the machine (and boot) a holder ran on, a process that is gone
holds nothing, so a resume there need not wait out the lease (`expire_gone_here`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from models.base import WorkState, utcnow
from models.runs import Candidate, CostEvent, Job, Run
from services.runs import holders, slots
from services.runs import queue as run_queue
from services.runs.queue import LEASE_S, finish_job, settle_run

log = logging.getLogger(__name__)


def renew_leases(session: Session, worker: str, job_ids: list[str], lease_s: float = LEASE_S) -> set[str]:
    """The worker's heartbeat: extend its claims; returns the jobs it still holds (others were reclaimed)."""
    if not job_ids:
        return set()
    held = (Job.claimed_by == worker, Job.status == WorkState.running, col(Job.id).in_(job_ids))
    session.execute(update(Job).where(*held).values(lease_expires_at=utcnow() + timedelta(seconds=lease_s)))
    return set(session.exec(select(Job.id).where(*held)).all())


def taken_over(session: Session, worker: str, job_ids: list[str]) -> set[str]:
    """Of jobs this worker no longer holds, those another took: queued again or claimed by someone else."""
    if not job_ids:
        return set()
    query = select(Job.id).where(
        col(Job.id).in_(job_ids),
        col(Job.status).in_([WorkState.queued, WorkState.running]),
        or_(col(Job.claimed_by).is_(None), Job.claimed_by != worker),
    )
    return set(session.exec(query).all())


def expire_gone_here(session: Session) -> int:
    """End at once the leases of this machine's workers whose process is gone (a killed `kroma run`, say)."""
    running = session.exec(select(Job).where(Job.status == WorkState.running)).all()
    gone = [j for j in running if holders.gone_here(j.claimed_by)]
    past = utcnow() - timedelta(seconds=1)
    for job in gone:
        session.execute(
            update(Job).where(Job.id == job.id, Job.claimed_by == job.claimed_by).values(lease_expires_at=past)
        )
    if gone:
        log.warning('%d job(s) were held by a process of this machine that is gone; reclaiming them now', len(gone))
    return len(gone)


def reclaim_expired(session: Session, *, now: datetime | None = None, exclude_worker: str | None = None) -> list[str]:
    """Jobs whose worker stopped renewing its lease (it died or hung) go back to the queue for any worker.

    Candidates whose paid call was out when the worker stopped are not sent again (the image may have been made and
    billed): they fail with that reason and their cost counts as maybe billed; the others are queued again. Returns
    the ids of the runs touched."""
    now = now or utcnow()
    expired = (
        Job.status == WorkState.running,
        or_(col(Job.lease_expires_at).is_(None), col(Job.lease_expires_at) < now),
    )
    query = select(Job).where(*expired)
    if exclude_worker:
        query = query.where(or_(col(Job.claimed_by).is_(None), Job.claimed_by != exclude_worker))
    touched: set[str] = set()
    for job in session.exec(query).all():
        holder = job.claimed_by
        taken = session.execute(
            update(Job)
            .where(Job.id == job.id, *expired)
            .values(status=WorkState.queued, claimed_by=None, lease_expires_at=None)
        )
        if taken.rowcount != 1:  # renewed or reclaimed by another process meanwhile
            continue
        session.refresh(job)
        _return_candidates(session, job, holder or 'unknown')
        run = session.get(Run, job.run_id)
        if run.status == WorkState.canceled:  # nobody will claim it: close it now
            finish_job(session, job.id)
        touched.add(job.run_id)
        log.warning('Reclaimed job %s of run %s from worker %s (lease ran out)', job.id, job.run_id, holder)
    session.flush()
    for run_id in touched:
        settle_run(session, run_id)
    return sorted(touched)


def _return_candidates(session: Session, job: Job, holder: str) -> None:
    in_flight = set()
    for event in session.exec(select(CostEvent).where(CostEvent.job_id == job.id)):
        if event.meta.get('state') == 'sent':  # a paid call was out when its worker stopped: count it as spent
            event.meta = {**event.meta, 'state': 'maybe billed', 'note': 'in flight when its worker stopped'}
            session.add(event)
            in_flight.add(event.candidate_id)
    reason = (
        f'Its paid call was in flight when worker {holder} stopped; the image may have been made and billed, so it '
        'was not sent again. Use Retry failed to make it anyway.'
    )
    for cand in session.exec(
        select(Candidate).where(Candidate.job_id == job.id, Candidate.status == WorkState.running)
    ).all():
        if cand.id in in_flight:
            cand.status, cand.error, cand.finished_at = WorkState.failed, reason, utcnow()
        else:
            cand.status = WorkState.queued
        session.add(cand)


def claim_work(
    s: Session, worker: str, run_id: str | None, limit: int, lease_s: float, stages: list[str] | None = None
) -> list[tuple[str, list[str]]]:
    """Reclaim work whose lease ran out, then claim jobs and start their unfinished candidates, in one transaction."""
    reclaim_expired(s, exclude_worker=worker)
    return [
        (job_id, [c.id for c in run_queue.start_candidates(s, job_id)])
        for job_id in run_queue.claim_jobs(s, worker, run_id=run_id, limit=limit, lease_s=lease_s, stages=stages)
    ]


def renew_held(s: Session, worker: str, jobs: list[str], lease_s: float) -> set[str]:
    """Renew the leases of the jobs in hand and of the account slots their calls hold; returns the jobs another
    worker took over (queued again or claimed by someone else; a job that just finished is not among them)."""
    slots.renew(s, worker, lease_s)
    held = renew_leases(s, worker, jobs, lease_s)
    return taken_over(s, worker, [j for j in jobs if j not in held])
