"""Run logs of a worker pass: jobs ending in a burst share one rewrite, and the pass ends with the final state."""

from __future__ import annotations

import asyncio
import json

from sqlmodel import select

from models.base import Stage, WorkState
from models.runs import Job
from services.runs import control as runs
from services.runs.log import run_log_path
from services.runs.log_writer import LOG_EVERY_S, RunLogWriter
from services.runs.plan import RunRequest


def test_jobs_ending_together_share_one_rewrite_and_the_pass_ends_with_the_newest_state(sessions, store, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run')).run_id
        job_ids = [j.id for j in s.exec(select(Job).where(Job.run_id == run_id)).all()]
    path = run_log_path(store.root(demo), run_id)

    def job_status(job_id: str) -> str:
        return {j['id']: j['status'] for j in json.loads(path.read_text())['jobs']}[job_id]

    async def scenario() -> None:
        logs = RunLogWriter(sessions, store)
        logs.start(run_id)
        await asyncio.sleep(0.05)
        assert path.exists() and logs.rewrites == 1  # the log exists from the first job on
        for job_id in job_ids:  # jobs end one after the other, quicker than LOG_EVERY_S
            with sessions() as s:
                job = s.get(Job, job_id)
                job.status = WorkState.done
                s.add(job)
            logs.soon(run_id)
            await asyncio.sleep(0.01)
        assert logs.rewrites == 1  # the next rewrite waits until LOG_EVERY_S is up
        assert job_status(job_ids[-1]) == 'queued'
        started = asyncio.get_running_loop().time()
        await logs.flush()  # the pass ends: written now, not when LOG_EVERY_S is up
        assert asyncio.get_running_loop().time() - started < LOG_EVERY_S / 2
        assert logs.rewrites == 2

    asyncio.run(scenario())
    assert all(job_status(j) == 'done' for j in job_ids)


def test_a_run_never_written_by_this_pass_is_written_at_once(sessions, store, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run')).run_id

    async def scenario() -> int:
        logs = RunLogWriter(sessions, store)
        logs.soon(run_id)  # never written before: now
        await asyncio.sleep(0.05)
        return logs.rewrites

    assert asyncio.run(scenario()) == 1
