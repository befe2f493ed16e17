"""Claims on PostgreSQL skip rows another worker is claiming (SELECT … FOR UPDATE SKIP LOCKED): two workers in the
middle of their claim transactions take different jobs at once, neither waits for the other."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlmodel import select

from models.base import Stage, WorkState, utcnow
from models.runs import Candidate, CostEvent, Job
from services.runs import control as runs
from services.runs import leases
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


@pytest.mark.both_databases
def test_a_call_in_flight_when_its_worker_died_is_not_made_again_by_the_next_claim(sessions, demo) -> None:
    """Reclaiming fails the candidate whose paid call was out (maybe billed); the worker that claims the job next
    starts only the others, so nothing is paid twice unless the artist chooses Retry failed."""
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=3, mode='run')).run_id
        job_id = run_queue.claim_job(s, 'dead:1:x:b', run_id=run_id)
        first, *others = run_queue.start_candidates(s, job_id)
        s.add(
            CostEvent(
                project_id=demo.id,
                run_id=run_id,
                job_id=job_id,
                candidate_id=first.id,
                amount_usd=0.04,
                meta={'state': 'sent'},
            )
        )
    with sessions() as s:
        assert leases.reclaim_expired(s, now=utcnow() + timedelta(seconds=run_queue.LEASE_S + 1)) == [run_id]
    with sessions() as s:
        assert run_queue.claim_job(s, 'live:2:y:b', run_id=run_id) == job_id
        assert [c.id for c in run_queue.start_candidates(s, job_id)] == [c.id for c in others]
        failed = s.get(Candidate, first.id)
        assert failed.status == WorkState.failed and 'in flight when worker dead:1:x:b stopped' in failed.error
        assert s.exec(select(CostEvent).where(CostEvent.candidate_id == first.id)).one().meta['state'] == 'maybe billed'


@pytest.mark.both_databases
def test_a_worker_learns_which_jobs_were_taken_over_but_not_those_it_just_finished(sessions, demo) -> None:
    """The heartbeat's question: a finished job is not lost; one queued again or claimed by another worker is."""
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run')).run_id
        finished, requeued, stolen = run_queue.claim_jobs(s, 'me:1:x:b', run_id=run_id, limit=3)
        run_queue.start_candidates(s, finished)
        for cand in run_queue.pending_candidates(s, finished):
            cand.status = WorkState.done
            s.add(cand)
        run_queue.finish_job(s, finished)
    with sessions() as s:
        assert leases.reclaim_expired(s, now=utcnow() + timedelta(seconds=run_queue.LEASE_S + 1)) == [run_id]
        assert set(run_queue.claim_jobs(s, 'other:2:y:b', run_id=run_id, limit=1)) <= {requeued, stolen}
    with sessions() as s:
        jobs = [finished, requeued, stolen]
        assert leases.renew_leases(s, 'me:1:x:b', jobs) == set()
        assert leases.taken_over(s, 'me:1:x:b', jobs) == {requeued, stolen}
