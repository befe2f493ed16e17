"""One database write at a time per event loop, with group commit for the many small writes of a run.

Writers wait in the event loop (an asyncio lock), not in worker threads, so waiting never starves the thread pool
that decodes and stages images; small writes queued while the writer is busy share one transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from models.db import SessionFactory

log = logging.getLogger(__name__)

T = TypeVar('T')
BatchFn = Callable[[Session, list[Any]], None]


class SerialWriter:
    """Owned by one event loop (the run executor's); SQLite's busy timeout still covers other processes."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self._lock = asyncio.Lock()
        self._queues: dict[BatchFn, list[tuple[Any, asyncio.Future[None]]]] = {}
        self.batches: list[int] = []  # sizes of the grouped transactions, for benchmarks and tests
        self._flushes: set[asyncio.Task] = set()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(session, *args) in its own transaction on a worker thread, after every write queued before it."""
        async with self._lock:
            return await asyncio.to_thread(self._tx, fn, *args)

    async def grouped(self, fn: BatchFn, item: Any) -> None:
        """Queue item for fn(session, items); everything queued while the writer is busy goes in one transaction.

        Returns once the item's transaction has committed; raises what writing that item raised."""
        queue = self._queues.setdefault(fn, [])
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append((item, future))
        if len(queue) == 1:  # the first item of a batch schedules the flush; later ones ride along
            task = asyncio.get_running_loop().create_task(self._flush(fn))
            self._flushes.add(task)  # the loop keeps only weak references to tasks
            task.add_done_callback(self._flushes.discard)
        await future

    async def _flush(self, fn: BatchFn) -> None:
        batch: list[tuple[Any, asyncio.Future[None]]] = []
        outcomes: list[BaseException | None] = []
        try:
            async with self._lock:
                batch, self._queues[fn] = self._queues[fn], []
                items = [item for item, _ in batch]
                try:
                    await asyncio.to_thread(self._tx, fn, items)
                    outcomes = [None] * len(batch)
                except Exception as e:
                    if len(batch) > 1:  # one bad item must not cost the others their commit: write them one by one
                        log.warning('A grouped write of %d items failed (%s); writing them one by one', len(batch), e)
                    outcomes = [e] if len(batch) == 1 else [await self._alone(fn, item) for item in items]
                self.batches.append(len(batch))
        finally:
            for i, (_, future) in enumerate(batch):
                if future.done():
                    continue
                outcome = outcomes[i] if i < len(outcomes) else asyncio.CancelledError()
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)

    async def _alone(self, fn: BatchFn, item: Any) -> BaseException | None:
        try:
            await asyncio.to_thread(self._tx, fn, [item])
        except Exception as e:  # handed to the item's waiter, which decides what it means
            return e
        return None

    def _tx(self, fn: Callable[..., T], *args: Any) -> T:
        with self.sessions() as s:
            return fn(s, *args)
