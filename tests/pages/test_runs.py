"""J04 in the UI: see the plan with prompts and cost, start a run, watch it finish."""

from __future__ import annotations

import asyncio

from nicegui.testing import User
from sqlmodel import select

from models.runs import Run
from pages import register_all
from services.projects.demo import ensure_demo
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor


async def test_plan_then_run_from_the_page(user: User, deps) -> None:
    ensure_demo(deps.sessions, deps.store)
    register_all(deps)
    await user.open('/projects/demo')
    await user.open('/runs')
    user.find('show-plan').click()
    await user.should_see('Estimated cost: free (offline renderer)')
    await user.should_see('Launch pad')
    assert len(user.find('plan-job').elements) == 3
    user.find('run-mode').elements.pop().value = 'run'
    user.find('start-run').click()
    await user.should_see(marker='run-progress')
    with deps.sessions() as s:
        run = s.exec(select(Run)).one()
    await asyncio.to_thread(
        lambda: asyncio.run(RunExecutor(sessions=deps.sessions, store=deps.store, qa=CandidateQA(deps.store)).drain())
    )
    await user.should_see('9/9 candidates', retries=20)
    assert len(user.find('candidate-thumb').elements) == 9
    assert run.stage.value == 'style'


def test_a_run_whose_candidates_are_all_in_says_it_is_checking_qa() -> None:
    from components.run_views import shown_status

    assert shown_status('running', 2, 1, 3) == 'checking QA'
    assert shown_status('running', 1, 0, 3) == 'running'
    assert shown_status('done', 3, 0, 3) == 'done'
    assert shown_status('running', 0, 0, 0) == 'running'


async def test_the_run_page_says_why_a_job_failed_before_any_call(user: User, deps) -> None:
    from models.base import ProviderKind, Stage
    from models.provider import ProviderAccountCreate
    from services.projects import projects
    from services.providers import accounts as provider_accounts
    from services.runs import control as runs
    from services.runs.plan import RunRequest
    from services.security.secrets import KeyRing, MasterKey, SecretStore

    ensure_demo(deps.sessions, deps.store)
    register_all(deps)
    written_with = SecretStore(KeyRing(MasterKey.from_bytes(b'w' * 32)))
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
        account = provider_accounts.create_account(
            s,
            ProviderAccountCreate(
                name='paid', kind=ProviderKind.openai, base_url='http://127.0.0.1:9', api_key='sk-test-good'
            ),
            secrets=written_with,
        )
        req = RunRequest(stage=Stage.style, candidates=1, account_id=account.id, mode='run', confirm_spend=True)
        run_id = runs.start(s, demo, req).run_id
    other_key = SecretStore(KeyRing(MasterKey.from_bytes(b'o' * 32)))
    await asyncio.to_thread(
        lambda: asyncio.run(RunExecutor(sessions=deps.sessions, store=deps.store, secrets=other_key).drain())
    )
    await user.open(f'/runs/{run_id}')
    await user.should_see('failed')
    await user.should_see(f'was encrypted with key {written_with.current_key_ref}, which is not configured')
