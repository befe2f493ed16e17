"""Health (public) and API tokens: first-token bootstrap, list, mint and revoke."""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from app.api.auth import ApiContext, Principal, bearer
from app.api.errors import EnvelopeRoute
from services.errors import Forbidden
from services.projects import projects
from services.security import audit
from services.security import tokens as auth
from services.security.tokens import IssuedToken, TokenRead

STARTED_MS = int(time.time() * 1000)


def api_version() -> str:
    try:
        return version('kroma-studio')
    except PackageNotFoundError:
        return '0.0.0'


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra='forbid')
    label: str = Field('', max_length=200)
    project_slug: str | None = Field(None, max_length=64, description='Scope the token to this project.')
    expires_at: str | None = Field(None, max_length=40, description='"30d", "12h", an ISO date or datetime.')


def issued_json(issued: IssuedToken) -> dict[str, Any]:
    """The only response that ever carries a token value: the one that creates it."""
    return {**jsonable_encoder(issued.info), 'token': issued.token}


def _project_id(s: Session, body: TokenCreate) -> str | None:
    return projects.get_project(s, body.project_slug).id if body.project_slug else None


def build(ctx: ApiContext, route_count: Callable[[], int]) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute)
    sessions = ctx.deps.sessions

    def bootstrap_peer(request: Request) -> str | None:
        """The peer, trusted only when the studio itself listens on loopback and no proxy forwarded the request."""
        bound = ctx.deps.options.host
        proxied = 'x-forwarded-for' in request.headers or 'forwarded' in request.headers
        if proxied or not auth.is_loopback(bound):
            return None
        return request.client.host if request.client else None

    @router.get('/health', tags=['system'])
    def health() -> dict[str, Any]:
        """Public: tells a script the studio is up, and nothing about the data."""
        return {
            'ok': True,
            'status': 'ok',
            'service': 'kroma-studio',
            'version': api_version(),
            'started_unix_ms': STARTED_MS,
            'route_count': route_count(),
        }

    @router.post('/auth/token', status_code=201, tags=['auth'])
    def create_token(
        body: TokenCreate, request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> dict[str, Any]:
        """Mint a token (its value is shown once). Without a token: only from loopback while none ever existed."""
        if creds is None or not creds.credentials:
            host = bootstrap_peer(request)
            with sessions() as s:
                auth.require_bootstrap(s, host)
                issued = auth.create_first_token(
                    s,
                    host,
                    label=body.label,
                    project_id=_project_id(s, body),
                    expires_at=auth.parse_expiry(body.expires_at),
                )
                audit.record(
                    s,
                    project_id=issued.info.project_id,
                    actor='bootstrap',
                    action='token.create',
                    payload={'token_id': issued.info.id, 'prefix': issued.info.prefix, 'first': True},
                )
            return {'ok': True, 'auth_token': issued_json(issued)}
        who = ctx.resolve(creds)
        with ctx.unit(who, 'token.create', project_id=None) as u:
            if body.project_slug is None:
                who.require_unscoped('create an unscoped token')
            issued = auth.create_token(
                u.session,
                project_id=_scoped_project(u.session, body, who),
                expires_at=auth.parse_expiry(body.expires_at),
                label=body.label,
                creator=who.token,
            )
            u.project_id = issued.info.project_id
            u.payload.update({'token_id': issued.info.id, 'prefix': issued.info.prefix})
        return {'ok': True, 'auth_token': issued_json(issued)}

    @router.get('/auth/tokens', tags=['auth'])
    def list_tokens(who: Principal = Depends(ctx.principal)) -> dict[str, Any]:
        """Every token (a scoped token sees its project's) with an `active` flag; never a token value."""
        with sessions() as s:
            rows = auth.list_tokens(s, viewer=who.token)
        return {'ok': True, 'count': len(rows), 'tokens': jsonable_encoder(rows)}

    @router.delete('/auth/tokens/{token_id}', tags=['auth'])
    def revoke_token(token_id: str, who: Principal = Depends(ctx.principal)) -> dict[str, Any]:
        """Soft and idempotent; a scoped token may revoke only its own project's tokens."""
        with ctx.unit(who, 'token.revoke', project_id=None, payload={'token_id': token_id}) as u:
            revoked = auth.revoke_token(u.session, token_id, by=who.token)
            u.project_id = revoked.project_id
        return {'ok': True, 'deleted': True, 'token_id': revoked.id, 'auth_token': jsonable_encoder(revoked)}

    return router


def _scoped_project(s: Session, body: TokenCreate, who: Principal) -> str | None:
    """A scoped caller naming another (or a missing) project gets 403, never a hint whether it exists."""
    if who.project_id is None:
        return _project_id(s, body)
    read: TokenRead = who.token
    if body.project_slug != read.project_slug:
        raise Forbidden('A project-scoped token can only create tokens for its own project.')
    return read.project_id
