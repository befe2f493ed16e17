"""The REST API in the studio's own FastAPI app: /api (bearer tokens), /auth, public /health, OpenAPI at /docs."""

from __future__ import annotations

import logging
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute
from starlette.staticfiles import StaticFiles

from app.api import (
    routes_assets,
    routes_audit,
    routes_continuity,
    routes_copilot,
    routes_exports,
    routes_layout,
    routes_projects,
    routes_providers,
    routes_references,
    routes_review,
    routes_runs,
    routes_sets,
    routes_system,
)
from app.api.auth import ApiContext
from app.api.errors import install_error_handlers
from services.deps import Deps

__all__ = ['openapi_document', 'register_api']

DOCS_ASSETS = '/api-docs-assets'  # Swagger UI and ReDoc served from the fastapi-offline package: no CDN, works offline

log = logging.getLogger(__name__)

GROUPS = (
    routes_projects,
    routes_references,
    routes_continuity,
    routes_sets,
    routes_providers,
    routes_runs,
    routes_review,
    routes_assets,
    routes_layout,
    routes_exports,
    routes_copilot,
    routes_audit,
)
DESCRIPTION = (
    'The same services as the studio pages. Every route under /api and /auth needs '
    '`Authorization: Bearer kroma_…` (create the first token with `kroma token create`, or POST /auth/token from '
    'this machine while no token exists). Success is `{ok: true, …}`; errors are '
    '`{ok: false, error, error_kind, error_code}` with the HTTP status. Every change is written to the audit log.'
)


def openapi_document(routes: list[BaseRoute], version: str) -> dict[str, Any]:
    """Only the API's routes: the pages and NiceGUI's internals are not part of the contract."""
    doc = get_openapi(title='Kroma Studio API', version=version, description=DESCRIPTION, routes=routes)
    doc['components'].setdefault('schemas', {})['ErrorEnvelope'] = {
        'type': 'object',
        'required': ['ok', 'error', 'error_kind', 'error_code'],
        'properties': {
            'ok': {'type': 'boolean', 'enum': [False]},
            'error': {'type': 'string'},
            'error_kind': {'type': 'string'},
            'error_code': {'type': 'string'},
        },
    }
    return doc


def register_api(app: FastAPI, deps: Deps) -> list[BaseRoute]:
    """Mount every route group, the error envelope and the docs; returns the API's routes (for tests and /health)."""
    ctx = ApiContext(deps)
    routes: list[BaseRoute] = []
    routers = [routes_system.build(ctx, route_count=lambda: len(routes)), *(g.build(ctx) for g in GROUPS)]
    lifespan = app.router.lifespan_context
    for router in routers:
        routes.extend(router.routes)
        app.include_router(router)
    # include_router wraps the app's lifespan once per router even when the router has none (as ours); undone, or
    # every registration (each API test on NiceGUI's one app) nests it deeper until the recursion limit
    app.router.lifespan_context = lifespan
    install_error_handlers(app)
    cache: dict[str, Any] = {}

    def openapi_json() -> JSONResponse:
        if 'doc' not in cache:
            cache['doc'] = openapi_document(routes, routes_system.api_version())
        return JSONResponse(cache['doc'])

    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url='/openapi.json',
            title='Kroma Studio API',
            swagger_js_url=f'{DOCS_ASSETS}/swagger-ui-bundle.js',
            swagger_css_url=f'{DOCS_ASSETS}/swagger-ui.css',
            swagger_favicon_url=f'{DOCS_ASSETS}/favicon.png',
        )

    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url='/openapi.json',
            title='Kroma Studio API',
            redoc_js_url=f'{DOCS_ASSETS}/redoc.standalone.js',
            redoc_favicon_url=f'{DOCS_ASSETS}/favicon.png',
            with_google_fonts=False,
        )

    app.add_api_route('/openapi.json', openapi_json, methods=['GET'], include_in_schema=False)
    app.add_api_route('/docs', docs, methods=['GET'], include_in_schema=False)
    app.add_api_route('/redoc', redoc, methods=['GET'], include_in_schema=False)
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files('fastapi_offline') / 'static')), name='api-docs-assets')
    log.info('API mounted: %d routes under /api and /auth, docs at /docs', len(routes))
    return routes
