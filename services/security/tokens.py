"""API tokens: random bearer tokens stored only as SHA-256, optional project scope, expiry and revocation."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.base import utcnow
from models.ops import ApiToken
from models.project import Project
from services.errors import Forbidden, Invalid, NotFound, Unauthorized

log = logging.getLogger(__name__)

TOKEN_PREFIX = 'kroma_'
TOKEN_RE = re.compile(r'^kroma_[0-9a-f]{64}$')
DISPLAY_CHARS = 12
MAX_LABEL = 200
TOUCH_EVERY = timedelta(minutes=1)
DURATION_RE = re.compile(r'^(\d{1,5})([mhdw])$')
UNITS = {'m': 'minutes', 'h': 'hours', 'd': 'days', 'w': 'weeks'}
MAX_DURATION = {'m': 99_999, 'h': 99_999, 'd': 36_500, 'w': 5_200}


@dataclass(frozen=True)
class TokenRead:
    """What lists show: never the token or its hash, only the prefix that tells tokens apart."""

    id: str
    prefix: str
    label: str
    project_id: str | None
    project_slug: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    active: bool

    @property
    def actor(self) -> str:
        return f'token:{self.id}'


@dataclass(frozen=True)
class IssuedToken:
    """The plaintext exists only here, once: the caller shows it and forgets it."""

    token: str
    info: TokenRead


def aware(when: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written as UTC."""
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; an unknown peer is never trusted."""
    if not host:
        return False
    if host.lower() == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host.strip('[]')).is_loopback
    except ValueError:
        return False


def parse_expiry(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """'30d', '12h', '2w', '90m', an ISO date (end of that day, UTC) or an ISO datetime; empty means never."""
    text = (text or '').strip()
    if not text:
        return None
    now = now or utcnow()
    if m := DURATION_RE.match(text.lower()):
        if not 0 < int(m[1]) <= MAX_DURATION[m[2]]:
            raise Invalid('An expiry duration must be more than zero and at most 100 years.', code='invalid_expiry')
        return now + timedelta(**{UNITS[m[2]]: int(m[1])})
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(23, 59, 59), tzinfo=UTC)
        return aware(datetime.fromisoformat(text.replace('Z', '+00:00')))
    except (ValueError, OverflowError) as e:
        raise Invalid(
            f'Expiry "{text}" is neither a duration like 30d / 12h nor an ISO date or datetime.', code='invalid_expiry'
        ) from e


def _active(row: ApiToken, now: datetime) -> bool:
    expires = aware(row.expires_at)
    return row.revoked_at is None and (expires is None or expires > now)


def _read(session: Session, row: ApiToken, now: datetime | None = None) -> TokenRead:
    slug = session.get(Project, row.project_id).slug if row.project_id else None  # type: ignore[union-attr]
    times = (aware(row.created_at), aware(row.expires_at), aware(row.revoked_at), aware(row.last_used_at))
    return TokenRead(row.id, row.prefix, row.label, row.project_id, slug, *times, _active(row, now or utcnow()))  # type: ignore[arg-type]


def create_token(
    session: Session,
    *,
    project_id: str | None = None,
    expires_at: datetime | None = None,
    label: str = '',
    creator: ApiToken | TokenRead | None,
) -> IssuedToken:
    """Mint a token no wider than its creator: same project, and never outliving an expiring creator."""
    now = utcnow()
    expires_at = aware(expires_at)
    if creator is not None and creator.project_id is not None:
        if project_id is None:
            raise Forbidden('A project-scoped token cannot create an unscoped token.', code='scope_escalation')
        if project_id != creator.project_id:
            raise Forbidden('A project-scoped token can only create tokens for its own project.', code='forbidden')
    creator_expiry = aware(creator.expires_at) if creator is not None else None
    if creator_expiry is not None:
        if expires_at is None:
            expires_at = creator_expiry
        elif expires_at > creator_expiry:
            raise Forbidden('A token cannot outlive the token that creates it.', code='scope_escalation')
    if expires_at is not None and expires_at <= now:
        raise Invalid('The expiry is in the past.', code='invalid_expiry')
    if project_id is not None and session.get(Project, project_id) is None:
        raise NotFound('No such project.')
    token = TOKEN_PREFIX + secrets.token_hex(32)
    row = ApiToken(
        project_id=project_id,
        token_hash=hash_token(token),
        prefix=token[:DISPLAY_CHARS],
        label=' '.join((label or '').split())[:MAX_LABEL],
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    log.info('API token %s created (%s)', row.prefix, f'project {project_id}' if project_id else 'unscoped')
    return IssuedToken(token, _read(session, row, now))


def resolve_token(session: Session, token: str, *, now: datetime | None = None) -> TokenRead:
    """The token behind a bearer header, or Unauthorized; last use is written at most once a minute."""
    now = now or utcnow()
    token = (token or '').strip()
    if not TOKEN_RE.match(token):
        raise Unauthorized('A valid API token is required (Authorization: Bearer kroma_…).')
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None:
        raise Unauthorized('Unknown API token.')
    if row.revoked_at is not None:
        raise Unauthorized('This API token was revoked.', code='token_revoked')
    if not _active(row, now):
        raise Unauthorized('This API token has expired.', code='token_expired')
    last = aware(row.last_used_at)
    if last is None or now - last >= TOUCH_EVERY:
        row.last_used_at = now
        session.add(row)
    return _read(session, row, now)


def list_tokens(session: Session, *, viewer: TokenRead | None = None) -> list[TokenRead]:
    """Newest first; a project-scoped viewer sees only its project's tokens."""
    query = select(ApiToken).order_by(col(ApiToken.created_at).desc())
    if viewer is not None and viewer.project_id is not None:
        query = query.where(ApiToken.project_id == viewer.project_id)
    now = utcnow()
    return [_read(session, r, now) for r in session.exec(query).all()]


def revoke_token(session: Session, token_id: str, *, by: TokenRead | None = None) -> TokenRead:
    """Soft and idempotent; a project-scoped token can revoke only tokens of its own project."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound('No such token.', code='token_not_found')
    if by is not None and by.project_id is not None and row.project_id != by.project_id:
        raise Forbidden('A project-scoped token can only revoke tokens of its own project.')
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        log.info('API token %s revoked', row.prefix)
    return _read(session, row)


def token_count(session: Session) -> int:
    """Every token ever created, revoked or expired ones included."""
    return session.exec(select(func.count()).select_from(ApiToken)).one()


def bootstrap_allowed(session: Session, client_host: str | None) -> bool:
    """The first token may be created without a token only by a loopback peer, and only while none ever existed."""
    return is_loopback(client_host) and token_count(session) == 0


def require_bootstrap(session: Session, client_host: str | None) -> None:
    if not bootstrap_allowed(session, client_host):
        raise Unauthorized(
            'A valid API token is required. The first token can be created without one only from this machine '
            '(loopback) while no token has ever existed; otherwise use `kroma token create`.'
        )


def create_first_token(
    session: Session, client_host: str | None, *, label: str = '', project_id: str | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:  # fmt: skip
    """The bootstrap: refused unless bootstrap_allowed, and re-checked after the insert so two racers cannot both win."""
    require_bootstrap(session, client_host)
    issued = create_token(
        session, project_id=project_id, expires_at=expires_at, label=label or 'first token', creator=None
    )
    if token_count(session) != 1:
        raise Unauthorized('Another first token was created at the same time; use `kroma token create`.')
    return issued
