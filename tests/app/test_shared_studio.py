"""Two `kroma worker` processes on PostgreSQL with project files on S3 (moto) share one queue; one is killed -9
mid-run. Every candidate is made exactly once (the calls in flight at the kill, and answers received but not yet
saved, fail as maybe billed and are made again only on Retry failed), every file is in the bucket with its
SHA-256, the account's limit held across both workers, and the dead worker's jobs went to the live one within the
lease."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from sqlmodel import select

from models.assets import Asset
from models.base import Stage, WorkState
from models.runs import Candidate, CostEvent, Job
from services.projects import projects
from services.runs import control as runs
from services.runs import queue as run_queue
from services.runs import status as run_status
from services.runs.plan import RunRequest
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.s3_server import S3Server
from tests.shared_studio import BUCKET, Studio, WorkerProcess, prepare

pytestmark = pytest.mark.slow

LEASE_S = 3.0
ACCOUNT_LIMIT = 3  # the account's limit; each worker alone would send 3 at once too, so only the database holds it
SCENES, CANDIDATES = 8, 5  # 40 candidates


def wait_for(check, timeout_s: float, what: str, step_s: float = 0.1, procs=()):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(step_s)
    logs = ' || '.join(' | '.join(p.stderr[-5:]) for p in procs)
    raise AssertionError(f'timed out after {timeout_s:.0f} s waiting for {what}; worker logs: {logs}')


def test_two_workers_share_a_run_and_a_killed_one_loses_nothing(pg_cluster, tmp_path: Path) -> None:
    with S3Server() as s3, FakeOpenAIServer(latency_s=0.4) as openai:
        s3.create_bucket(BUCKET)
        studio = Studio(db_url=pg_cluster.new_database(), base=tmp_path, s3_endpoint=s3.endpoint_url, lease_s=LEASE_S)
        deps = studio.deps()
        account_id = prepare(deps, scenes_total=SCENES, base_url=openai.base_url, concurrency=ACCOUNT_LIMIT)
        procs = [WorkerProcess(studio, f'machine-{i}', '--concurrency', str(ACCOUNT_LIMIT)) for i in (1, 2)]
        try:
            ids = [p.wait_ready() for p in procs]
            with deps.sessions() as s:
                project = projects.get_project(s, 'demo')
                req = RunRequest(
                    stage=Stage.style, candidates=CANDIDATES, account_id=account_id, mode='run', confirm_spend=True
                )
                run_id = runs.start(s, project, req, secrets=deps.secrets).run_id

            seen: set[str] = set()  # workers the studio's progress view showed holding a job

            def busy_worker() -> str:
                with deps.sessions() as s:
                    progress = run_status.run_progress(s, project.id, run_id)
                holding = [j.worker for j in progress.jobs if j.status == 'running' and j.worker in ids]
                seen.update(holding)
                return holding[0] if progress.run.done >= 10 and len(seen) == 2 and holding else ''

            held_by = wait_for(
                busy_worker, 60, 'both workers seen at work and 10 candidates done', procs=procs, step_s=0.05
            )
            victim, survivor = (procs[0], procs[1]) if held_by == procs[0].id else (procs[1], procs[0])
            victim.kill()
            killed_at = time.monotonic()

            def reclaimed() -> bool:
                with deps.sessions() as s:
                    jobs = s.exec(select(Job).where(Job.run_id == run_id)).all()
                return not any(j.claimed_by == victim.id for j in jobs)

            wait_for(reclaimed, LEASE_S * 4, 'the dead worker’s jobs to be reclaimed', step_s=0.05, procs=procs)
            reclaim_s = time.monotonic() - killed_at
            wait_for(lambda: _settled(deps, project.id, run_id), 90, 'the run to settle', procs=procs)
            with deps.sessions() as s:
                maybe = s.exec(
                    select(Candidate).where(Candidate.run_id == run_id, Candidate.status == WorkState.failed)
                ).all()
                assert all('in flight when worker' in c.error or 'was in flight' in c.error for c in maybe), [
                    c.error for c in maybe
                ]
                retried = run_queue.requeue(s, project.id, run_id, failed_only=True)  # the artist's Retry failed
            # at risk at the kill: the victim's calls at the provider (each holds one of the account's slots) and
            # answers it had received but not yet saved (their slots already went to the next calls)
            assert retried == len(maybe) <= 2 * ACCOUNT_LIMIT
            wait_for(lambda: _settled(deps, project.id, run_id), 60, 'the retried candidates', procs=procs)
        finally:
            for p in procs:
                p.stop()
        assert survivor.proc.returncode == 0, survivor.stderr[-20:]  # stopped gently by SIGTERM

        with deps.sessions() as s:
            cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
            assets = {a.id: a for a in s.exec(select(Asset).where(Asset.kind == 'candidate')).all()}
            events = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()
            progress = run_status.run_progress(s, project.id, run_id)
        assert len(cands) == SCENES * CANDIDATES == 40
        assert all(c.status == WorkState.done and c.asset_id in assets for c in cands)
        assert len(assets) == 40 and {a.meta['candidate_id'] for a in assets.values()} == {c.id for c in cands}
        billed = [e for e in events if e.meta['state'] == 'billed']
        assert sorted(e.candidate_id for e in billed) == sorted(c.id for c in cands)  # each made and paid once
        extra = [(e.candidate_id, e.meta) for e in events if e.meta['state'] != 'billed']
        assert len(events) == 40 + retried, extra
        assert 40 <= len(openai.image_requests()) <= 40 + retried  # a call killed before it left is counted too
        assert openai.max_in_flight <= ACCOUNT_LIMIT  # two workers of 3 each, one account of 3
        assert progress.run.status == WorkState.done and progress.run.done == 40
        assert reclaim_s < LEASE_S * 2, f'reclaimed {reclaim_s:.1f} s after the kill (lease {LEASE_S} s)'
        client = s3.client()
        for a in assets.values():
            body = client.get_object(Bucket=BUCKET, Key=f'studio/demo/{a.path}')['Body'].read()
            assert hashlib.sha256(body).hexdigest() == a.sha256


def _settled(deps, project_id: str, run_id: str) -> bool:  # noqa: ANN001
    with deps.sessions() as s:
        return run_status.run_progress(s, project_id, run_id).run.status in (WorkState.done, WorkState.failed)
