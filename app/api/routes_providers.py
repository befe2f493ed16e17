"""Provider accounts (a key can be set, never read back) and the project's secrets, by name only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from app.api.auth import Access, ApiContext
from app.api.crud_routes import without_nulls
from app.api.errors import EnvelopeRoute
from models.provider import (
    ProviderAccountCreate,
    ProviderAccountRead,
    ProviderAccountUpdate,
    ProviderKeyUpdate,
    SecretRead,
)
from services.errors import Invalid, NotFound
from services.providers import accounts as provider_accounts

P = '/api/projects/{slug}'
OUTBOUND = 'set the address the studio calls for a provider; it needs an unscoped token'


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid')


class SecretIn(Strict):
    provider: str = Field(max_length=64)
    name: str = Field(max_length=100)
    value: str = Field(max_length=65_536, description='Stored encrypted; never returned or listed.')


def secret_json(r: SecretRead) -> dict[str, Any]:
    """Names only: the API never shows a value, not even masked."""
    return {'id': r.id, 'scope': r.scope, 'provider': r.provider, 'name': r.name, 'key_ref': r.key_ref,
            'updated_at': r.updated_at.isoformat()}  # fmt: skip


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute)
    deps, sessions = ctx.deps, ctx.deps.sessions
    A = P + '/provider-accounts'

    def store() -> Any:
        if deps.secrets is None:
            raise Invalid('Secrets are not available in this process (no master key).', code='secrets_unavailable')
        return deps.secrets

    def account(s: Session, a: Access, account_id: str, *, writing: bool) -> ProviderAccountRead:
        """An account this project can use: its own or a shared one; changing a shared one needs an unscoped token."""
        rows = provider_accounts.list_accounts(s, project_id=a.project.id, secrets=deps.secrets)
        found = next((r for r in rows if r.id == account_id), None)
        if found is None:
            raise NotFound('No such provider account for this project.')
        if writing and found.project_id is None:
            a.principal.require_unscoped('change a provider account shared by every project')
        return found

    @router.get(A, tags=['provider accounts'])
    def list_accounts(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The project's own accounts and the shared ones; `has_key` and a masked hint, never the key."""
        with sessions() as s:
            rows = provider_accounts.list_accounts(s, project_id=a.project.id, secrets=deps.secrets)
        return {'ok': True, 'count': len(rows), 'provider_accounts': jsonable_encoder(rows)}

    @router.post(A, status_code=201, tags=['provider accounts'])
    def create_account(body: ProviderAccountCreate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        if body.shared:
            a.principal.require_unscoped('create a provider account shared by every project')
        if body.base_url:
            a.principal.require_unscoped(OUTBOUND)
        payload = {'name': body.name, 'kind': body.kind.value, 'shared': body.shared, 'with_key': bool(body.api_key)}
        with ctx.unit(a.principal, 'provider_account.create', project_id=a.project.id, payload=payload) as u:
            row = provider_accounts.create_account(
                u.session,
                body,
                project_id=a.project.id,
                secrets=store() if body.api_key else deps.secrets,
                allow_link_local=deps.options.allow_link_local_urls,
            )
        return {'ok': True, 'provider_account': jsonable_encoder(row)}

    @router.get(A + '/{account_id}', tags=['provider accounts'])
    def get_account(account_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with sessions() as s:
            row = account(s, a, account_id, writing=False)
        return {'ok': True, 'provider_account': jsonable_encoder(row)}

    @router.patch(A + '/{account_id}', tags=['provider accounts'])
    def update_account(account_id: str, body: ProviderAccountUpdate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        data = without_nulls(body)
        if 'base_url' in data.model_fields_set:
            a.principal.require_unscoped(OUTBOUND)
        payload = {'id': account_id, 'fields': sorted(data.model_fields_set)}
        with ctx.unit(a.principal, 'provider_account.update', project_id=a.project.id, payload=payload) as u:
            account(u.session, a, account_id, writing=True)
            row = provider_accounts.update_account(
                u.session, account_id, data, secrets=deps.secrets, allow_link_local=deps.options.allow_link_local_urls
            )
        return {'ok': True, 'provider_account': jsonable_encoder(row)}

    @router.delete(A + '/{account_id}', tags=['provider accounts'])
    def delete_account(account_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The account and its stored key go together."""
        payload = {'id': account_id}
        with ctx.unit(a.principal, 'provider_account.delete', project_id=a.project.id, payload=payload) as u:
            found = account(u.session, a, account_id, writing=True)
            u.payload['name'] = found.name
            provider_accounts.delete_account(u.session, account_id, secrets=deps.secrets)
        return {'ok': True, 'deleted': True, 'id': account_id}

    @router.put(A + '/{account_id}/key', tags=['provider accounts'])
    def set_key(account_id: str, body: ProviderKeyUpdate, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Enter or replace the key (R02): encrypted at once, never returned."""
        payload = {'id': account_id}
        with ctx.unit(a.principal, 'provider_account.set_key', project_id=a.project.id, payload=payload) as u:
            account(u.session, a, account_id, writing=True)
            row = provider_accounts.set_key(u.session, store(), account_id, body.api_key.get_secret_value())
        return {'ok': True, 'provider_account': jsonable_encoder(row)}

    # -- secrets ---------------------------------------------------------------------------------------------
    @router.get(P + '/secrets', tags=['secrets'])
    def list_secrets(a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """The project's secrets by provider and name; values are never shown, not even masked."""
        with sessions() as s:
            rows = store().list(s, scope=a.project.id)
        return {'ok': True, 'count': len(rows), 'secrets': [secret_json(r) for r in rows]}

    @router.post(P + '/secrets', status_code=201, tags=['secrets'])
    def put_secret(body: SecretIn, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        """Store (or replace) a secret for this project, encrypted and bound to its scope, provider and name."""
        payload = {'provider': body.provider, 'name': body.name}
        with ctx.unit(a.principal, 'secret.put', project_id=a.project.id, payload=payload) as u:
            row = store().put(u.session, scope=a.project.id, provider=body.provider, name=body.name, value=body.value)
        return {'ok': True, 'secret': secret_json(row)}

    @router.delete(P + '/secrets/{secret_id}', tags=['secrets'])
    def delete_secret(secret_id: str, a: Access = Depends(ctx.access)) -> dict[str, Any]:
        with ctx.unit(a.principal, 'secret.delete', project_id=a.project.id, payload={'id': secret_id}) as u:
            row = next((r for r in store().list(u.session, scope=a.project.id) if r.id == secret_id), None)
            if row is None:
                raise NotFound('No such secret in this project.', code='secret_not_found')
            u.payload.update({'provider': row.provider, 'name': row.name})
            store().delete(u.session, secret_id)
        return {'ok': True, 'deleted': True, 'id': secret_id}

    return router
