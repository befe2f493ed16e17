"""A worker pass's run logs: each rewritten from the database, one rewrite per run at a time, at most every few
seconds while jobs keep finishing, and always when the pass ends (a worker's pass ends when the queue has nothing
left for it, so the run's last job is followed by its final log). A long run is then not rewritten in full after
every job by every worker: with 4 workers on a 200-candidate run that was a fifth of their CPU. Progress is read
from the database, never from this file, so it lags nothing the studio shows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from models.db import SessionFactory
from models.project import Project
from models.runs import Run
from services.projects.assets import AssetStore
from services.runs.log import write_run_log

log = logging.getLogger(__name__)

LOG_EVERY_S = 5.0  # while a run's jobs keep finishing, its log is rewritten at most this often by one worker


class RunLogWriter:
    """One per worker pass (drain); `flush` at its end writes every log that is due, without waiting."""

    def __init__(self, sessions: SessionFactory, store: AssetStore) -> None:
        self.sessions, self.store = sessions, store
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: set[str] = set()  # a rewrite waits for the one being written: later callers fold into it
        self._due: set[str] = set()  # a rewrite is scheduled
        self._written_at: dict[str, float] = {}
        self._flush = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self.rewrites = 0

    def known(self, run_id: str) -> bool:
        return run_id in self._locks

    def start(self, run_id: str) -> None:
        """The run's first job here: its log exists from now on, so a run that dies has one."""
        self._locks.setdefault(run_id, asyncio.Lock())
        self._spawn(self.write(run_id))

    def soon(self, run_id: str) -> None:
        """A job ended: the log is rewritten now if it was not within LOG_EVERY_S, else once when that is up (or the
        pass ends), taking in every job that ended meanwhile."""
        if run_id not in self._due:
            self._due.add(run_id)
            self._spawn(self._when_due(run_id))

    async def write(self, run_id: str) -> None:
        """Rewrite now; one rewrite per run at a time, so the newest state is written last. A rewrite already waiting
        reads the database after this caller's changes, so this one is folded into it."""
        if run_id in self._waiting:
            return
        self._waiting.add(run_id)
        async with self._locks.setdefault(run_id, asyncio.Lock()):
            self._waiting.discard(run_id)
            self._written_at[run_id] = time.monotonic()
            try:
                await asyncio.to_thread(self._write, run_id)
                self.rewrites += 1
            except Exception:
                log.exception('Could not write the log of run %s', run_id)

    async def flush(self) -> None:
        """The pass ends: every scheduled rewrite is made now, and awaited."""
        self._flush.set()
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _when_due(self, run_id: str) -> None:
        wait = self._written_at.get(run_id, -LOG_EVERY_S) + LOG_EVERY_S - time.monotonic()
        if wait > 0 and not self._flush.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush.wait(), wait)
        self._due.discard(run_id)  # a job ending from here on schedules the next rewrite
        await self.write(run_id)

    def _spawn(self, coro) -> None:  # noqa: ANN001
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _write(self, run_id: str) -> None:
        with self.sessions() as s:
            project = s.get(Project, s.get(Run, run_id).project_id)
            write_run_log(s, self.store.root(project), run_id)
