"""Idle workers on other machines start at once when work is queued: PostgreSQL's LISTEN/NOTIFY carries the news.

A studio (or the API, or the copilot) that queues a run notifies the channel after its commit; every idle worker
listening on it wakes and claims. The notice is only a hint: claims stay the guarded, leased transactions they
are, and a worker that missed it (not yet listening, connection lost) finds the work at its next poll anyway.
On SQLite, one machine and no channel: the studio wakes its own worker in-process and others poll."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

CHANNEL = 'kroma_runs'
RETRY_S = 30.0  # after a failed LISTEN, poll this long before trying again (one warning, not one per poll)


def notify_runs(engine: Engine) -> None:
    """Tell every listening worker that runs were queued (PostgreSQL; nothing elsewhere). Never raises: a lost
    notice only means a worker finds the work at its next poll."""
    if engine.dialect.name != 'postgresql':
        return
    try:
        with engine.connect() as conn:
            conn.execute(text('SELECT pg_notify(:channel, :payload)'), {'channel': CHANNEL, 'payload': ''})
            conn.commit()
    except Exception:
        log.warning('Could not notify idle workers of new runs; they find them at their next poll', exc_info=True)


class RunsListener:
    """An idle worker's wait: returns early when a notice arrives, else after the poll interval or on stop."""

    def __init__(self, engine: Engine, stop: threading.Event) -> None:
        self.engine, self.stop = engine, stop
        self._conn: Any = None
        self._failed_at = -RETRY_S

    def wait(self, timeout_s: float) -> bool:
        """Wait up to timeout_s; True when a notice came (work was queued somewhere)."""
        conn = self._listening()
        if conn is None:
            self.stop.wait(timeout_s)
            return False
        try:
            return any(True for _ in conn.notifies(timeout=timeout_s, stop_after=1))
        except Exception:
            log.warning('The wake-up channel was lost; polling until it is back', exc_info=True)
            self.close()
            self._failed_at = time.monotonic()
            self.stop.wait(timeout_s)
            return False

    def _listening(self) -> Any:
        """A dedicated autocommit connection that LISTENs (PostgreSQL only; None elsewhere or when it fails)."""
        if self._conn is not None or self.engine.dialect.name != 'postgresql':
            return self._conn
        if time.monotonic() - self._failed_at < RETRY_S:
            return None
        try:
            raw = self.engine.raw_connection()
            conn = raw.driver_connection
            raw.detach()  # held for the worker's life, never returned to the pool
            conn.autocommit = True
            conn.execute(f'LISTEN {CHANNEL}')
            self._conn = conn
        except Exception:
            self._failed_at = time.monotonic()
            log.warning('Could not listen for new runs; polling instead', exc_info=True)
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
