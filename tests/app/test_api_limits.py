"""Every create/edit body of the API is the service's own model: an over-limit value or an unknown field is a 422
in the error envelope whose message names the field by its label and states the limit, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import SQLModel

from tests.app.test_api_fixtures import Api, api, api_deps  # noqa: F401
from tests.app.test_api_resources import png

P = '/api/projects/saga'
IGNORED = {'apitoken'}  # a token's last use is stamped on every call, refused or not
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    ('POST', '/api/projects', {'slug': 'epic', 'name': 'Epic'}, {'name': 'x' * 10_000},
     'Name: at most 200 characters (got 10,000).'),
    ('PATCH', P, {'name': 'Saga II'}, {'batch_limit': 1000},
     'Batch limit (jobs per run): must be a whole number from 1 to 500 (got 1,000).'),
    ('PUT', P + '/storage/s3', {'region': 'eu-west-1'}, {'region': 'x' * 41}, 'S3 region: at most 40 characters (got 41).'),
    ('POST', P + '/characters', {'name': 'Nia'}, {'bible': 'x' * 20_001}, 'Bible: at most 20,000 characters (got 20,001).'),
    ('PATCH', P + '/characters/{character}', {'bible': 'Tall'}, {'name': 'x' * 201},
     'Name: at most 200 characters (got 201).'),
    ('POST', P + '/characters/{character}/references', {'asset_id': '{asset}'}, {'angle': 'top'},
     "Angle: must be one of 'front', 'three-quarter', 'profile' or 'back'."),
    ('POST', P + '/style-guides', {'name': 'Ink'}, {'palette': ['#000000'] * 33}, 'Palette: at most 32 items (got 33).'),
    ('PATCH', P + '/style-guides/{guide}', {'rules': 'Flat'}, {'dont_text': 'x' * 20_001},
     "Don't: at most 20,000 characters (got 20,001)."),
    ('POST', P + '/scenes', {'name': 'Pier'}, {'continuity': {'time': 'noon'}},
     "Continuity › Time: must be one of 'day', 'dusk' or 'night'."),
    ('PATCH', P + '/scenes/{scene}', {'description': 'Wet'}, {'sort_order': -1},
     'Order: must be a whole number from 0 to 1,000,000 (got -1).'),
    ('POST', P + '/reference-sets', {'name': 'Moods'}, {'description': 'x' * 5_001},
     'Description: at most 5,000 characters (got 5,001).'),
    ('PATCH', P + '/reference-sets/{ref_set}', {'name': 'Heads'}, {'name': '  '}, 'Name: must not be empty.'),
    ('POST', P + '/reference-sets/{ref_set}/items', {'content_text': 'Fog'}, {'content_text': 'x' * 20_001},
     'Note: at most 20,000 characters (got 20,001).'),
    ('POST', P + '/prompt-templates', {'stage': 'style', 'text': 'Draw {scene}'}, {'text': 'Draw {scene:d}'},
     'Template text: placeholder {scene:d} has a format; placeholders are names only, write {scene}.'),
    ('POST', P + '/provider-accounts', {'name': 'Cloud'}, {'name': 'x' * 101},
     'Account name: at most 100 characters (got 101).'),
    ('PATCH', P + '/provider-accounts/{account}', {'model': 'kroma-local-v2'}, {'model': 'x' * 201},
     'Model: at most 200 characters (got 201).'),
]  # fmt: skip


def snapshot(client: Api) -> dict[str, list[dict[str, Any]]]:
    with client.deps.sessions() as s:
        db = s.connection()
        tables = [t for t in SQLModel.metadata.sorted_tables if t.name not in IGNORED]
        return {t.name: [dict(r) for r in db.execute(t.select()).mappings()] for t in tables}


async def ids(client: Api) -> dict[str, str]:
    """One of each resource the PATCH routes need, made over the API."""
    assert (await client.post('/api/projects', json={'slug': 'saga', 'name': 'Saga'})).status_code == 201
    up = await client.post(P + '/assets', files=[('files', ('a.png', png((1, 2, 3)), 'image/png'))])
    made = {'asset': up.json()['results'][0]['asset']['id']}
    for key, path, body, field in [
        ('character', '/characters', {'name': 'Mara'}, 'character'),
        ('guide', '/style-guides', {'name': 'Sepia'}, 'style_guide'),
        ('scene', '/scenes', {'name': 'Quay'}, 'scene'),
        ('ref_set', '/reference-sets', {'name': 'Faces'}, 'reference_set'),
        ('account', '/provider-accounts', {'name': 'Local'}, 'provider_account'),
    ]:
        r = await client.post(P + path, json=body)
        assert r.status_code == 201, r.text
        made[key] = r.json()[field]['id']
    return made


def fill(value: Any, made: dict[str, str]) -> Any:
    return value.format(**made) if isinstance(value, str) and value.startswith('{') else value


@pytest.mark.parametrize(('method', 'path', 'good', 'over', 'message'), CASES, ids=[f'{c[0]} {c[1]}' for c in CASES])
async def test_over_limit_and_unknown_fields_are_a_422_naming_the_field(
    api: Api,  # noqa: F811
    method: str,
    path: str,
    good: dict[str, Any],
    over: dict[str, Any],
    message: str,
) -> None:
    made = await ids(api)
    url = path.format(**made)
    body = {k: fill(v, made) for k, v in good.items()}
    before = snapshot(api)
    r = await api.call(method, url, json={**body, **over})
    assert r.status_code == 422, r.text
    assert r.json() == {'ok': False, 'error': message, 'error_kind': 'validation', 'error_code': 'validation_error'}
    r = await api.call(method, url, json={**body, 'colour': 'red'})
    assert r.status_code == 422 and r.json()['error'].startswith('Unknown field "colour"; known fields: ')
    assert snapshot(api) == before
    r = await api.call(method, url, json=body)  # the same route with good values writes: the refusals are real
    assert r.status_code in (200, 201), r.text
    assert snapshot(api) != before


async def test_a_patch_sent_null_keeps_the_field(api: Api) -> None:  # noqa: F811
    made = await ids(api)
    await api.call('PATCH', f'{P}/scenes/{made["scene"]}', json={'chapter': 3, 'description': 'Stone'})
    r = await api.call('PATCH', f'{P}/scenes/{made["scene"]}', json={'chapter': None, 'name': None})
    assert r.status_code == 200 and (r.json()['scene']['chapter'], r.json()['scene']['name']) == (3, 'Quay')
