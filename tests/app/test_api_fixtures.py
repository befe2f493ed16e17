"""Shared API test fixtures (imported by the other test_api_* modules), plus the public /health check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nicegui import app as nicegui_app
from nicegui.testing import User

from app.api import openapi_document, register_api
from models.db import SessionFactory
from services.deps import Deps
from services.projects import projects
from services.projects.assets import AssetStore
from services.security import tokens as auth
from services.security.secrets import SecretStore, load_keyring

LOOPBACK = ('127.0.0.1', 50000)


def make_deps(data_dir: Path, sessions: SessionFactory) -> Deps:
    keyring = load_keyring(env_key=None, key_file=data_dir / 'master.key', previous=None)
    return Deps(data_dir=data_dir, sessions=sessions, store=AssetStore(data_dir), secrets=SecretStore(keyring))


def mint(deps: Deps, *, slug: str | None = None, expires: str | None = None) -> tuple[str, str]:
    """A token straight from the service (as `kroma token create` does): (value, id)."""
    with deps.sessions() as s:
        project_id = projects.get_project(s, slug).id if slug else None
        issued = auth.create_token(s, project_id=project_id, expires_at=auth.parse_expiry(expires), creator=None)
    return issued.token, issued.info.id


def bearer(token: str) -> dict[str, str]:
    return {'Authorization': f'Bearer {token}'}


@cache
def api_document() -> dict[str, Any]:
    """The OpenAPI document, built without a database (routes need no data to be declared)."""
    routes = register_api(FastAPI(), Deps(data_dir=Path('.'), sessions=None, store=None))  # type: ignore[arg-type]
    return openapi_document(routes, 'test')


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation in the OpenAPI document, so a new route is covered automatically."""
    doc = api_document()
    return [(method.upper(), path, op) for path, ops in doc['paths'].items() for method, op in ops.items()]


@dataclass
class Api:
    """An HTTP client on the real NiceGUI app with the API mounted, and the token it sends by default."""

    client: httpx.AsyncClient
    deps: Deps
    token: str
    token_id: str

    async def call(self, method: str, url: str, *, token: str | None = '', **kw: Any) -> httpx.Response:
        headers = kw.pop('headers', {})
        token = self.token if token == '' else token
        if token:
            headers = {**bearer(token), **headers}
        return await self.client.request(method, url, headers=headers, **kw)

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.call('GET', url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.call('POST', url, **kw)


@pytest.fixture
def api_deps(data_dir: Path, sessions: SessionFactory) -> Deps:
    return make_deps(data_dir, sessions)


@pytest.fixture
async def api(user: User, api_deps: Deps) -> AsyncIterator[Api]:
    """register_api on NiceGUI's own app inside the user fixture, driven in-process over ASGI from loopback."""
    register_api(nicegui_app, api_deps)
    token, token_id = mint(api_deps)
    transport = httpx.ASGITransport(nicegui_app, client=LOOPBACK)
    async with httpx.AsyncClient(transport=transport, base_url='http://test') as client:
        yield Api(client, api_deps, token, token_id)


async def test_health_is_public_and_says_nothing_about_data(api: Api) -> None:
    r = await api.get('/health', token=None)
    assert r.status_code == 200
    body = r.json()
    assert body['ok'] is True and body['status'] == 'ok' and body['route_count'] > 80
    assert 'projects' not in body


async def test_api_docs_work_offline(api: Api) -> None:
    """Swagger UI and ReDoc load their scripts from the studio itself, never from a CDN."""
    for page, asset in (('/docs', 'swagger-ui-bundle.js'), ('/redoc', 'redoc.standalone.js')):
        html = (await api.get(page, token=None)).text
        assert f'/api-docs-assets/{asset}' in html and 'cdn.jsdelivr' not in html and 'fonts.googleapis' not in html
        script = await api.get(f'/api-docs-assets/{asset}', token=None)
        assert script.status_code == 200 and len(script.content) > 500_000


def test_registering_the_api_leaves_the_apps_lifespan_as_it_was() -> None:
    """FastAPI wraps the lifespan once per included router; on NiceGUI's one app that nested past the recursion limit."""
    app = FastAPI()
    before = app.router.lifespan_context
    for _ in range(3):
        register_api(app, Deps(data_dir=Path('.'), sessions=None, store=None))  # type: ignore[arg-type]
    assert app.router.lifespan_context is before
