"""Provider accounts (J00/R02): where generation goes, with the key stored encrypted and decrypted only at call time."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from models.base import ProviderKind, utcnow
from models.provider import ProviderAccount, ProviderAccountCreate, ProviderAccountRead, ProviderAccountUpdate
from services.errors import Conflict, Invalid, NotFound
from services.providers.base import ProviderConfig
from services.security import audit
from services.security.outbound import check_outbound_url
from services.security.secrets import SecretStore, mask

log = logging.getLogger(__name__)

GENERATION_KINDS = (ProviderKind.local, ProviderKind.openai, ProviderKind.comfyui)
KEY_KINDS = {ProviderKind.openai, ProviderKind.removebg, ProviderKind.photoroom, ProviderKind.chat}
QUALITIES = ('auto', 'low', 'medium', 'high')
DEFAULT_URLS = {ProviderKind.openai: 'https://api.openai.com', ProviderKind.comfyui: 'http://127.0.0.1:8188'}
DEFAULT_MODELS = {ProviderKind.openai: 'gpt-image-2', ProviderKind.local: 'kroma-local-v1'}


def validate_options(options: dict[str, Any]) -> dict[str, Any]:
    """Options are checked by name and range so a typo never reaches a paid call."""
    out = dict(options)
    if 'concurrency' in out and not (isinstance(out['concurrency'], int) and 1 <= out['concurrency'] <= 32):
        raise Invalid('options.concurrency must be a whole number from 1 to 32.', code='invalid_options')
    if 'timeout_s' in out and not (isinstance(out['timeout_s'], int | float) and 1 <= out['timeout_s'] <= 900):
        raise Invalid('options.timeout_s must be between 1 and 900 seconds.', code='invalid_options')
    if out.get('size') and not re.fullmatch(r'\d{2,5}x\d{2,5}', str(out['size'])):
        raise Invalid('options.size must look like 1024x1536.', code='invalid_options')
    if out.get('quality') and out['quality'] not in QUALITIES:
        raise Invalid(f'options.quality must be one of {", ".join(QUALITIES)}.', code='invalid_options')
    return out


def _check_url(url: str, allow_link_local: bool) -> str:
    """Checked before anything is stored, logged or audited (services/security/outbound.py)."""
    if not url.strip():
        return ''
    return check_outbound_url(url, what='The base URL', allow_link_local=allow_link_local)


def _read(row: ProviderAccount, secrets: SecretStore | None, session: Session) -> ProviderAccountRead:
    hint = ''
    if row.secret_id and secrets is not None:
        hint = secrets.read(session, row.secret_id).masked
    elif row.secret_id:
        hint = mask('')
    return ProviderAccountRead.model_validate({**row.model_dump(), 'has_key': bool(row.secret_id), 'key_hint': hint})


def _audit(session: Session, row: ProviderAccount, action: str, **extra: Any) -> None:
    """Who changed which account; the payload names the account, never its key."""
    payload = {'account_id': row.id, 'name': row.name, 'kind': row.kind.value, **extra}
    audit.record(session, project_id=row.project_id, action=action, payload=payload)


def get_row(session: Session, account_id: str) -> ProviderAccount:
    row = session.get(ProviderAccount, account_id)
    if row is None:
        raise NotFound('No such provider account.')
    return row


def find_by_name(session: Session, name: str, *, project_id: str | None = None) -> ProviderAccount:
    """A project's own account wins over a global one of the same name."""
    rows = session.exec(
        select(ProviderAccount).where(
            ProviderAccount.name == name,
            or_(col(ProviderAccount.project_id).is_(None), ProviderAccount.project_id == project_id),
        )
    ).all()
    if not rows:
        raise NotFound(f'No provider account named "{name}".')
    return sorted(rows, key=lambda r: r.project_id is None)[0]


def _free_name(session: Session, name: str, *, project_id: str | None, account_id: str | None = None) -> str:
    """Checked here because SQLite's unique constraint treats every NULL project_id (global) as distinct."""
    name = (name or '').strip()
    if not name:
        raise Invalid('Account name must not be empty.', code='name_required')
    dupe = session.exec(
        select(ProviderAccount).where(ProviderAccount.name == name, ProviderAccount.project_id == project_id)
    ).first()
    if dupe is not None and dupe.id != account_id:
        raise Conflict(f'An account named "{name}" already exists here.', code='name_taken')
    return name


def create_account(
    session: Session,
    data: ProviderAccountCreate,
    *,
    project_id: str | None = None,
    secrets: SecretStore | None = None,
    allow_link_local: bool = False,
) -> ProviderAccountRead:
    """The account belongs to project_id (None: every project) unless data.shared makes it global."""
    owner = None if data.shared else project_id
    name = _free_name(session, data.name, project_id=owner)
    row = ProviderAccount(
        name=name,
        kind=data.kind,
        project_id=owner,
        base_url=_check_url(data.base_url, allow_link_local) or DEFAULT_URLS.get(data.kind, ''),
        model=data.model.strip() or DEFAULT_MODELS.get(data.kind, ''),
        options=validate_options(data.options),
    )
    session.add(row)
    session.flush()
    _audit(session, row, 'provider_account.create')
    if api_key := (data.api_key.get_secret_value() if data.api_key else ''):
        if secrets is None:
            raise Invalid('Keys cannot be stored without the secrets service.')
        set_key(session, secrets, row.id, api_key)
    return _read(row, secrets, session)


def update_account(
    session: Session,
    account_id: str,
    data: ProviderAccountUpdate,
    *,
    secrets: SecretStore | None = None,
    allow_link_local: bool = False,
) -> ProviderAccountRead:
    row = get_row(session, account_id)
    patch = data.model_dump(exclude_unset=True, exclude_none=True)
    if 'base_url' in patch:
        patch['base_url'] = _check_url(patch['base_url'], allow_link_local)
    if 'options' in patch:
        patch['options'] = validate_options({**row.options, **patch['options']})
    if 'name' in patch:
        patch['name'] = _free_name(session, patch['name'], project_id=row.project_id, account_id=row.id)
    for key, value in patch.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    session.add(row)
    _audit(session, row, 'provider_account.update', fields=sorted(patch))
    return _read(row, secrets, session)


def delete_account(session: Session, account_id: str, *, secrets: SecretStore | None = None) -> None:
    row = get_row(session, account_id)
    secret_id = row.secret_id
    _audit(session, row, 'provider_account.delete')
    session.delete(row)
    session.flush()
    if secret_id and secrets is not None:
        secrets.delete(session, secret_id, audited=False)


def set_key(session: Session, secrets: SecretStore, account_id: str, value: str) -> ProviderAccountRead:
    """Enter or replace a key (R02): encrypted at once; afterwards only its last four characters are ever shown."""
    row = get_row(session, account_id)
    value = (value or '').strip()
    if not value:
        raise Invalid('The key must not be empty.', code='key_required')
    secret = secrets.put(
        session,
        scope=row.project_id or 'global',
        provider=row.kind.value,
        name=f'account:{row.id}',
        value=value,
        audited=False,
    )
    row.secret_id = secret.id
    row.health = {}
    row.updated_at = utcnow()
    session.add(row)
    _audit(session, row, 'provider_account.set_key')
    log.info('Key replaced for provider account %s', row.name)
    return _read(row, secrets, session)


def list_accounts(
    session: Session, *, project_id: str | None = None, secrets: SecretStore | None = None, kinds: tuple = ()
) -> list[ProviderAccountRead]:
    query = select(ProviderAccount).where(
        or_(col(ProviderAccount.project_id).is_(None), ProviderAccount.project_id == project_id)
    )
    if kinds:
        query = query.where(col(ProviderAccount.kind).in_(kinds))
    rows = session.exec(query.order_by(col(ProviderAccount.kind), col(ProviderAccount.name))).all()
    return [_read(r, secrets, session) for r in rows]


def provider_config(session: Session, account_id: str, *, secrets: SecretStore | None) -> ProviderConfig:
    """The config a provider is built from; the key is decrypted here, in memory, only for the call about to happen."""
    row = get_row(session, account_id)
    api_key = secrets.get(session, row.secret_id) if (row.secret_id and secrets is not None) else None
    return ProviderConfig(
        kind=row.kind.value,
        name=row.name,
        base_url=row.base_url,
        model=row.model,
        api_key=api_key,
        options=dict(row.options),
    )


def record_health(session: Session, account_id: str, health: dict[str, Any]) -> None:
    row = get_row(session, account_id)
    row.health = {**health, 'checked_at': utcnow().isoformat()}
    session.add(row)


DEFAULT_ACCOUNT_SETTING = 'default_account_id'


def default_account_id(settings: dict[str, Any], accounts: Sequence[ProviderAccountRead]) -> str | None:
    """The project's chosen default account, else the built-in offline renderer: never whichever sorts first,
    which could be a paid account."""
    ids = {a.id for a in accounts}
    chosen = settings.get(DEFAULT_ACCOUNT_SETTING)
    if chosen in ids:
        return chosen
    local = [a for a in accounts if a.kind == ProviderKind.local]
    return next((a.id for a in local if a.project_id is None), local[0].id if local else None)
