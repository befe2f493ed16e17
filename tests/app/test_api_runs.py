"""Runs over the API on the demo project's offline renderer: trigger, list, detail, generate, review, cancel."""

from __future__ import annotations

import asyncio

import pytest

from services.projects.demo import ensure_demo
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from tests.app.test_api_fixtures import Api, api, api_deps  # noqa: F401

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


P = '/api/projects/demo'


async def test_a_triggered_run_appears_in_list_and_detail(api: Api) -> None:  # noqa: F811
    ensure_demo(api.deps.sessions, api.deps.store)
    dry = await api.post(P + '/runs/trigger', json={'stage': 'style', 'candidates': 2})
    assert dry.status_code == 201, dry.text
    plan = dry.json()['plan']
    assert plan['provider_offline'] is True and plan['total_cost_usd'] == 0 and len(plan['jobs']) == 3
    assert dry.json()['run']['status'] == 'planned'
    r = await api.post(P + '/runs', json={'stage': 'style', 'mode': 'run', 'candidates': 2})
    assert r.status_code == 201
    run_id = r.json()['run_id']
    assert r.json()['run']['status'] == 'queued' and r.json()['run']['total'] == 6
    listed = (await api.get(P + '/runs')).json()
    assert run_id in [x['id'] for x in listed['runs']] and listed['count'] == 2
    detail = (await api.get(f'{P}/runs/{run_id}')).json()
    assert detail['run']['id'] == run_id and len(detail['jobs']) == 3
    assert detail['run']['spent_usd'] == 0 and detail['run']['maybe_billed_usd'] == 0  # the offline renderer is free
    jobs = (await api.get(f'{P}/runs/{run_id}/jobs')).json()
    assert jobs['run_id'] == run_id and jobs['count'] == 3
    cancel = await api.post(f'{P}/runs/{run_id}/cancel')
    assert cancel.json()['run']['status'] == 'canceled'
    again = await api.post(f'{P}/runs/{run_id}/cancel')
    assert again.status_code == 422 and again.json()['error_code'] == 'run_finished'
    events = (await api.get(P + '/audit-events', params={'action': 'run.'})).json()['audit_events']
    assert {e['action'] for e in events} == {'run.start', 'run.cancel'}


async def test_the_spend_guard_and_validation_are_the_pages_own(api: Api) -> None:  # noqa: F811
    ensure_demo(api.deps.sessions, api.deps.store)
    r = await api.post(P + '/provider-accounts', json={'name': 'Paid', 'kind': 'openai', 'api_key': 'sk-x' * 4})
    paid = r.json()['provider_account']['id']
    body = {'stage': 'style', 'mode': 'run', 'candidates': 1, 'account_id': paid}
    refused = await api.post(P + '/runs/trigger', json=body)
    assert refused.status_code == 400 and refused.json()['error_kind'] == 'policy'
    assert refused.json()['error_code'] == 'spend_confirmation_required'
    r = await api.post(
        P + '/runs/trigger', json={'stage': 'time', 'candidates': 1, 'scene_targets': {'x': {'time': 'noon'}}}
    )
    assert r.status_code == 422 and "time: must be one of 'day'" in r.json()['error']
    r = await api.post(P + '/runs/trigger', json={'stage': 'time', 'candidates': 1})  # each scene's own time: a plan
    assert r.status_code == 201 and len(r.json()['plan']['blocked']) == 3  # nothing approved yet to vary
    r = await api.post(P + '/runs/trigger', json={'stage': 'style', 'candidates': 99})
    assert r.status_code == 422
    assert (await api.get(P + '/runs')).json()['count'] == 1


async def test_generate_then_review_a_candidate(api: Api) -> None:  # noqa: F811
    ensure_demo(api.deps.sessions, api.deps.store)
    scenes = (await api.get(P + '/scenes')).json()['scenes']
    body = {'stage': 'style', 'mode': 'run', 'candidates': 1, 'scene_ids': [scenes[0]['id']]}
    run_id = (await api.post(P + '/runs/trigger', json=body)).json()['run_id']
    executor = RunExecutor(sessions=api.deps.sessions, store=api.deps.store, qa=CandidateQA(api.deps.store))
    await asyncio.to_thread(lambda: asyncio.run(executor.drain()))
    detail = (await api.get(f'{P}/runs/{run_id}')).json()
    assert detail['run']['status'] == 'done' and detail['run']['done'] == 1
    cands = (await api.get(f'{P}/runs/{run_id}/candidates')).json()['candidates']
    assert cands[0]['asset'] is not None
    r = await api.post(f'{P}/candidates/{cands[0]["id"]}/approve', json={'note': 'the one'})
    assert r.status_code == 200 and r.json()['candidate']['review_state'] == 'approved'
    asset_id = cands[0]['asset']['id']
    file = await api.get(f'{P}/assets/{asset_id}/file')
    assert file.status_code == 200 and file.content[:4] == b'\x89PNG'
    approved = (await api.get(P + '/assets', params={'status': 'approved'})).json()
    assert [a['id'] for a in approved['assets']] == [asset_id]


async def test_a_plan_starts_in_one_call_exactly_as_planned(api: Api) -> None:  # noqa: F811
    ensure_demo(api.deps.sessions, api.deps.store)
    dry = (await api.post(P + '/runs', json={'stage': 'style', 'candidates': 1})).json()
    run_id = dry['run_id']
    started = await api.post(f'{P}/runs/{run_id}/start', json={})
    assert started.status_code == 200, started.text
    assert started.json()['run']['status'] == 'queued' and started.json()['run']['total'] == 3
    again = await api.post(f'{P}/runs/{run_id}/start', json={})
    assert again.status_code == 409 and again.json()['error_code'] == 'not_a_plan'
    events = (await api.get(P + '/audit-events', params={'action': 'run.start_plan'})).json()['audit_events']
    assert [e['payload']['run_id'] for e in events] == [run_id]
