"""The audit log, read-only: who did what, when, in which project; filter by project, actor, action and date."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder

from app.api.auth import Access, ApiContext, Principal
from app.api.errors import EnvelopeRoute
from services.errors import Forbidden
from services.projects import projects
from services.security import audit
from services.security.audit import AuditQuery


class Filters:
    """Query parameters shared by both audit routes."""

    def __init__(
        self,
        actor: str | None = Query(None, max_length=64, description="Prefix, e.g. 'token:' or 'studio'."),
        action: str | None = Query(None, max_length=80, description="Prefix, e.g. 'character.' or 'run.start'."),
        since: datetime | None = Query(None, description='ISO datetime (UTC if no zone).'),
        until: datetime | None = Query(None, description='ISO datetime (UTC if no zone).'),
        limit: int = Query(200, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10_000_000),
    ) -> None:
        self.actor, self.action, self.since, self.until = actor, action, since, until
        self.limit, self.offset = limit, offset

    def query(self, project_id: str | None) -> AuditQuery:
        return AuditQuery(project_id, self.actor, self.action, self.since, self.until, self.limit, self.offset)


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(route_class=EnvelopeRoute, tags=['audit'])
    sessions = ctx.deps.sessions

    def page(q: AuditQuery) -> dict[str, Any]:
        with sessions() as s:
            rows, total = audit.search_events(s, q)
        return {'ok': True, 'count': len(rows), 'total': total, 'audit_events': jsonable_encoder(rows)}

    @router.get('/api/audit-events')
    def audit_events(
        project_slug: str | None = Query(None, max_length=64),
        f: Filters = Depends(),
        who: Principal = Depends(ctx.principal),
    ) -> dict[str, Any]:
        """Every project's events (unscoped tokens); a scoped token sees only its own project's."""
        project_id = who.project_id
        if who.project_id is not None and project_slug and project_slug != who.token.project_slug:
            raise Forbidden('This token is scoped to another project.')
        if who.project_id is None and project_slug:
            with sessions() as s:
                project_id = projects.get_project(s, project_slug).id
        return page(f.query(project_id))

    @router.get('/api/projects/{slug}/audit-events')
    def project_audit_events(f: Filters = Depends(), a: Access = Depends(ctx.access)) -> dict[str, Any]:
        return page(f.query(a.project.id))

    return router
