"""Bearer auth on every route (from the OpenAPI document), project scope, token minting rules and the bootstrap."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select

from app.api import register_api
from models.db import create_all, make_engine, session_factory
from models.ops import ApiToken, AuditEvent
from models.project import ProjectCreate
from services.deps import Deps
from services.projects import projects
from tests.app.test_api_fixtures import (  # noqa: F401
    LOOPBACK,
    Api,
    api,
    api_deps,
    api_document,
    bearer,
    make_deps,
    mint,
    operations,
)

OPERATIONS = operations()
PUBLIC = {('GET', '/health')}
MUTATING = [op for op in OPERATIONS if op[0] != 'GET']
# routes outside a project that a scoped token may still read (filtered to its own project)
SCOPED_READS = {('GET', '/auth/tokens'), ('GET', '/api/projects'), ('GET', '/api/audit-events')}


class Matrix:
    """One app and database for the whole matrix: auth is decided before any route touches data."""

    def __init__(self, deps: Deps) -> None:
        self.app = FastAPI()
        register_api(self.app, deps)
        self.deps = deps
        with deps.sessions() as s:
            for slug in ('mine', 'theirs'):
                projects.create_project(s, ProjectCreate(slug=slug, name=slug), data_dir=deps.data_dir)
        self.unscoped, self.unscoped_id = mint(deps)
        self.scoped, _ = mint(deps, slug='mine')

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(self.app, client=LOOPBACK)
            async with httpx.AsyncClient(transport=transport, base_url='http://test') as c:
                return await c.request(method, url, **kw)

        return asyncio.run(go())


@pytest.fixture(scope='module')
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    data_dir = tmp_path_factory.mktemp('auth-matrix')
    engine = make_engine(f'sqlite:///{data_dir / "kroma.db"}')
    create_all(engine)
    yield Matrix(make_deps(data_dir, session_factory(engine)))
    engine.dispose()


def minimal(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    """The smallest body the schema accepts, so a check inside the route (not body validation) must answer."""
    if '$ref' in schema:
        return minimal(doc['components']['schemas'][schema['$ref'].rsplit('/', 1)[1]], doc)
    if 'anyOf' in schema:
        return minimal(schema['anyOf'][0], doc)
    if 'enum' in schema:
        return schema['enum'][0]
    kind = schema.get('type')
    if kind == 'object':
        return {k: minimal(v, doc) for k, v in schema.get('properties', {}).items() if k in schema.get('required', [])}
    return {'string': 'x', 'integer': 0, 'number': 0, 'boolean': False, 'array': []}.get(kind)


def url_for(path: str, *, slug: str, token_id: str = 'x') -> str:
    path = path.replace('{slug}', slug).replace('{token_id}', token_id)
    return re.sub(r'\{[a-z_]+\}', 'x', path)


def body_for(op: dict[str, Any]) -> dict[str, Any]:
    content = op.get('requestBody', {}).get('content', {})
    if 'application/json' not in content:
        return {}
    return {'json': minimal(content['application/json']['schema'], api_document())}


def ids(ops: list[tuple[str, str, dict]]) -> list[str]:
    return [f'{m} {p}' for m, p, _ in ops]


NEEDS_TOKEN = [op for op in OPERATIONS if op[:2] not in PUBLIC]
SCOPE_CHECKED = [op for op in OPERATIONS if '{slug}' in op[1] or (op in MUTATING)] + [
    op for op in OPERATIONS if op[:2] == ('GET', '/api/backups')
]


@pytest.mark.parametrize(('method', 'path', 'op'), NEEDS_TOKEN, ids=ids(NEEDS_TOKEN))
def test_every_route_but_health_needs_a_valid_token(matrix: Matrix, method: str, path: str, op: dict) -> None:
    url = url_for(path, slug='mine')
    for headers in ({}, bearer('kroma_' + '0' * 64), bearer('not-a-token')):
        r = matrix.request(method, url, headers=headers, **body_for(op))
        assert r.status_code == 401, (headers, r.text)
        assert r.json()['error_code'] in ('unauthorized', 'token_revoked', 'token_expired')


@pytest.mark.parametrize(('method', 'path', 'op'), SCOPE_CHECKED, ids=ids(SCOPE_CHECKED))
def test_a_token_scoped_to_another_project_is_forbidden(matrix: Matrix, method: str, path: str, op: dict) -> None:
    url = url_for(path, slug='theirs', token_id=matrix.unscoped_id)
    r = matrix.request(method, url, headers=bearer(matrix.scoped), **body_for(op))
    assert r.status_code == 403, r.text
    assert r.json()['error_kind'] == 'auth'


def test_the_operation_list_covers_the_routes() -> None:
    assert len(OPERATIONS) > 80
    assert set(SCOPED_READS) <= {op[:2] for op in OPERATIONS}


def test_scoped_tokens_see_only_their_project(matrix: Matrix) -> None:
    r = matrix.request('GET', '/api/projects', headers=bearer(matrix.scoped))
    assert [p['project']['slug'] for p in r.json()['projects']] == ['mine']
    r = matrix.request('GET', '/api/projects/theirs-or-nothing', headers=bearer(matrix.scoped))
    assert r.status_code == 403  # no hint whether a project exists
    r = matrix.request('GET', '/api/projects/theirs-or-nothing', headers=bearer(matrix.unscoped))
    assert r.status_code == 404


def test_a_scoped_token_cannot_mint_an_unscoped_or_foreign_token(matrix: Matrix) -> None:
    h = bearer(matrix.scoped)
    assert matrix.request('POST', '/auth/token', headers=h, json={}).status_code == 403
    assert matrix.request('POST', '/auth/token', headers=h, json={'project_slug': 'theirs'}).status_code == 403
    r = matrix.request('POST', '/auth/token', headers=h, json={'project_slug': 'mine', 'label': 'ci'})
    assert r.status_code == 201
    minted = r.json()['auth_token']
    assert minted['project_slug'] == 'mine' and minted['token'].startswith('kroma_')
    r = matrix.request('GET', '/auth/tokens', headers=h)
    assert all(t['project_slug'] == 'mine' for t in r.json()['tokens'])
    assert all('token' not in t and 'token_hash' not in t for t in r.json()['tokens'])


def test_revoked_and_expired_tokens_stop_working(matrix: Matrix) -> None:
    token, token_id = mint(matrix.deps, slug='mine')
    assert matrix.request('GET', '/api/projects/mine', headers=bearer(token)).status_code == 200
    r = matrix.request('DELETE', f'/auth/tokens/{token_id}', headers=bearer(matrix.unscoped))
    assert r.status_code == 200 and r.json()['deleted'] is True
    r = matrix.request('GET', '/api/projects/mine', headers=bearer(token))
    assert r.status_code == 401 and r.json()['error_code'] == 'token_revoked'
    again = matrix.request('DELETE', f'/auth/tokens/{token_id}', headers=bearer(matrix.unscoped))
    assert again.status_code == 200  # idempotent
    with matrix.deps.sessions() as s:
        actions = [e.actor for e in s.exec(select(AuditEvent).where(AuditEvent.action == 'token.revoke'))]
    assert f'token:{matrix.unscoped_id}' in actions


async def test_the_first_token_needs_loopback_and_an_empty_token_table(api: Api) -> None:  # noqa: F811
    with api.deps.sessions() as s:  # the api fixture minted one: start from a table that never had a token
        for row in s.exec(select(ApiToken)).all():
            s.delete(row)
    remote = httpx.ASGITransport(api.client._transport.app, client=('192.0.2.7', 4000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=remote, base_url='http://test') as outsider:
        assert (await outsider.post('/auth/token', json={})).status_code == 401
    proxied = await api.post('/auth/token', token=None, json={}, headers={'X-Forwarded-For': '203.0.113.9'})
    assert proxied.status_code == 401
    r = await api.post('/auth/token', token=None, json={'label': 'laptop'})
    assert r.status_code == 201
    first = r.json()['auth_token']
    assert (await api.get('/api/projects', token=first['token'])).status_code == 200
    assert (await api.post('/auth/token', token=None, json={})).status_code == 401  # one bootstrap only
    await api.call('DELETE', f'/auth/tokens/{first["id"]}', token=first['token'])
    r = await api.post('/auth/token', token=None, json={})
    assert r.status_code == 401, 'a revoked token still counts: the bootstrap never reopens'
