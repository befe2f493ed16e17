"""Review over the API: the ranked queue, decisions on several candidates, approve-best that never takes a failure."""

from __future__ import annotations

import asyncio

from services.projects.demo import ensure_demo
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from tests.app.test_api_fixtures import Api, api, api_deps  # noqa: F401

P = '/api/projects/demo'


async def generate(api: Api, **body) -> str:  # noqa: F811
    run_id = (await api.post(P + '/runs', json={'stage': 'style', 'mode': 'run', **body})).json()['run_id']
    executor = RunExecutor(sessions=api.deps.sessions, store=api.deps.store, qa=CandidateQA(api.deps.store))
    await asyncio.to_thread(lambda: asyncio.run(executor.drain(run_id=run_id)))
    return run_id


async def test_queue_decisions_and_approve_best(api: Api) -> None:  # noqa: F811
    ensure_demo(api.deps.sessions, api.deps.store)
    empty = await api.get(P + '/review')
    assert empty.status_code == 404 and empty.json()['error_code'] == 'no_runs'
    scenes = (await api.get(P + '/scenes')).json()['scenes']
    run_id = await generate(api, candidates=2, scene_ids=[s['id'] for s in scenes[:2]])
    await api.call('PATCH', P, json={'settings': {'qa': {'min_width': 4096}}})
    await generate(api, candidates=1, scene_ids=[scenes[2]['id']])  # too small for the new threshold: fails QA
    queue = (await api.get(P + '/review', params={'stage': 'style', 'run_id': run_id})).json()
    assert queue['run']['id'] == run_id and queue['count'] == 2
    first = queue['jobs'][0]['candidates']
    assert [c['rank'] for c in first] == [1, 2] and all(c['verdict'] in ('pass', 'warn') for c in first)
    bad = await api.post(
        P + '/review/decisions', json={'decision': 'reject', 'candidate_ids': [first[1]['id'], 'nope']}
    )
    assert bad.status_code == 404
    body = {'decision': 'reject', 'candidate_ids': [first[1]['id']], 'note': 'flat'}
    done = (await api.post(P + '/review/decisions', json=body)).json()
    assert done['count'] == 1 and done['candidates'][0]['review_state'] == 'rejected'
    best = (await api.post(P + '/review/approve-best', json={'stage': 'style'})).json()
    assert [p['scene'] for p in best['approved']] == [s['name'] for s in scenes[:2]]
    assert best['approved'][0]['candidate_id'] == first[0]['id']
    assert [u['scene'] for u in best['unresolved']] == [scenes[2]['name']]
    assert 'failed QA' in best['unresolved'][0]['reason']
    again = (await api.post(P + '/review/approve-best', json={})).json()
    assert again['approved'] == [] and len(again['kept']) == 2
    wrong = await api.post(P + '/review/approve-best', json={'stage': 'dawn'})
    assert wrong.status_code == 422 and wrong.json()['ok'] is False
    events = (await api.get(P + '/audit-events', params={'action': 'review.'})).json()['audit_events']
    assert {'review.reject', 'review.approve', 'review.approve_best'} <= {e['action'] for e in events}
