"""Who is calling: the bearer dependency (which sets the audit actor to 'token:<id>'), and project scope checks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import event
from sqlmodel import Session

from models.ops import AuditEvent
from models.project import ProjectRead
from services.deps import Deps
from services.errors import Forbidden, NotFound, Unauthorized
from services.projects import projects
from services.security import audit
from services.security import tokens as auth
from services.security.login import check_bind
from services.security.tokens import TokenRead

__all__ = ['Access', 'ApiContext', 'Principal', 'Unit', 'check_bind']

log = logging.getLogger(__name__)

bearer = HTTPBearer(auto_error=False, description='An API token: `Authorization: Bearer kroma_…`.')


@dataclass(frozen=True)
class Principal:
    """A resolved, active token; its actor name is what the audit log records."""

    token: TokenRead

    @property
    def id(self) -> str:
        return self.token.id

    @property
    def project_id(self) -> str | None:
        return self.token.project_id

    @property
    def actor(self) -> str:
        return self.token.actor

    def require_unscoped(self, what: str) -> None:
        if self.project_id is not None:
            raise Forbidden(f'A project-scoped token cannot {what}.')

    def require_project(self, project_id: str | None) -> None:
        """A scoped token reaches only its own project; None means 'all projects', which is wider."""
        if self.project_id is not None and self.project_id != project_id:
            raise Forbidden('This token is scoped to another project.')


@dataclass(frozen=True)
class Access:
    """A principal allowed on one project, with the project read once."""

    principal: Principal
    project: ProjectRead


@dataclass
class Unit:
    """One audited unit of work: the session, and the project and payload the audit event will carry."""

    session: Session
    project_id: str | None
    payload: dict[str, Any] = field(default_factory=dict)


class ApiContext:
    """The dependencies every route module shares, built once from Deps (no module-level state)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.resolve: Callable[..., Principal] = self._resolve_dependency()
        self.principal: Callable[..., AsyncIterator[Principal]] = self._principal_dependency()
        self.access: Callable[..., Access] = self._access_dependency()
        self.unscoped: Callable[..., Principal] = self._unscoped_dependency()

    def _resolve_dependency(self) -> Callable[..., Principal]:
        sessions = self.deps.sessions

        def resolve(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
            if creds is None or not creds.credentials:
                raise Unauthorized('A valid API token is required (Authorization: Bearer kroma_…).')
            with sessions() as s:
                return Principal(auth.resolve_token(s, creds.credentials))

        return resolve

    def _principal_dependency(self) -> Callable[..., AsyncIterator[Principal]]:
        resolve = self.resolve

        async def principal(who: Principal = Depends(resolve)) -> AsyncIterator[Principal]:
            """Async on purpose: the actor is set in the request's own context, which the sync route thread copies."""
            with audit.acting_as(who.actor):
                yield who

        return principal

    def _unscoped_dependency(self) -> Callable[..., Principal]:
        principal = self.principal

        def unscoped(who: Principal = Depends(principal)) -> Principal:
            """For actions wider than one project (creating projects): checked before the body is even read."""
            who.require_unscoped('do this; it needs an unscoped token')
            return who

        return unscoped

    def _access_dependency(self) -> Callable[..., Access]:
        sessions = self.deps.sessions
        principal = self.principal

        def access(
            slug: str = Path(description='Project slug.', max_length=64), who: Principal = Depends(principal)
        ) -> Access:
            """A scoped token gets 403 for any other project, existing or not, so it learns nothing about them."""
            with sessions() as s:
                try:
                    project = projects.get_project(s, slug)
                except NotFound:
                    if who.project_id is not None:
                        raise Forbidden('This token is scoped to another project.') from None
                    raise
            who.require_project(project.id)
            return Access(who, project)

        return access

    @contextmanager
    def unit(
        self, who: Principal, action: str, *, project_id: str | None, payload: dict[str, Any] | None = None
    ) -> Iterator[Unit]:
        """One transaction for a mutation; a service that records no event of its own gets this generic one."""
        with audit.acting_as(who.actor), self.deps.sessions() as s:
            added: list[AuditEvent] = []

            def collect(_session: Session, obj: object) -> None:
                if isinstance(obj, AuditEvent):
                    added.append(obj)

            event.listen(s, 'transient_to_pending', collect)
            u = Unit(s, project_id, dict(payload or {}))
            yield u
            if not added:
                audit.record(s, project_id=u.project_id, action=action, payload=u.payload)
