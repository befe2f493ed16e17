"""Claims on PostgreSQL skip rows another worker is claiming (SELECT … FOR UPDATE SKIP LOCKED): two workers in the
middle of their claim transactions take different jobs at once, neither waits for the other."""

from __future__ import annotations

import time

import pytest
from sqlmodel import select

from models.base import Stage, WorkState
from models.runs import Job
from services.runs import control as runs
from services.runs import queue as run_queue
from services.runs.plan import RunRequest


@pytest.mark.parametrize('database', ['postgresql'], indirect=True)
def test_two_open_claims_take_different_jobs_without_waiting(sessions, demo) -> None:
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run')).run_id
    with sessions() as a:
        mine = run_queue.claim_jobs(a, 'a:1:x:b', limit=2)  # not committed yet: its rows stay locked
        started = time.perf_counter()
        with sessions() as b:
            theirs = run_queue.claim_jobs(b, 'b:2:y:b', limit=2)
        waited = time.perf_counter() - started
    assert len(mine) == 2 and len(theirs) == 1 and not set(mine) & set(theirs)
    assert waited < 1.0
    with sessions() as s:
        jobs = s.exec(select(Job).where(Job.run_id == run_id)).all()
        assert {j.claimed_by for j in jobs} == {'a:1:x:b', 'b:2:y:b'}
        assert all(j.status == WorkState.running for j in jobs)


@pytest.mark.both_databases
def test_a_worker_serving_some_stages_claims_only_those(sessions, demo) -> None:
    with sessions() as s:
        runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run'))
        assert run_queue.claim_jobs(s, 'w', stages=['character']) == []
        assert len(run_queue.claim_jobs(s, 'w', stages=['style', 'character'], limit=5)) == 3
