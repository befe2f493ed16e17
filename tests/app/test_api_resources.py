"""Resources over the API: creates answer 201, no upsert, PATCH keeps omitted fields, keys never come back, audit."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.app.test_api_fixtures import Api, api, api_deps, api_document  # noqa: F401

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


GROUPS = [
    '/api/projects',
    '/storage/local',
    '/characters',
    '/style-guides',
    '/scenes',
    '/reference-sets/{set_id}/items',
    '/prompt-templates',
    '/provider-accounts/{account_id}/key',
    '/secrets',
    '/runs/trigger',
    '/runs/{run_id}/jobs',
    '/runs/{run_id}/candidates',
    '/runs/{run_id}/resume',
    '/runs/{run_id}/cancel',
    '/assets/{asset_id}/file',
    '/asset-links',
    '/quality-reports',
    '/cost-events',
    '/candidates/{candidate_id}/approve',
    '/exports/{export_id}/download',
    '/api/backups/verify',
    '/chat/sessions/{session_id}/messages',
    '/agent/instructions/{instruction_id}/confirm',
    '/agent/instructions/{instruction_id}/events',
    '/audit-events',
    '/bootstrap/prompt',
    '/bootstrap/import',
    '/auth/token',
    '/auth/tokens/{token_id}',
    '/health',
]


def png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', (64, 48), colour).save(buf, 'PNG')
    return buf.getvalue()


def test_the_openapi_document_lists_every_route_group() -> None:
    paths = list(api_document()['paths'])
    missing = [g for g in GROUPS if not any(p.endswith(g) for p in paths)]
    assert not missing, missing
    assert 'bearer' in str(api_document()['components']['securitySchemes']).lower()


async def test_docs_are_served(api: Api) -> None:  # noqa: F811
    doc = (await api.get('/openapi.json', token=None)).json()
    assert doc['info']['title'] == 'Kroma Studio API' and '/api/projects' in doc['paths']
    assert not any(p.startswith('/_nicegui') for p in doc['paths'])
    assert 'swagger' in (await api.get('/docs', token=None)).text.lower()


async def test_creating_projects_is_not_an_upsert_and_patch_keeps_fields(api: Api) -> None:  # noqa: F811
    body = {'slug': 'saga', 'name': 'Saga', 'description': 'A long story', 'budget_usd': 20}
    assert (await api.post('/api/projects', json=body)).status_code == 201
    dupe = await api.post('/api/projects', json={'slug': 'saga', 'name': 'Other'})
    assert dupe.status_code == 409 and dupe.json()['error_code'] == 'project_exists'
    r = await api.call('PATCH', '/api/projects/saga', json={'name': 'Saga II'})
    assert r.status_code == 200
    project = r.json()['project']
    assert (project['name'], project['description'], project['budget_usd']) == ('Saga II', 'A long story', 20)
    r = await api.post('/api/projects/saga/archive', json={})
    assert r.json()['project']['status'] == 'archived'
    assert (await api.call('DELETE', '/api/projects/saga')).status_code == 422  # needs ?confirm=saga
    r = await api.call('DELETE', '/api/projects/saga', params={'confirm': 'saga'})
    assert r.json() == {'ok': True, 'deleted': True, 'id': project['id']}


async def test_creates_answer_201_and_mutations_are_audited(api: Api) -> None:  # noqa: F811
    await api.post('/api/projects', json={'slug': 'ink', 'name': 'Ink'})
    p = '/api/projects/ink'
    files = [
        ('files', ('street.png', png((90, 80, 70)), 'image/png')),
        ('files', ('night.png', png((9, 8, 7)), 'image/png')),
    ]
    up = await api.post(p + '/assets', files=files)
    assert up.status_code == 201, up.text
    asset_id, night_id = (r['asset']['id'] for r in up.json()['results'])
    link = await api.post(p + '/asset-links', json={'parent_asset_id': asset_id, 'child_asset_id': night_id})
    assert link.status_code == 201 and link.json()['asset_link']['relation'] == 'derived_from'
    assert (await api.get(p + '/asset-links', params={'asset_id': night_id})).json()['count'] == 1
    assert (await api.call('DELETE', f'{p}/asset-links/{link.json()["asset_link"]["id"]}')).json()['deleted']
    creates = {
        '/characters': {'name': 'Mara', 'bible': 'Red scarf', 'palette': ['#aa0000']},
        '/style-guides': {'name': 'Sepia', 'rules': 'Flat tones'},
        '/scenes': {'name': 'Harbour', 'reference_asset_id': asset_id, 'continuity': {'time': 'night'}},
        '/reference-sets': {'name': 'Faces'},
        '/prompt-templates': {'stage': 'style', 'text': 'Paint {scene} in {style_guide}'},
        '/chat/sessions': {'title': 'Planning'},
    }
    made = {}
    for path, body in creates.items():
        r = await api.post(p + path, json=body)
        assert r.status_code == 201, (path, r.text)
        assert r.json()['ok'] is True
        made[path] = r.json()
    set_id = made['/reference-sets']['reference_set']['id']
    r = await api.post(f'{p}/reference-sets/{set_id}/items', json={'asset_id': asset_id, 'label': 'street'})
    assert r.status_code == 201 and r.json()['item']['asset_id'] == asset_id
    # PATCH a character: only the sent field changes
    char_id = made['/characters']['character']['id']
    r = await api.call('PATCH', f'{p}/characters/{char_id}', json={'name': 'Mara Vell'})
    assert r.json()['character']['bible'] == 'Red scarf'
    # the copilot answers in the same call
    chat_id = made['/chat/sessions']['session']['id']
    r = await api.post(f'{p}/chat/sessions/{chat_id}/messages', json={'content': 'hello there'})
    assert r.status_code == 201 and r.json()['reply']['role'] == 'assistant'
    # every mutation above is in the audit log, attributed to the token
    r = await api.get(p + '/audit-events', params={'limit': 100})
    events = r.json()['audit_events']
    actions = {e['action'] for e in events}
    assert {
        'asset.upload',
        'asset_link.create',
        'asset_link.delete',
        'character.create',
        'character.update',
        'scene.create',
        'style_guide.create',
    } <= actions
    assert {'reference_set.create', 'reference_set.add_item', 'prompt_template.save', 'chat.message'} <= actions
    assert {e['actor'] for e in events} == {f'token:{api.token_id}'}
    r = await api.get('/api/audit-events', params={'action': 'character.', 'project_slug': 'ink'})
    assert {e['action'] for e in r.json()['audit_events']} == {'character.create', 'character.update'}


async def test_keys_and_secret_values_never_come_back(api: Api) -> None:  # noqa: F811
    await api.post('/api/projects', json={'slug': 'keys', 'name': 'Keys'})
    p = '/api/projects/keys'
    key = 'sk-test-abcdefghijklmnop-SECRET'
    r = await api.post(p + '/provider-accounts', json={'name': 'Cloud', 'kind': 'openai', 'api_key': key})
    assert r.status_code == 201, r.text
    account = r.json()['provider_account']
    assert account['has_key'] is True and key not in r.text
    r = await api.call('PUT', f'{p}/provider-accounts/{account["id"]}/key', json={'api_key': key + '2'})
    assert r.status_code == 200 and key not in r.text
    r = await api.post(p + '/secrets', json={'provider': 's3', 'name': 'access_key_id', 'value': 'AKIAVALUE123456'})
    assert r.status_code == 201 and 'AKIAVALUE' not in r.text
    listed = await api.get(p + '/secrets')
    assert {s['name'] for s in listed.json()['secrets']} >= {'access_key_id'}
    assert 'AKIAVALUE' not in listed.text and key not in listed.text and 'masked' not in listed.text
    audit = await api.get(p + '/audit-events')
    assert key not in audit.text and 'AKIAVALUE' not in audit.text
    shared = await api.post(p + '/provider-accounts', json={'name': 'Shared', 'shared': True})
    assert shared.status_code == 201 and shared.json()['provider_account']['project_id'] is None
