"""When a master key is lost for good: remove the secrets nobody can decrypt, so their keys can be entered again."""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from models.provider import ProviderAccount, Secret
from services.security import audit
from services.security.secrets import SecretStore, stored_key_refs

log = logging.getLogger(__name__)


def forget_lost_keys(session: Session, store: SecretStore) -> list[str]:
    """Delete every secret encrypted with a key that is not configured; returns the provider accounts that lost
    their key (their key field is empty afterwards: enter it again)."""
    lost_refs = [ref for ref in stored_key_refs(session) if store.key_for(ref) is None]
    if not lost_refs:
        return []
    rows = [r for r in session.exec(select(Secret)).all() if store.key_ref_of(r) in lost_refs]
    accounts = session.exec(select(ProviderAccount).where(ProviderAccount.secret_id.in_([r.id for r in rows]))).all()  # type: ignore[union-attr]
    names = sorted(a.name for a in accounts)
    for row in rows:
        session.delete(row)
    session.flush()
    audit.record(
        session,
        project_id=None,
        action='secret.forget_lost_key',
        payload={'key_refs': lost_refs, 'deleted': len(rows), 'accounts': names},
    )
    log.warning('Deleted %d secret(s) encrypted with lost key(s) %s', len(rows), ', '.join(lost_refs))
    return names


def account_names_by_secret(session: Session) -> dict[str, str]:
    """Which provider account uses which secret, so a damaged secret can be named by the account to fix."""
    rows = session.exec(select(ProviderAccount.secret_id, ProviderAccount.name)).all()
    return {secret_id: name for secret_id, name in rows if secret_id}
