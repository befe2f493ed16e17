"""Audit log: every mutation leaves a row saying who did what, and a payload that never holds a secret."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlmodel import Session, col, select

from models.ops import AuditEvent

log = logging.getLogger(__name__)

SECRET_KEY = re.compile(r'(password|passwd|api[_-]?key|token|ciphertext|authorization|secret_value|private_key)$', re.I)
REDACTED = '[redacted]'


def scrub(value: Any) -> Any:
    """Drop anything stored under a secret-looking key, however deep, so a log can be shown or exported safely."""
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY.search(str(k)) else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def record(session: Session, *, project_id: str | None, actor: str, action: str, payload: dict[str, Any]) -> None:
    """Add one event in the caller's transaction, so it is written exactly when the mutation is."""
    session.add(AuditEvent(project_id=project_id, actor=actor[:64], action=action[:80], payload=scrub(payload)))


def list_events(session: Session, project_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first, as plain dicts for a log view or a test."""
    rows = session.exec(
        select(AuditEvent)
        .where(AuditEvent.project_id == project_id)
        .order_by(col(AuditEvent.created_at).desc())
        .limit(limit)
    ).all()
    return [{'actor': r.actor, 'action': r.action, 'payload': r.payload, 'created_at': r.created_at} for r in rows]
