"""An account's concurrency limit held in the database: one row per slot, taken by a call and freed when it ends.

The limit then holds across every worker process on every machine sharing the database (a per-process semaphore
cannot). A slot is taken with a guarded UPDATE (on PostgreSQL its row picked with FOR UPDATE SKIP LOCKED), carries
a lease its worker's heartbeat renews, and frees itself when a dead worker stops renewing it."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from models.base import new_id, utcnow
from models.db import SessionFactory
from models.slots import ProviderSlot
from services.runs import holders

log = logging.getLogger(__name__)

POLL_S = 0.01  # first wait for a busy account's slot; it grows to MAX_POLL_S
MAX_POLL_S = 0.1


class AccountSlots:
    """The shared limit of one account as a worker sees it (ConcurrencyGate's `shared`)."""

    def __init__(self, pool: SlotPool, account_key: str, limit: int) -> None:
        self.pool, self.account_key, self.limit = pool, account_key[:64], max(1, int(limit))
        self._rows_ready = False
        self.waits = 0  # polls that found every slot busy (for benchmarks)

    async def acquire(self) -> str:
        """Wait for a free slot of the account; returns the token that frees it."""
        delay = POLL_S
        while True:
            token = new_id()
            attempt = asyncio.ensure_future(asyncio.to_thread(self._try, token))
            try:
                got = await asyncio.shield(attempt)
            except asyncio.CancelledError:  # the slot may still be taken by the thread: give it back then
                attempt.add_done_callback(lambda f, t=token: _release_later(self.pool, t, f))
                raise
            if got:
                return token
            self.waits += 1
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_S)

    async def release(self, token: str) -> None:
        """Freed in the database on a worker thread while this process's next call goes on: the slot counts as taken
        a moment longer, never shorter, and a call's end waits for no round trip."""
        asyncio.get_running_loop().run_in_executor(None, self.pool.release_token, token)

    def _try(self, token: str) -> bool:
        with self.pool.sessions() as s:
            if not self._rows_ready:
                ensure_slots(s, self.account_key, self.limit)
                self._rows_ready = True
            return take_slot(
                s, self.account_key, self.limit, holder=token, worker=self.pool.worker, lease_s=self.pool.lease_s
            )


def _release_later(pool: SlotPool, token: str, attempt: asyncio.Future) -> None:
    if not attempt.cancelled() and attempt.exception() is None and attempt.result():
        asyncio.get_running_loop().run_in_executor(None, pool.release_token, token)


class SlotPool:
    """One per worker pass: hands out each account's shared limit and renews the slots this worker holds."""

    def __init__(self, sessions: SessionFactory, worker: str, lease_s: float) -> None:
        self.sessions, self.worker, self.lease_s = sessions, worker, lease_s
        self._accounts: dict[str, AccountSlots] = {}

    def for_account(self, account_key: str, limit: int) -> AccountSlots:
        key = f'{account_key}:{limit}'
        if key not in self._accounts:
            self._accounts[key] = AccountSlots(self, account_key, limit)
        return self._accounts[key]

    def release_token(self, token: str) -> None:
        try:
            with self.sessions() as s:
                release(s, token)
        except Exception:  # the slot stays this worker's until the pass ends (release_all) or its lease runs out
            log.exception('Could not free a provider slot; it is freed when this pass ends')

    def release_all(self) -> int:
        """At the end of a pass: nothing of this worker's stays taken, even after a call that broke oddly."""
        with self.sessions() as s:
            return s.execute(free_values(update(ProviderSlot).where(ProviderSlot.worker == self.worker))).rowcount


def ensure_slots(session: Session, account_key: str, limit: int) -> None:
    """The account's slot rows 0..limit-1 (created by whichever worker needs them first)."""
    rows = [{'account_key': account_key, 'slot': i} for i in range(limit)]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == 'postgresql' else sqlite_insert
    session.execute(insert(ProviderSlot).values(rows).on_conflict_do_nothing())
    session.commit()


def take_slot(session: Session, account_key: str, limit: int, *, holder: str, worker: str, lease_s: float) -> bool:
    """Take one free (or expired) slot of the account below its current limit; False when all are busy."""
    now = utcnow()
    free = (
        ProviderSlot.account_key == account_key,
        col(ProviderSlot.slot) < limit,
        or_(col(ProviderSlot.holder).is_(None), col(ProviderSlot.expires_at) < now),
    )
    values = {'holder': holder, 'worker': worker, 'expires_at': now + timedelta(seconds=lease_s)}
    if session.get_bind().dialect.name == 'postgresql':  # one statement: the first free row nobody is taking now
        first = select(ProviderSlot.slot).where(*free).order_by(col(ProviderSlot.slot)).limit(1)
        pick = first.with_for_update(skip_locked=True).scalar_subquery()
        taken = session.execute(update(ProviderSlot).where(ProviderSlot.slot == pick, *free).values(**values))
        return taken.rowcount == 1
    for slot in session.exec(select(ProviderSlot.slot).where(*free).order_by(col(ProviderSlot.slot))).all():
        taken = session.execute(update(ProviderSlot).where(ProviderSlot.slot == slot, *free).values(**values))
        if taken.rowcount == 1:
            return True
    return False


def free_values(stmt):  # noqa: ANN001, ANN201
    return stmt.values(holder=None, worker=None, expires_at=None)


def release(session: Session, holder: str) -> None:
    session.execute(free_values(update(ProviderSlot).where(ProviderSlot.holder == holder)))


def free_gone_here(session: Session) -> int:
    """Free at once the slots of this machine's workers whose process is gone (a killed `kroma run`), so a resume
    does not wait out their lease for the account's limit."""
    held = session.exec(select(ProviderSlot.worker).where(col(ProviderSlot.holder).is_not(None))).all()
    gone = {worker for worker in held if holders.gone_here(worker)}
    for worker in gone:
        session.execute(free_values(update(ProviderSlot).where(ProviderSlot.worker == worker)))
    return sum(1 for worker in held if worker in gone)


def renew(session: Session, worker: str, lease_s: float) -> int:
    """The worker's heartbeat for the slots its calls hold."""
    expires = utcnow() + timedelta(seconds=lease_s)
    query = update(ProviderSlot).where(ProviderSlot.worker == worker, col(ProviderSlot.holder).is_not(None))
    return session.execute(query.values(expires_at=expires)).rowcount


def in_use(session: Session, account_key: str) -> int:
    """Slots of the account taken now and not expired: calls in flight across all workers."""
    now = utcnow()
    rows = session.exec(
        select(ProviderSlot.slot).where(
            ProviderSlot.account_key == account_key,
            col(ProviderSlot.holder).is_not(None),
            col(ProviderSlot.expires_at) >= now,
        )
    ).all()
    return len(rows)
