"""Audit log: every mutation leaves a row saying who did what, and a payload that never holds a secret."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.ops import AuditEvent
from models.project import Project
from services.errors import Invalid
from services.security.tokens import aware

log = logging.getLogger(__name__)

SECRET_KEY = re.compile(r'(password|passwd|api[_-]?key|token|ciphertext|authorization|secret_value|private_key)$', re.I)
REDACTED = '[redacted]'
DEFAULT_ACTOR = 'studio'

_actor: ContextVar[str] = ContextVar('kroma_audit_actor', default=DEFAULT_ACTOR)


def current_actor() -> str:
    """Who the events written now are attributed to: 'studio', 'cli', 'token:<id>' or 'job:<id>'."""
    return _actor.get()


@contextmanager
def acting_as(actor: str) -> Iterator[str]:
    """Attribute every event recorded inside the block (this thread or task, and what it copies) to `actor`."""
    if not actor.strip():
        raise ValueError('An audit actor must not be empty.')
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def scrub(value: Any) -> Any:
    """Drop anything stored under a secret-looking key, however deep, so a log can be shown or exported safely."""
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY.search(str(k)) else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def record(
    session: Session, *, project_id: str | None, action: str, payload: dict[str, Any], actor: str | None = None
) -> None:
    """Add one event in the caller's transaction, so it is written exactly when the mutation is."""
    who = actor or current_actor()
    session.add(AuditEvent(project_id=project_id, actor=who[:64], action=action[:80], payload=scrub(payload)))


def list_events(session: Session, project_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first, as plain dicts for a log view or a test."""
    rows = session.exec(
        select(AuditEvent)
        .where(AuditEvent.project_id == project_id)
        .order_by(col(AuditEvent.created_at).desc())
        .limit(limit)
    ).all()
    return [{'actor': r.actor, 'action': r.action, 'payload': r.payload, 'created_at': r.created_at} for r in rows]


# -- queries for the API and the /audit page ---------------------------------------------------------------------
@dataclass(frozen=True)
class AuditEventRead:
    id: str
    project_id: str | None
    project_slug: str | None
    actor: str
    action: str
    payload: dict
    created_at: datetime


@dataclass(frozen=True)
class AuditQuery:
    """Filters for the audit log: actor and action match a prefix ('token:', 'character.'); dates are UTC."""

    project_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    offset: int = 0


def _utc(when: datetime) -> datetime:
    """A naive filter date means UTC; one far outside the calendar is refused, not crashed on."""
    try:
        return aware(when)  # type: ignore[return-value]
    except OverflowError as e:
        raise Invalid('That date is out of range.', code='invalid_date') from e


def search_events(session: Session, q: AuditQuery) -> tuple[list[AuditEventRead], int]:
    """Newest first, one page, plus the total that matched (for paging)."""
    if not 1 <= q.limit <= 1000 or q.offset < 0:
        raise Invalid('Limit must be 1–1000 and offset ≥ 0.')
    query = select(AuditEvent)
    if q.project_id:
        query = query.where(AuditEvent.project_id == q.project_id)
    if q.actor:
        query = query.where(col(AuditEvent.actor).startswith(q.actor.strip(), autoescape=True))
    if q.action:
        query = query.where(col(AuditEvent.action).startswith(q.action.strip(), autoescape=True))
    if q.since:
        query = query.where(AuditEvent.created_at >= _utc(q.since))
    if q.until:
        query = query.where(AuditEvent.created_at <= _utc(q.until))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id)).offset(q.offset).limit(q.limit)
    ).all()
    slugs = dict(session.exec(select(Project.id, Project.slug)).all())
    out = [AuditEventRead(r.id, r.project_id, slugs.get(r.project_id or ''), r.actor, r.action, r.payload,
                          aware(r.created_at)) for r in rows]  # type: ignore[arg-type]  # fmt: skip
    return out, total
