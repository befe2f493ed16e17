"""Background work on APScheduler: the run workers, reclaiming dead workers' jobs, and (persisted) scheduled jobs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from app.instruction_jobs import INSTRUCTION_WORKER, work_instructions
from services.deps import Deps
from services.runs import control as runs
from services.runs import leases
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.security.audit import acting_as
from services.utilities.scratch import ScratchArea

log = logging.getLogger(__name__)

RUN_WORKER = 'run-worker'
RECOVER = 'recover-runs'
SCRATCH_CLEANUP = 'scratch-cleanup'


def drain_runs(deps: Deps) -> int:
    """One worker pass in its own thread and event loop: the studio's UI loop is never blocked by generation."""
    with acting_as(f'job:{RUN_WORKER}'):
        return asyncio.run(run_executor(deps).drain())


def run_executor(
    deps: Deps, *, qa: bool = True, call_cap: int | None = None, stages: Sequence[str] | None = None
) -> RunExecutor:
    """The one way the studio's worker pass, `kroma run --wait` and `kroma worker` build their run executor."""
    return RunExecutor(
        sessions=deps.sessions,
        store=deps.store,
        secrets=deps.secrets,
        qa=CandidateQA(deps.store) if qa else None,
        lease_s=deps.options.run_lease_s,
        call_cap=call_cap,
        stages=stages,
    )


def recover(deps: Deps) -> int:
    """Jobs whose worker stopped renewing its lease go back to the queue (no restart needed); their logs say so."""
    with acting_as(f'job:{RECOVER}'), deps.sessions() as s:
        run_ids = leases.reclaim_expired(s)
    for run_id in run_ids:
        with deps.sessions() as s:
            runs.write_log(s, deps.store, run_id)
    if run_ids:
        log.warning('Reclaimed the jobs of %d run(s) from stopped workers; the queue picks them up', len(run_ids))
        deps.wake.runs()
    return len(run_ids)


def clear_scratch(deps: Deps, max_age_hours: float) -> int:
    """Sweep utility-lab scratch folders nobody touched for a while."""
    with acting_as(f'job:{SCRATCH_CLEANUP}'):
        return ScratchArea(deps.data_dir).clear_older_than(max_age_hours)


def _every(
    scheduler: BackgroundScheduler, job_id: str, fn: Callable[..., object], args: list[object], **when: Any
) -> None:
    """One run at a time, missed ticks folded into one, and a restart replaces the job instead of doubling it."""
    scheduler.add_job(
        fn, 'interval', args=args, id=job_id, max_instances=1, coalesce=True, replace_existing=True, **when
    )


def new_scheduler(jobstore_url: str | None = None) -> BackgroundScheduler:
    """Built in a function, before the Deps whose wake hooks point at it; no import-time side effects."""
    scheduler = BackgroundScheduler(executors={'default': ThreadPoolExecutor(4)}, timezone=UTC)
    if jobstore_url:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        scheduler.add_jobstore(SQLAlchemyJobStore(url=jobstore_url, tablename='apscheduler_jobs'), 'persistent')
    return scheduler


def add_workers(scheduler: BackgroundScheduler, deps: Deps) -> BackgroundScheduler:
    """The studio's background workers: runs, recovery, scratch sweeping and the instruction queue."""
    _every(scheduler, RUN_WORKER, drain_runs, [deps], seconds=1)
    _every(scheduler, RECOVER, recover, [deps], seconds=15, next_run_time=datetime.now(UTC))
    _every(scheduler, SCRATCH_CLEANUP, clear_scratch, [deps, deps.options.scratch_max_age_hours], hours=1)
    _every(scheduler, INSTRUCTION_WORKER, work_instructions, [deps], seconds=3)
    return scheduler


def wake(scheduler: BackgroundScheduler, job_id: str = RUN_WORKER) -> None:
    """Start a worker now instead of at its next tick."""
    job = scheduler.get_job(job_id)
    if job is not None:
        job.modify(next_run_time=datetime.now(UTC))
