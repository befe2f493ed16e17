"""The ledger over the API on the demo: events, derived state with sources, bible versions, picks, plan reasons."""

from __future__ import annotations

from services.projects import projects
from services.projects.demo import ensure_demo
from services.references import characters
from tests.app.test_api_fixtures import Api, api, api_deps  # noqa: F401

P = '/api/projects/demo'


async def test_events_state_versions_and_picks(api: Api) -> None:  # noqa: F811
    ensure_demo(api.deps.sessions, api.deps.store)
    for body in (
        {'scene': '1.2', 'field': 'time', 'value': 'night'},
        {'scene': '1.2', 'field': 'weather', 'value': 'rain', 'note': 'the storm'},
        {'scene': 'Café table', 'character': 'Grace', 'field': 'outfit', 'value': 'raincoat'},
    ):
        r = await api.post(P + '/continuity', json=body)
        assert r.status_code == 201, r.text
    assert r.json()['event']['label'] == 'chapter 1, scene 2 (Café table): Grace outfit = raincoat'
    listed = (await api.get(P + '/continuity', params={'scene': '1.2'})).json()
    assert listed['count'] == 3 and listed['events'][1]['note'] == 'the storm'
    state = (await api.get(P + '/continuity/state/1.2')).json()['state']
    assert state['fields']['weather']['value'] == 'rain' and state['fields']['weather']['source']['note'] == 'the storm'
    assert state['characters']['Grace']['outfit']['source']['kind'] == 'event'
    bad = await api.post(P + '/continuity', json={'scene': '1.2', 'field': 'time', 'value': 'noon'})
    assert bad.status_code == 422 and bad.json() == {
        'ok': False,
        'error': 'time must be one of day, dusk, night.',
        'error_kind': 'validation',
        'error_code': 'invalid_time',
    }
    missing = await api.get(P + '/continuity/state/9.9')
    assert missing.status_code == 404 and missing.json()['ok'] is False
    gone = await api.call('DELETE', f'{P}/continuity/{listed["events"][0]["id"]}')
    assert gone.json()['deleted'] is True
    assert (await api.get(P + '/continuity/state/1.2')).json()['state']['fields']['time']['source']['kind'] == 'scene'

    with api.deps.sessions() as s:
        grace = characters.find_character(s, projects.get_project(s, 'demo').id, 'Grace')
    patched = await api.call('PATCH', f'{P}/characters/{grace.id}', json={'bible': 'Now with a cane.'})
    assert patched.json()['character']['version'] == 2
    versions = (await api.get(f'{P}/characters/{grace.id}/versions')).json()
    assert [v['version'] for v in versions['versions']] == [2, 1]
    diff = (await api.get(f'{P}/characters/{grace.id}/versions/1/diff/2')).json()
    assert [c['field'] for c in diff['changes']] == ['bible'] and diff['changes'][0]['after'] == 'Now with a cane.'
    excluded = grace.reference_asset_ids[0]
    pick = await api.post(
        f'{P}/characters/{grace.id}/references/pick', json={'asset_id': excluded, 'choice': 'exclude'}
    )
    assert pick.status_code == 200, pick.text
    plan = (await api.post(P + '/runs/trigger', json={'stage': 'character', 'candidates': 1})).json()['plan']
    cafe = next(j for j in plan['blocked'] if j['scene'] == 'Café table')
    assert 'approve' in cafe['reason']
    dry = await api.post(P + '/runs/trigger', json={'stage': 'style', 'candidates': 1})
    (cafe_job,) = [j for j in dry.json()['plan']['jobs'] if j['scene'] == 'Café table']
    assert 'Grace (outfit: raincoat)' in cafe_job['prompt'] and 'weather rain' in cafe_job['prompt']
