"""One error shape everywhere under /api and /auth: {ok: false, error, error_kind, error_code} with the HTTP status."""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter

from app.api.errors import EnvelopeRoute
from tests.app.test_api_fixtures import Api, api, api_deps  # noqa: F401

SHAPE = {'ok', 'error', 'error_kind', 'error_code'}


def assert_envelope(r, status: int, code: str | None = None) -> dict:  # noqa: ANN001
    assert r.status_code == status, r.text
    assert r.headers['content-type'].startswith('application/json')
    body = r.json()
    assert set(body) == SHAPE, body
    assert body['ok'] is False and isinstance(body['error'], str) and body['error']
    if code:
        assert body['error_code'] == code, body
    return body


async def test_error_envelope_is_pinned(api: Api, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    # a typed service error (KromaError → its status, kind and code)
    body = assert_envelope(await api.get('/api/projects/nope'), 404, 'not_found')
    assert body['error_kind'] == 'validation'
    # malformed JSON is a 400, not a plaintext error
    bad = await api.post('/api/projects', content=b'{"slug": ', headers={'Content-Type': 'application/json'})
    assert_envelope(bad, 400, 'malformed_json')
    # a well-formed body that breaks the schema is a 422 naming the field
    body = assert_envelope(await api.post('/api/projects', json={'slug': 'x'}), 422, 'validation_error')
    assert body['error'] == 'Name: required.'  # by the field's label
    # unknown routes under /api and /auth, and a wrong method
    assert_envelope(await api.get('/api/no/such/route'), 404, 'not_found')
    assert_envelope(await api.get('/auth/nothing-here'), 404, 'not_found')
    assert_envelope(await api.call('PUT', '/api/projects'), 405, 'method_not_allowed')
    # no token
    body = assert_envelope(await api.get('/api/projects', token=None), 401, 'unauthorized')
    assert body['error_kind'] == 'auth'


async def test_pages_keep_their_own_404(api: Api) -> None:  # noqa: F811
    r = await api.get('/no-such-page', token=None)
    assert r.status_code == 404
    assert 'text/html' in r.headers['content-type']


async def test_an_unexpected_error_is_a_plain_500_and_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    router = APIRouter(route_class=EnvelopeRoute)

    @router.get('/api/boom')
    def boom() -> None:
        raise RuntimeError('secret detail that must not leak')

    api.client._transport.app.include_router(router)  # type: ignore[attr-defined]
    body = assert_envelope(await api.get('/api/boom'), 500, 'internal_error')
    assert body == {
        'ok': False,
        'error': 'Internal server error',
        'error_kind': 'infra',
        'error_code': 'internal_error',
    }
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged and 'secret detail' not in body['error']
    caplog.clear()  # the error log is the point of this test; the user fixture fails tests on ERROR logs


async def test_success_shapes(api: Api) -> None:  # noqa: F811
    r = await api.post('/api/projects', json={'slug': 'comic', 'name': 'Comic'})
    assert r.status_code == 201
    assert r.json()['ok'] is True and r.json()['project']['slug'] == 'comic'
    listed = (await api.get('/api/projects')).json()
    assert listed['ok'] is True and listed['count'] == len(listed['projects']) == 1
    item = (await api.get('/api/projects/comic')).json()
    assert item['ok'] is True and set(item) >= {'project', 'stats', 'storage'}
