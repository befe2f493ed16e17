"""A budget that holds: queued and running runs reserve their estimate, and each paid call is checked again."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from models.base import ProviderKind, Stage, WorkState
from models.project import ProjectUpdate
from models.provider import ProviderAccountCreate
from models.runs import Candidate, CostEvent, Run
from services.errors import PolicyRefused
from services.projects import projects
from services.providers import accounts as provider_accounts
from services.runs import budget
from services.runs import control as runs
from services.runs import queue as run_queue
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from services.security.secrets import KeyRing, MasterKey, SecretStore
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


SECRETS = SecretStore(KeyRing(MasterKey.from_bytes(b'b' * 32)))


def paid_request(sessions, base_url: str, **kw) -> RunRequest:
    with sessions() as s:
        account = provider_accounts.create_account(
            s,
            ProviderAccountCreate(
                name='paid',
                kind=ProviderKind.openai,
                base_url=base_url,
                model='gpt-image-2',
                options={'quality': 'high', 'concurrency': 2},
                api_key='sk-test-good',
            ),
            secrets=SECRETS,
        )
    return RunRequest(stage=Stage.style, candidates=3, account_id=account.id, mode='run', confirm_spend=True, **kw)


def set_budget(sessions, usd: float):  # noqa: ANN201
    with sessions() as s:
        projects.update_project(s, 'demo', ProjectUpdate(budget_usd=usd))
        return projects.get_project(s, 'demo')


def test_queued_runs_reserve_their_estimate(sessions, demo) -> None:
    req = paid_request(sessions, 'http://127.0.0.1:9')
    with sessions() as s:
        estimate = runs.plan(s, demo, req)[0].total_cost_usd
    project = set_budget(sessions, round(estimate * 1.2, 2))  # room for one run, not two
    with sessions() as s:
        first = runs.start(s, project, req).run_id
    for _ in range(2):
        with sessions() as s, pytest.raises(PolicyRefused, match='reserved by 1 queued or running run') as refused:
            runs.start(s, project, req)
        assert refused.value.code == 'budget_exceeded'
    with sessions() as s:
        view = budget.budget_view(s, demo.id)
        assert view.reserved_usd == pytest.approx(estimate) and view.reserving_runs == 1
        plan = runs.plan(s, project, req)[0]
        assert plan.remaining_budget_usd == pytest.approx(project.budget_usd - estimate)
        run_queue.cancel_run(s, demo.id, first)  # an ended run reserves nothing
    with sessions() as s:
        assert runs.start(s, project, req).run_id


def test_the_engine_checks_the_budget_before_each_paid_call(sessions, store, demo) -> None:
    with FakeOpenAIServer() as server:
        req = paid_request(sessions, server.base_url)
        with sessions() as s:
            plan = runs.plan(s, demo, req)[0]
            run_id = runs.start(s, demo, req).run_id
        per_call = plan.jobs[0].cost_usd
        set_budget(sessions, per_call * 1.5)  # lowered after the run was queued: one call fits, not two
        asyncio.run(
            RunExecutor(sessions=sessions, store=store, secrets=SECRETS, max_parallel_jobs=1).drain(run_id=run_id)
        )
        assert len(server.image_requests()) == 1
    with sessions() as s:
        spent = budget.spent(s, demo.id)
        cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
        assert spent == pytest.approx(per_call) and spent <= per_call * 1.5
        refused = [c for c in cands if c.status == WorkState.failed]
        assert len(refused) == 6 and all('past its $' in c.error and 'Nothing was sent' in c.error for c in refused)
        assert all(c.calls[-1]['outcome'] == 'refused' and c.calls[-1]['attempts'] == 0 for c in refused)
        assert s.get(Run, run_id).status == WorkState.failed
        assert len(s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()) == 3  # the one call's shares


def test_three_queued_runs_never_spend_past_the_budget(sessions, store, demo) -> None:
    """Runs squeezed in past the start-time guard (the budget lowered, or rows written by an older version) still
    cannot spend together more than the budget: every call is admitted against what is spent and reserved."""
    with FakeOpenAIServer() as server:
        req = paid_request(sessions, server.base_url, scene_ids=None)
        with sessions() as s:
            run_ids = [runs.start(s, demo, req).run_id for _ in range(3)]
            estimate = s.get(Run, run_ids[0]).cost_estimate_usd
        set_budget(sessions, estimate * 1.5)
        asyncio.run(RunExecutor(sessions=sessions, store=store, secrets=SECRETS).drain())
        calls = len(server.image_requests())
    with sessions() as s:
        assert budget.spent(s, demo.id) <= estimate * 1.5 + 1e-9
        assert all(s.get(Run, r).status in (WorkState.done, WorkState.failed) for r in run_ids)
        assert s.get(Run, run_ids[0]).status == WorkState.done  # the oldest run's reservation comes first
    assert 3 <= calls < 9


def test_a_free_run_needs_no_spend_confirmation(sessions, demo) -> None:
    with sessions() as s:
        account = provider_accounts.create_account(
            s, ProviderAccountCreate(name='gpu-box', kind=ProviderKind.comfyui, model='sdxl_comic.safetensors')
        )
        req = RunRequest(stage=Stage.style, candidates=2, account_id=account.id, mode='run')
        started = runs.start(s, demo, req)  # own hardware, $0.00: no confirmation asked
        assert started.plan.total_cost_usd == 0 and not started.plan.provider_offline
        assert s.get(Run, started.run_id).status == WorkState.queued
