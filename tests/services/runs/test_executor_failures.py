"""Failures say why and stay in their job: load errors, unexpected exceptions, a wrong master key, dead workers."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

from sqlmodel import select

from models.base import ProviderKind, Stage, WorkState
from models.provider import ProviderAccountCreate
from models.runs import Candidate, Job, Run
from services.providers import accounts as provider_accounts
from services.providers.base import GenerationRequest, ProviderConfig
from services.providers.registry import build_provider
from services.runs import control as runs
from services.runs import leases
from services.runs.executor import RunExecutor
from services.runs.log import run_log_path
from services.runs.plan import RunRequest
from services.security.secrets import KeyRing, MasterKey, SecretStore
from tests.fakes.openai_server import FakeOpenAIServer

SECRETS = SecretStore(KeyRing(MasterKey.from_bytes(b'f' * 32)))


def offline_run(sessions, store, demo, candidates: int = 1) -> str:
    with sessions() as s:
        req = RunRequest(stage=Stage.style, candidates=candidates, mode='run')
        return runs.start(s, demo, req, project_root=store.root(demo)).run_id


def run_log(store, demo, run_id: str) -> dict:
    return json.loads(run_log_path(store.root(demo), run_id).read_text())


def test_an_unexpected_exception_fails_its_job_alone(sessions, store, demo, caplog) -> None:
    run_id = offline_run(sessions, store, demo)

    def exploding_for_the_cafe(config: ProviderConfig):  # noqa: ANN202
        provider = build_provider(ProviderConfig(kind='local', name='offline', options={'concurrency': 4}))
        generate = provider.generate

        async def maybe_explode(request: GenerationRequest):  # noqa: ANN202
            if 'café' in request.prompt.lower():
                raise ZeroDivisionError('the renderer divided by zero')
            return await generate(request)

        provider.generate = maybe_explode
        return provider

    caplog.set_level(logging.ERROR)
    executor = RunExecutor(sessions=sessions, store=store, provider_factory=exploding_for_the_cafe)
    assert asyncio.run(executor.drain(run_id=run_id)) == 3  # the pass went on
    with sessions() as s:
        jobs = {j.params['scene']: j for j in s.exec(select(Job).where(Job.run_id == run_id))}
        failed = s.exec(select(Candidate).where(Candidate.job_id == jobs['Café table'].id)).one()
        assert s.get(Run, run_id).status == WorkState.failed
    assert jobs['Launch pad'].status == jobs['Night street'].status == WorkState.done  # siblings finished
    assert jobs['Café table'].status == WorkState.failed
    assert 'ZeroDivisionError: the renderer divided by zero' in failed.error
    assert 'ZeroDivisionError' in caplog.text  # with its traceback in the log
    assert run_log(store, demo, run_id)['run']['status'] == 'failed'


def test_a_load_error_fails_every_job_with_its_reason_and_the_log_says_so(sessions, store, demo) -> None:
    run_id = offline_run(sessions, store, demo)

    def broken_factory(config: ProviderConfig):  # noqa: ANN202
        raise RuntimeError('the adapter could not start')

    asyncio.run(RunExecutor(sessions=sessions, store=store, provider_factory=broken_factory).drain(run_id=run_id))
    log = run_log(store, demo, run_id)
    assert log['run']['status'] == 'failed'  # never left `queued`
    assert all(j['status'] == 'failed' and 'while loading the job' in j['error'] for j in log['jobs'])
    assert all('RuntimeError: the adapter could not start' in c['error'] for j in log['jobs'] for c in j['candidates'])


def test_a_wrong_master_key_fails_the_run_before_any_call(sessions, store, demo) -> None:
    with FakeOpenAIServer() as server:
        with sessions() as s:
            account = provider_accounts.create_account(
                s,
                ProviderAccountCreate(
                    name='paid', kind=ProviderKind.openai, base_url=server.base_url, api_key='sk-test-good'
                ),
                secrets=SECRETS,
            )
            req = RunRequest(stage=Stage.style, candidates=2, account_id=account.id, mode='run', confirm_spend=True)
            run_id = runs.start(s, demo, req, project_root=store.root(demo)).run_id
        other_key = SecretStore(KeyRing(MasterKey.from_bytes(b'o' * 32)))
        asyncio.run(RunExecutor(sessions=sessions, store=store, secrets=other_key).drain(run_id=run_id))
        assert server.requests == []
    log = run_log(store, demo, run_id)
    assert log['run']['status'] == 'failed'
    ref = SECRETS.current_key_ref
    assert all(f'encrypted with key {ref}, which is not configured' in j['error'] for j in log['jobs'])


def test_a_live_worker_keeps_its_jobs_by_renewing_their_leases(sessions, store, demo) -> None:
    with FakeOpenAIServer(latency_s=2.5) as server:
        with sessions() as s:
            account = provider_accounts.create_account(
                s,
                ProviderAccountCreate(
                    name='slow',
                    kind=ProviderKind.openai,
                    base_url=server.base_url,
                    options={'concurrency': 3},
                    api_key='sk-test-good',
                ),
                secrets=SECRETS,
            )
            req = RunRequest(stage=Stage.style, candidates=1, account_id=account.id, mode='run', confirm_spend=True)
            run_id = runs.start(s, demo, req).run_id
        # a call outlives the 1 s lease twice over; a renewal (every third of it) may be 0.6 s late on a busy machine
        executor = RunExecutor(sessions=sessions, store=store, secrets=SECRETS, lease_s=1.0)
        worker = threading.Thread(target=lambda: asyncio.run(executor.drain(run_id=run_id)))
        worker.start()
        reclaimed = []
        while worker.is_alive():  # another process looking for dead workers' jobs all the while
            with sessions() as s:
                reclaimed += leases.reclaim_expired(s)
            time.sleep(0.05)
        worker.join()
        assert reclaimed == [] and len(server.image_requests()) == 3
    with sessions() as s:
        assert s.get(Run, run_id).status == WorkState.done
