"""Encrypted provider secrets: AES-256-GCM bound to scope/provider/name, masked reads, status and key rotation."""

from __future__ import annotations

import base64
import binascii
import builtins
import logging
import os
from collections import Counter
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.base import utcnow
from models.db import SessionFactory
from models.project import Project
from models.provider import Secret, SecretRead
from services.errors import Conflict, Invalid, NotFound, SecretError
from services.security import audit
from services.security.master_keys import ENV_KEY, ENV_PREVIOUS, KeyRing, MasterKey, load_keyring

__all__ = ['KeyRing', 'MasterKey', 'SecretStore', 'load_keyring', 'mask', 'stored_key_refs', 'PREFIX']

log = logging.getLogger(__name__)

PREFIX = 'enc:v1:'
NONCE_BYTES = 12
TAG_BYTES = 16
HINT_MIN_LENGTH = 12
MAX_VALUE_CHARS = 64 * 1024
MASK = '••••'
_FIELD_LIMITS = {'scope': 64, 'provider': 64, 'name': 100}


def mask(hint: str) -> str:
    """What lists show instead of a value: never more than the last 4 characters."""
    return MASK + (hint or '')[-4:]


def _hint(value: str) -> str:
    """Only long values get a hint, so the hint never gives away a meaningful share of a short secret."""
    return value[-4:] if len(value) >= HINT_MIN_LENGTH else ''


def _clean(field: str, value: str) -> str:
    """Normalise one part of a secret's identity the same way for writes and lookups."""
    v = (value or '').strip()
    if not v:
        raise Invalid(f'Secret {field} is required.', code='secret_field_required')
    if len(v) > _FIELD_LIMITS[field]:
        raise Invalid(
            f'Secret {field} must be at most {_FIELD_LIMITS[field]} characters.', code='secret_field_too_long'
        )
    if field != 'name' and '|' in v:
        # '|' separates the associated-data parts; only the last part may contain it, so the binding is unambiguous.
        raise Invalid(f'Secret {field} cannot contain "|".', code='secret_field_invalid')
    return v


def _aad(scope: str, provider: str, name: str) -> bytes:
    """Associated data: a ciphertext only decrypts in the row it was written for."""
    return f'{scope}|{provider}|{name}'.encode()


def _label(row: Secret) -> str:
    return f'{row.provider}/{row.name} (scope {row.scope})'


def _split(ciphertext: str) -> tuple[str | None, str] | None:
    """None for legacy plaintext; else (key ref or None if the ref is missing, encoded payload)."""
    if not ciphertext.startswith(PREFIX):
        return None
    ref, sep, blob = ciphertext[len(PREFIX) :].partition(':')
    if not sep or not ref:
        return None, ciphertext[len(PREFIX) :]
    return ref, blob


def _b64decode(blob: str) -> bytes:
    return base64.urlsafe_b64decode(blob + '=' * (-len(blob) % 4))


def stored_key_refs(session: Session) -> dict[str, int]:
    """How many stored secrets each master key ref encrypted (read from the ciphertexts), before any key is loaded."""
    refs: Counter[str] = Counter()
    for ciphertext in session.exec(select(Secret.ciphertext)).all():
        if (parts := _split(ciphertext)) is not None:
            refs[parts[0] or 'unknown'] += 1
    return dict(refs)


def _audit(session: Session, action: str, row: Secret) -> None:
    """Names and scope only, never the value; a scope that is a project id files the event under that project."""
    project_id = row.scope if session.get(Project, row.scope) is not None else None
    payload = {'secret_id': row.id, 'scope': row.scope, 'provider': row.provider, 'name': row.name}
    audit.record(session, project_id=project_id, action=action, payload={**payload, 'key_ref': row.key_ref})


def _to_read(row: Secret) -> SecretRead:
    return SecretRead(
        id=row.id,
        scope=row.scope,
        provider=row.provider,
        name=row.name,
        key_ref=row.key_ref,
        masked=mask(row.hint),
        updated_at=row.updated_at,
    )


class SecretStore:
    """The only code that sees plaintext: it encrypts on write and decrypts in memory on read, never storing it."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring

    def __repr__(self) -> str:
        return f'SecretStore(current_key_ref={self._keyring.current.ref!r}, previous={len(self._keyring.previous)})'

    @property
    def current_key_ref(self) -> str:
        return self._keyring.current.ref

    def key_for(self, ref: str) -> MasterKey | None:
        """The configured key with this ref, if any (never its bytes outside the store's callers)."""
        return self._keyring.find(ref)

    @staticmethod
    def key_ref_of(row: Secret) -> str | None:
        """The key ref a row's ciphertext names; None for legacy plaintext."""
        parts = _split(row.ciphertext)
        return None if parts is None else (parts[0] or 'unknown')

    # -- crypto ------------------------------------------------------------------------------------------------

    def _encrypt(self, value: str, *, scope: str, provider: str, name: str) -> str:
        """A fresh random nonce per value, so equal values never produce equal ciphertexts."""
        try:
            data = value.encode('utf-8')
        except UnicodeEncodeError:
            raise Invalid('The secret value contains characters that cannot be stored.', code='secret_value') from None
        key = self._keyring.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key.key).encrypt(nonce, data, _aad(scope, provider, name))
        return f'{PREFIX}{key.ref}:{base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")}'

    def _decrypt(self, row: Secret) -> str:
        """Decrypt with the key named in the ciphertext; legacy plaintext rows are returned as they are."""
        parts = _split(row.ciphertext)
        if parts is None:
            log.warning('secret %s is stored as legacy plaintext; run secrets rotation to encrypt it', _label(row))
            return row.ciphertext
        ref, blob = parts
        if ref is None:
            raise SecretError(
                f'Secret {_label(row)} is stored in an unrecognised format; enter the value again.',
                code='secret_malformed',
                details={'secret_id': row.id},
            )
        key = self._keyring.find(ref)
        if key is None:
            raise SecretError(
                f'Secret {_label(row)} was encrypted with key {ref}, which is not configured. '
                f'Set {ENV_PREVIOUS} to include that key (or set {ENV_KEY} back to it), then run secrets rotation.',
                code='secret_key_missing',
                details={'key_ref': ref, 'secret_id': row.id},
            )
        try:
            raw = _b64decode(blob)
        except (binascii.Error, ValueError):
            raw = b''
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise SecretError(
                f'Secret {_label(row)} is damaged (its stored value is truncated); enter the value again.',
                code='secret_malformed',
                details={'key_ref': ref, 'secret_id': row.id},
            )
        try:
            data = AESGCM(key.key).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(row.scope, row.provider, row.name)
            )
        except InvalidTag:
            raise SecretError(
                f'Secret {_label(row)} failed its integrity check with key {ref}: the stored value was altered '
                'or copied from another secret. Enter the value again.',
                code='secret_tampered',
                details={'key_ref': ref, 'secret_id': row.id},
            ) from None
        try:
            return data.decode('utf-8')
        except UnicodeDecodeError:
            # from None: the decode error carries the decrypted bytes and must not reach a traceback.
            raise SecretError(
                f'Secret {_label(row)} did not decrypt to text.', code='secret_malformed', details={'secret_id': row.id}
            ) from None

    def _is_current(self, ciphertext: str, key_ref: str) -> bool:
        parts = _split(ciphertext)
        current = self._keyring.current.ref
        return parts is not None and parts[0] == current and key_ref == current

    # -- CRUD --------------------------------------------------------------------------------------------------

    def put(
        self, session: Session, *, scope: str, provider: str, name: str, value: str, audited: bool = True
    ) -> SecretRead:
        """Upsert by (scope, provider, name); audited=False when the caller (an account) records its own event."""
        scope, provider, name = _clean('scope', scope), _clean('provider', provider), _clean('name', name)
        if not isinstance(value, str) or not value.strip():
            raise Invalid('The secret value is empty.', code='secret_value_empty')
        if len(value) > MAX_VALUE_CHARS:
            raise Invalid(f'The secret value is over {MAX_VALUE_CHARS} characters.', code='secret_value_too_long')
        ciphertext = self._encrypt(value, scope=scope, provider=provider, name=name)
        row = self._find(session, scope=scope, provider=provider, name=name)
        if row is None:
            row = Secret(scope=scope, provider=provider, name=name, ciphertext='', key_ref='')
        row.ciphertext = ciphertext
        row.key_ref = self._keyring.current.ref
        row.hint = _hint(value)
        row.updated_at = utcnow()
        session.add(row)
        try:
            session.flush()
        except IntegrityError as e:
            raise Conflict(
                f'Secret {provider}/{name} was saved by someone else at the same time; try again.',
                code='secret_conflict',
            ) from e
        if audited:
            _audit(session, 'secret.put', row)
        log.info('secret stored: %s key_ref=%s', _label(row), row.key_ref)
        return _to_read(row)

    def _find(self, session: Session, *, scope: str, provider: str, name: str) -> Secret | None:
        stmt = select(Secret).where(Secret.scope == scope, Secret.provider == provider, Secret.name == name)
        return session.exec(stmt).first()

    def _row(self, session: Session, secret_id: str) -> Secret:
        row = session.get(Secret, secret_id)
        if row is None:
            raise NotFound('That secret does not exist.', code='secret_not_found')
        return row

    def read(self, session: Session, secret_id: str) -> SecretRead:
        """Masked metadata for one secret, for pages that show whether a key is set."""
        return _to_read(self._row(session, secret_id))

    def get(self, session: Session, secret_id: str) -> str:
        """Decrypt at call time so plaintext only lives in the caller's memory for as long as it needs it."""
        return self._decrypt(self._row(session, secret_id))

    def get_by_name(self, session: Session, *, scope: str, provider: str, name: str) -> str | None:
        """Look a value up by its identity; None when it was never set."""
        row = self._find(
            session, scope=_clean('scope', scope), provider=_clean('provider', provider), name=_clean('name', name)
        )
        return None if row is None else self._decrypt(row)

    def delete(self, session: Session, secret_id: str, *, audited: bool = True) -> None:
        """Remove a secret; provider accounts pointing at it lose their key (the foreign key sets NULL)."""
        row = self._row(session, secret_id)
        if audited:
            _audit(session, 'secret.delete', row)
        session.delete(row)
        session.flush()
        log.info('secret deleted: %s', _label(row))

    def list(self, session: Session, *, scope: str | None = None) -> builtins.list[SecretRead]:
        """Masked rows only: a value is never shown again after it is entered."""
        stmt = select(Secret).order_by(col(Secret.scope), col(Secret.provider), col(Secret.name))
        if scope is not None:
            stmt = stmt.where(Secret.scope == _clean('scope', scope))
        return [_to_read(r) for r in session.exec(stmt).all()]

    # -- status and rotation -----------------------------------------------------------------------------------

    def status(self, session: Session) -> dict[str, Any]:
        """Counts per key ref read from the ciphertexts themselves, so a rotation can never silently miss a row."""
        rows = session.exec(select(Secret.ciphertext)).all()
        refs: Counter[str] = Counter()
        plaintext = 0
        for ciphertext in rows:
            parts = _split(ciphertext)
            if parts is None:
                plaintext += 1
            else:
                refs[parts[0] or 'unknown'] += 1
        current = self._keyring.current.ref
        configured = set(self._keyring.refs)
        return {
            'total': len(rows),
            'encrypted': len(rows) - plaintext,
            'plaintext': plaintext,
            'current_key_ref': current,
            'key_refs': [
                {'key_ref': ref, 'count': n, 'is_current': ref == current, 'configured': ref in configured}
                for ref, n in sorted(refs.items(), key=lambda kv: (kv[0] != current, -kv[1], kv[0]))
            ],
        }

    def rotate(self, session_factory: SessionFactory) -> dict[str, int]:
        """Decrypt every row first (current ones too, so a tampered row is found now), then re-encrypt the readable
        rows not on the current key, one committed row at a time, so a re-run resumes safely.

        'rotated' counts every row rewritten in this run (plaintext ones included; 'plaintext_reencrypted' is that
        subset). Rows that cannot be decrypted are left untouched and reported, by name, in one SecretError."""
        with session_factory() as s:
            rows = s.exec(select(Secret)).all()
        failures: builtins.list[SecretError] = []
        for row in rows:
            try:
                self._decrypt(row)
            except SecretError as e:
                failures.append(e)
        unreadable = {e.details.get('secret_id') for e in failures}
        todo = [r.id for r in rows if r.id not in unreadable and not self._is_current(r.ciphertext, r.key_ref)]
        result = {
            'scanned': len(rows),
            'rotated': 0,
            'plaintext_reencrypted': 0,
            'skipped_current': len(rows) - len(todo) - len(unreadable),
        }
        for rid in todo:
            try:
                with session_factory() as s:
                    outcome = self._rotate_row(s, rid)
            except SecretError as e:
                failures.append(e)
                continue
            if outcome == 'current':
                result['skipped_current'] += 1
            elif outcome in ('rotated', 'plaintext'):
                result['rotated'] += 1
                result['plaintext_reencrypted'] += int(outcome == 'plaintext')
        log.info('secrets rotation to key %s: %s, %d failed', self._keyring.current.ref, result, len(failures))
        with session_factory() as s:
            payload = {**result, 'failed': len(failures), 'key_ref': self._keyring.current.ref}
            audit.record(s, project_id=None, action='secret.rotate', payload=payload)
        if failures:
            raise self._rotation_error(result, failures)
        return result

    def _rotate_row(self, session: Session, secret_id: str) -> str:
        """Re-check and rewrite one row inside its own transaction; returns what happened to it."""
        row = session.get(Secret, secret_id)
        if row is None:
            return 'gone'
        if self._is_current(row.ciphertext, row.key_ref):
            return 'current'  # another process rotated or re-entered it since the scan
        was_plaintext = _split(row.ciphertext) is None
        if was_plaintext and session.get_bind().dialect.name == 'sqlite':
            # Zero the freed bytes of the old plaintext cell instead of leaving them in the page.
            session.connection().exec_driver_sql('PRAGMA secure_delete=ON')
        value = self._decrypt(row)
        row.ciphertext = self._encrypt(value, scope=row.scope, provider=row.provider, name=row.name)
        row.key_ref = self._keyring.current.ref
        session.add(row)
        session.flush()
        return 'plaintext' if was_plaintext else 'rotated'

    def _rotation_error(self, result: dict[str, int], failures: builtins.list[SecretError]) -> SecretError:
        """One actionable message for a partial rotation: which keys are missing and what was still done."""
        missing = sorted({e.details['key_ref'] for e in failures if e.code == 'secret_key_missing'})
        others = sum(1 for e in failures if e.code != 'secret_key_missing')
        parts = [f'Rotated {result["rotated"]} secret(s), but {len(failures)} could not be decrypted.']
        if missing:
            parts.append(
                f'Key(s) {", ".join(missing)} are not configured: add them to {ENV_PREVIOUS} and run rotation again.'
            )
        if others:
            parts.append(f'{others} are damaged or were altered and must be entered again.')
        details = {
            **result,
            'failed': len(failures),
            'missing_key_refs': missing,
            'failed_ids': [e.details.get('secret_id') for e in failures],
            'failures': [
                {'secret_id': e.details.get('secret_id'), 'code': e.code, 'message': e.user_message} for e in failures
            ],
        }
        return SecretError(' '.join(parts), code='secret_rotation_incomplete', details=details)
