"""J04 in the UI: plan with no calls, see that it is a plan and its cost, start it in one click, watch it finish;
the time stage shows and follows each scene's own time."""

from __future__ import annotations

import asyncio

from nicegui.testing import User
from sqlmodel import select

from models.base import WorkState
from models.project import ProjectUpdate
from models.provider import ProviderAccountCreate
from models.runs import Job, Run
from pages import register_all
from services.projects import projects
from services.projects.demo import ensure_demo
from services.providers import accounts
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor


def drain(deps) -> None:  # noqa: ANN001
    asyncio.run(RunExecutor(sessions=deps.sessions, store=deps.store, qa=CandidateQA(deps.store)).drain())


async def test_plan_then_start_the_plan_from_its_page(user: User, deps) -> None:
    ensure_demo(deps.sessions, deps.store)
    register_all(deps)
    await user.open('/projects/demo')
    await user.open('/runs')
    await user.should_see('Plan (no calls)')
    user.find('show-plan').click()
    await user.should_see('This is a plan: nothing has been generated or paid yet.')
    await user.should_see('estimated cost: free (offline renderer)')
    assert len(user.find('plan-line').elements) == 3
    with deps.sessions() as s:
        run = s.exec(select(Run)).one()
        assert run.status == WorkState.planned
    user.find('start-plan').click()
    await user.should_see(marker='run-progress')
    with deps.sessions() as s:
        assert s.get(Run, run.id).status == WorkState.queued
    await asyncio.to_thread(drain, deps)
    await user.open(f'/runs/{run.id}')
    await user.should_see('9/9 candidates', retries=20)
    assert len(user.find('candidate-thumb').elements) == 9


async def test_start_run_goes_straight_to_the_queue(user: User, deps) -> None:
    ensure_demo(deps.sessions, deps.store)
    register_all(deps)
    await user.open('/projects/demo')
    await user.open('/runs')
    user.find('start-run').click()
    await user.should_see(marker='run-progress')
    with deps.sessions() as s:
        assert s.exec(select(Run)).one().status == WorkState.queued
    await user.should_not_see('This is a plan')


async def test_the_provider_defaults_to_the_projects_default_or_the_offline_renderer(user: User, deps) -> None:
    ensure_demo(deps.sessions, deps.store)
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
        comfy = accounts.create_account(
            s, ProviderAccountCreate(name='A comfy box', kind='comfyui'), project_id=demo.id
        )
        local = next(a for a in accounts.list_accounts(s, project_id=demo.id) if a.kind.value == 'local')
    register_all(deps)
    await user.open('/projects/demo')
    await user.open('/runs')
    assert user.find('run-provider').elements.pop().value == local.id  # not the ComfyUI account that sorts first
    with deps.sessions() as s:
        projects.update_project(s, 'demo', ProjectUpdate(settings={'default_account_id': comfy.id}))
    await user.open('/runs')
    assert user.find('run-provider').elements.pop().value == comfy.id


async def test_the_time_stage_shows_and_follows_each_scenes_own_time(user: User, deps) -> None:
    ensure_demo(deps.sessions, deps.store)
    register_all(deps)
    await user.open('/projects/demo')
    await user.open('/runs')
    user.find('run-stage').elements.pop().value = 'time'
    await user.should_see('Time per scene')
    results = [e.text for e in sorted(user.find('scene-target-result').elements, key=lambda e: e.id)]
    assert results == ['→ day (its own)', '→ day (its own)', '→ night (its own)']
    user.find('scene-target').elements.pop().value = 'dusk'  # one scene is overridden, the others keep their own
    await user.should_see('→ dusk (set for this scene)')
    user.find('show-plan').click()
    await user.should_see('This is a plan')
    with deps.sessions() as s:
        run = s.exec(select(Run)).one()
        assert run.settings_snapshot['request']['time'] is None
        assert list(run.settings_snapshot['request']['scene_targets'].values()) == [{'time': 'dusk'}]
        assert s.exec(select(Job).where(Job.run_id == run.id)).all() == []  # nothing approved yet: all blocked


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
