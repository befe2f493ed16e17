"""Paid calls against the OpenAI stand-in: one call for a job's candidates, its story in the log, its deadline."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlmodel import select

from models.base import ProviderKind, Stage, WorkState
from models.provider import ProviderAccountCreate
from models.runs import Candidate, CostEvent, Job, Run
from services.providers import accounts as provider_accounts
from services.providers.catalog import model_catalog, price
from services.runs import control as runs
from services.runs.executor import RunExecutor
from services.runs.log import run_log_path
from services.runs.plan import RunRequest, call_sizes
from services.security.secrets import KeyRing, MasterKey, SecretStore
from tests.fakes.openai_server import FakeOpenAIServer

SECRETS = SecretStore(KeyRing(MasterKey.from_bytes(b'c' * 32)))


def openai_account(sessions, base_url: str, **options) -> str:
    with sessions() as s:
        return provider_accounts.create_account(
            s,
            ProviderAccountCreate(
                name='openai-standin',
                kind=ProviderKind.openai,
                base_url=base_url,
                model='gpt-image-2',
                options={'concurrency': 4, 'quality': 'medium', 'max_retries': 4, 'retry_base_s': 0.05} | options,
                api_key='sk-test-good',
            ),
            secrets=SECRETS,
        ).id


def style_run(sessions, store, demo, account_id: str, *, candidates: int = 3, scenes: int = 3) -> str:
    with sessions() as s:
        scene_ids = [j.scene_id for j in runs.plan(s, demo, RunRequest(stage=Stage.style))[0].jobs][:scenes]
        req = RunRequest(
            stage=Stage.style,
            scene_ids=scene_ids,
            candidates=candidates,
            account_id=account_id,
            mode='run',
            confirm_spend=True,
        )
        return runs.start(s, demo, req, secrets=SECRETS, project_root=store.root(demo)).run_id


def drain(sessions, store, run_id: str) -> None:
    asyncio.run(RunExecutor(sessions=sessions, store=store, secrets=SECRETS).drain(run_id=run_id))


def test_call_sizes_split_evenly() -> None:
    assert call_sizes(3, 10) == [3] and call_sizes(3, 1) == [1, 1, 1]
    assert call_sizes(12, 10) == [6, 6] and call_sizes(7, 3) == [3, 2, 2] and call_sizes(0, 4) == []


def test_a_jobs_candidates_share_one_call_and_the_estimate_prices_it(sessions, store, demo) -> None:
    with FakeOpenAIServer(latency_s=0.2) as server:
        account = openai_account(sessions, server.base_url)
        run_id = style_run(sessions, store, demo, account)
        drain(sessions, store, run_id)
        requests = server.image_requests()
    assert len(requests) == 3  # 3 scenes × 3 candidates: one call per scene, not 9
    assert all(r.path == '/v1/images/edits' and r.fields['n'] == '3' and len(r.images) == 3 for r in requests)
    entry = model_catalog()['models']['gpt-image-2']
    with sessions() as s:
        run = s.get(Run, run_id)
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        costs = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()
        jobs = s.exec(select(Job).where(Job.run_id == run_id)).all()
    assert run.status == WorkState.done and len(cands) == 9 and all(c.status == WorkState.done for c in cands)
    assert len({c.asset_id for c in cands}) == 9  # each returned image is its own candidate
    assert {c.meta['state'] for c in costs} == {'billed'} and len({c.meta['call'] for c in costs}) == 3
    expected = sum(price(entry, 'medium', tuple(j.params['size']), 3, 3) for j in jobs)
    assert run.cost_estimate_usd == pytest.approx(expected) == pytest.approx(run.cost_actual_usd)
    one_by_one = sum(3 * price(entry, 'medium', tuple(j.params['size']), 1, 3) for j in jobs)
    assert run.cost_actual_usd < 0.6 * one_by_one  # inputs are paid once per call
    log = json.loads(run_log_path(store.root(demo), run_id).read_text())
    story = log['jobs'][0]['candidates'][0]['calls'][0]
    assert story['n'] == 3 and story['attempts'] == 1 and story['outcome'] == 'ok'
    assert story['tries'][0]['step'] == 'POST /v1/images/edits'


def test_a_failed_call_fails_its_candidates_together(sessions, store, demo) -> None:
    with FakeOpenAIServer() as server:
        server.fail_next(400, message='Your request was rejected by the safety system.', code='moderation_blocked')
        run_id = style_run(sessions, store, demo, openai_account(sessions, server.base_url), scenes=1)
        drain(sessions, store, run_id)
        assert len(server.image_requests()) == 1
    with sessions() as s:
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        costs = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()
    assert {c.status for c in cands} == {WorkState.failed} and len({c.error for c in cands}) == 1
    assert 'safety system' in cands[0].error and '(1 attempt)' in cands[0].error
    assert {c.meta['state'] for c in costs} == {'not billed'} and sum(c.amount_usd for c in costs) == 0


def test_the_log_tells_each_calls_story(sessions, store, demo) -> None:
    with FakeOpenAIServer() as server:
        server.fail_next(429, retry_after=0.1, message='Rate limit reached for images per minute', times=4)
        run_id = style_run(sessions, store, demo, openai_account(sessions, server.base_url), scenes=1)
        drain(sessions, store, run_id)
        assert [r.status for r in server.image_requests()] == [429, 429, 429, 429, 200]
    cand = json.loads(run_log_path(store.root(demo), run_id).read_text())['jobs'][0]['candidates'][0]
    assert cand['status'] == 'done' and cand['attempts'] == 5  # not 1 after four 429s
    tries = cand['calls'][0]['tries']
    assert [t['status'] for t in tries] == [429, 429, 429, 429, 'ok']
    assert all(t['wait_s'] >= 0.1 for t in tries[:4])


def test_the_failure_says_how_many_attempts_were_made(sessions, store, demo) -> None:
    with FakeOpenAIServer() as server:
        server.fail_next(503, times=10)
        account = openai_account(sessions, server.base_url, max_retries=2)
        run_id = style_run(sessions, store, demo, account, scenes=1, candidates=1)
        drain(sessions, store, run_id)
    cand = json.loads(run_log_path(store.root(demo), run_id).read_text())['jobs'][0]['candidates'][0]
    assert cand['status'] == 'failed' and 'gave up after 3 attempts' in cand['error'] and cand['attempts'] == 3


@pytest.mark.parametrize('mode', ['drip', 'hang'])
def test_a_call_past_its_deadline_fails_as_maybe_billed_and_the_run_ends(sessions, store, demo, mode: str) -> None:
    with FakeOpenAIServer() as server:
        server.stall_next(mode, path_prefix='/v1/images')
        account = openai_account(sessions, server.base_url, timeout_s=1)
        run_id = style_run(sessions, store, demo, account, scenes=1, candidates=2)
        started = time.monotonic()
        drain(sessions, store, run_id)
        assert time.monotonic() - started < 8  # QA and the log included
    with sessions() as s:
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        costs = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()
        assert s.get(Run, run_id).status == WorkState.failed
    assert all('no complete answer within 1 s' in c.error and 'billed' in c.error for c in cands)
    assert {c.meta['state'] for c in costs} == {'maybe billed'} and sum(c.amount_usd for c in costs) > 0
    log = json.loads(run_log_path(store.root(demo), run_id).read_text())
    assert log['run']['status'] == 'failed' and {c['state'] for c in log['costs']} == {'maybe billed'}
