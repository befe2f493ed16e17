"""The executor's scheduling: cancel reaches queued calls, finished candidates share commits, bad images are caught."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from models.base import ProviderKind, Stage, WorkState, utcnow
from models.project import ProjectCreate
from models.provider import ProviderAccountCreate, ProviderAccountUpdate
from models.runs import Candidate, CostEvent, Job, Run
from services.db_writer import SerialWriter
from services.errors import Conflict
from services.projects import projects
from services.providers import accounts as provider_accounts
from services.providers.base import GeneratedImage, GenerationRequest, HealthResult, ProviderConfig
from services.runs import control as runs
from services.runs import leases
from services.runs import queue as run_queue
from services.runs import status as run_status
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from services.security.secrets import KeyRing, MasterKey, SecretStore
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


SECRETS = SecretStore(KeyRing(MasterKey.from_bytes(b'k' * 32)))


def paid_run(sessions, demo, base_url: str, *, candidates: int, concurrency: int = 1, max_n: int = 10) -> str:
    """A confirmed paid run of the first demo scene against an OpenAI-compatible server (max_n=1: a call each)."""
    with sessions() as s:
        account = provider_accounts.create_account(
            s,
            ProviderAccountCreate(
                name='fake',
                kind=ProviderKind.openai,
                base_url=base_url,
                model='gpt-image-2',
                options={'concurrency': concurrency, 'quality': 'low', 'max_n': max_n},
                api_key='sk-test-good',
            ),
            secrets=SECRETS,
        )
        scene_id = runs.plan(s, demo, RunRequest(stage=Stage.style))[0].jobs[0].scene_id
        req = RunRequest(
            stage=Stage.style,
            scene_ids=[scene_id],
            candidates=candidates,
            account_id=account.id,
            mode='run',
            confirm_spend=True,
        )
        return runs.start(s, demo, req, secrets=SECRETS).run_id


def test_cancel_stops_candidates_still_waiting_for_a_slot(sessions, store, demo) -> None:
    with FakeOpenAIServer(latency_s=0.6) as server:
        run_id = paid_run(sessions, demo, server.base_url, candidates=3, concurrency=1, max_n=1)
        executor = RunExecutor(sessions=sessions, store=store, secrets=SECRETS)
        worker = threading.Thread(target=lambda: asyncio.run(executor.drain(run_id=run_id)))
        worker.start()
        deadline = time.monotonic() + 20
        while server.max_in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        with sessions() as s:
            run_queue.cancel_run(s, demo.id, run_id)  # the first call is in flight, two wait for the one slot
        worker.join(30)
        assert not worker.is_alive()
        assert len(server.image_requests()) == 1  # the waiting candidates never reached the provider
    with sessions() as s:
        states = sorted(c.status for c in s.exec(select(Candidate).where(Candidate.run_id == run_id)))
        assert states == [WorkState.canceled, WorkState.canceled, WorkState.done]  # the paid image is kept
        assert s.get(Run, run_id).status == WorkState.canceled
        costs = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()
        assert [c.meta['state'] for c in costs] == ['billed']  # one call went out, one was paid for


def test_candidates_finishing_together_share_one_commit(sessions, store, demo) -> None:
    with FakeOpenAIServer(latency_s=0.2) as server:
        run_id = paid_run(sessions, demo, server.base_url, candidates=4, concurrency=4, max_n=1)
        executor = RunExecutor(sessions=sessions, store=store, secrets=SECRETS)
        asyncio.run(executor.drain(run_id=run_id))
        assert server.max_in_flight <= 4
    with sessions() as s:
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        assert all(c.status == WorkState.done and c.asset_id and c.qa_summary['sha256'] for c in cands)
        costs = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()
        assert sorted(c.candidate_id for c in costs) == sorted(c.id for c in cands)
        assert {c.meta['state'] for c in costs} == {'billed'} and all(c.amount_usd > 0 for c in costs)
    assert executor.stats.candidates == 4 and len(executor.stats.commit_latency_s) == 4


class GarbageProvider:
    """A paid provider that answers with bytes that are not an image."""

    kind, is_offline = 'openai', False

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    async def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        return [GeneratedImage(data=b'<html>503 from a proxy</html>', seed=request.seed)]

    def estimate_cost(self, request: GenerationRequest) -> float:
        return 0.05

    async def health(self) -> HealthResult:
        return HealthResult(True, 'ok')


def test_an_unusable_image_fails_its_candidate_and_keeps_its_cost(sessions, store, demo) -> None:
    run_id = paid_run(sessions, demo, 'http://127.0.0.1:9', candidates=2)
    executor = RunExecutor(sessions=sessions, store=store, secrets=SECRETS, provider_factory=GarbageProvider)
    asyncio.run(executor.drain(run_id=run_id))
    with sessions() as s:
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        assert {c.status for c in cands} == {WorkState.failed}
        assert all('unusable image' in c.error and 'not a readable' in c.error for c in cands)
        costs = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()
        assert [round(c.amount_usd, 2) for c in costs] == [0.05, 0.05]  # paid for, even though unusable
        assert s.get(Run, run_id).status == WorkState.failed


def project_writer(data_dir):  # noqa: ANN201
    def create_projects(s, names: list[str]) -> None:
        for name in names:
            projects.create_project(s, ProjectCreate(name=name, slug=name.lower()), data_dir=data_dir)

    return create_projects


def test_writer_groups_queued_writes_and_isolates_a_bad_one(sessions, data_dir) -> None:
    create_projects = project_writer(data_dir)

    async def main() -> list:
        writer = SerialWriter(sessions)
        first = await asyncio.gather(*(writer.grouped(create_projects, n) for n in ('Alpha', 'Beta', 'Gamma')))
        second = await asyncio.gather(
            *(writer.grouped(create_projects, n) for n in ('Delta', 'Alpha', 'Epsilon')), return_exceptions=True
        )
        alone = await asyncio.gather(writer.grouped(create_projects, 'Beta'), return_exceptions=True)
        return [writer.batches, first, second, alone]

    batches, first, second, alone = asyncio.run(main())
    assert batches == [3, 3, 1] and first == [None, None, None]  # three writes, one transaction
    assert second[0] is None and second[2] is None and isinstance(second[1], Conflict)  # the others still landed
    assert isinstance(alone[0], Conflict)
    with sessions() as s:
        assert {r.project.slug for r in projects.list_projects(s)} == {'alpha', 'beta', 'gamma', 'delta', 'epsilon'}


def test_writer_runs_one_write_at_a_time(sessions) -> None:
    active, peak = 0, 0

    def slow(s, label: str) -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        time.sleep(0.02)
        active -= 1
        return label

    async def main() -> list[str]:
        writer = SerialWriter(sessions)
        return await asyncio.gather(*(writer.run(slow, str(i)) for i in range(5)))

    assert asyncio.run(main()) == ['0', '1', '2', '3', '4'] and peak == 1


def test_a_missing_input_file_fails_its_job_and_the_rest_still_run(sessions, store, demo) -> None:
    from models.assets import Asset

    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run')).run_id
        first = s.exec(select(Job).where(Job.run_id == run_id, Job.index == 0)).one()
        scene_asset = s.get(Asset, next(i['asset_id'] for i in first.inputs if i['role'] == 'scene'))
        store.path_of(demo, scene_asset).unlink()  # deleted behind the studio's back
    asyncio.run(RunExecutor(sessions=sessions, store=store).drain(run_id=run_id))
    with sessions() as s:
        jobs = s.exec(select(Job).where(Job.run_id == run_id).order_by(Job.index)).all()
        assert [j.status for j in jobs] == [WorkState.failed, WorkState.done, WorkState.done]
        assert 'could not be read' in jobs[0].error
        failed = s.exec(select(Candidate).where(Candidate.job_id == jobs[0].id)).one()
        assert failed.status == WorkState.failed and 'could not be read' in failed.error


def test_every_paid_call_has_a_cost_event_with_its_outcome(sessions, store, demo) -> None:
    with FakeOpenAIServer(latency_s=0.1) as server:
        server.fail_next(400, message='Your request was rejected by the safety system.', code='moderation_blocked')
        run_id = paid_run(sessions, demo, server.base_url, candidates=2, max_n=1)
        asyncio.run(RunExecutor(sessions=sessions, store=store, secrets=SECRETS).drain(run_id=run_id))
        assert len(server.image_requests()) == 2
    with sessions() as s:
        costs = {c.candidate_id: c for c in s.exec(select(CostEvent).where(CostEvent.run_id == run_id))}
        cands = {c.index: c for c in s.exec(select(Candidate).where(Candidate.run_id == run_id))}
        refused, made = costs[cands[0].id], costs[cands[1].id]
        assert cands[0].status == WorkState.failed and 'safety system' in cands[0].error
        assert refused.meta | {'call': ''} == {
            'state': 'not billed',
            'error': 'provider_bad_request',
            'n': 1,
            'call': '',
        }
        assert refused.amount_usd == 0
        assert made.meta['state'] == 'billed' and made.amount_usd > 0 and made.meta['call'] != refused.meta['call']
        assert s.get(Run, run_id).cost_actual_usd == made.amount_usd


def test_a_call_that_timed_out_after_sending_counts_as_maybe_billed(sessions, store, demo) -> None:
    with FakeOpenAIServer(latency_s=2.5) as server:
        run_id = paid_run(sessions, demo, server.base_url, candidates=1)
        with sessions() as s:
            account = s.get(Run, run_id).provider_account_id
            provider_accounts.update_account(
                s, account, ProviderAccountUpdate(options={'concurrency': 1, 'timeout_s': 1, 'quality': 'low'})
            )
        asyncio.run(RunExecutor(sessions=sessions, store=store, secrets=SECRETS).drain(run_id=run_id))
    with sessions() as s:
        cand = s.exec(select(Candidate).where(Candidate.run_id == run_id)).one()
        cost = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).one()
        assert cand.status == WorkState.failed and 'may still have been processed and billed' in cand.error
        assert cost.meta['state'] == 'maybe billed' and cost.amount_usd > 0  # never silently free
        progress = run_status.run_progress(s, demo.id, run_id)
        assert progress.spent_usd == progress.maybe_billed_usd == round(cost.amount_usd, 4)


def test_a_dead_workers_call_in_flight_is_maybe_billed_and_not_sent_again(sessions, store, demo) -> None:
    run_id = paid_run(sessions, demo, 'http://127.0.0.1:9', candidates=2, max_n=1)
    with sessions() as s:
        job_id = run_queue.claim_job(s, 'gone-host:1:x', run_id=run_id)
        sent, waiting = run_queue.start_candidates(s, job_id)
        s.add(
            CostEvent(
                project_id=demo.id,
                run_id=run_id,
                job_id=job_id,
                candidate_id=sent.id,
                amount_usd=0.04,
                meta={'state': 'sent'},
            )
        )  # written, then the process died mid-call
    with sessions() as s:
        assert leases.reclaim_expired(s) == []  # its lease still runs: nobody takes the job yet
        later = utcnow() + timedelta(seconds=run_queue.LEASE_S + 1)
        assert leases.reclaim_expired(s, now=later) == [run_id]
    with sessions() as s:
        event = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).one()
        assert event.meta['state'] == 'maybe billed'
        assert s.get(Candidate, sent.id).status == WorkState.failed and 'in flight' in s.get(Candidate, sent.id).error
        assert s.get(Candidate, waiting.id).status == WorkState.queued  # never sent: it is made by the next worker
        assert s.get(Job, job_id).status == WorkState.queued and s.get(Job, job_id).claimed_by is None
