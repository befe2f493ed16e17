"""`kroma worker`: a process without the UI that works the shared queue (runs and confirmed instructions).

Any number of workers on any machines share one database: jobs are claimed atomically with leases this process
renews, each account's concurrency limit is held in the database, and what a dead worker held is reclaimed by the
others when its lease runs out. SIGTERM or Ctrl-C stops claiming; the work in hand finishes, then it exits."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.instruction_jobs import lease_s as instruction_lease_s
from app.jobs import run_executor
from services.copilot import instructions
from services.copilot.handlers import handler_table
from services.deps import Deps
from services.runs import holders, leases
from services.runs.wakeup import RunsListener
from services.security.audit import acting_as

log = logging.getLogger(__name__)

QUEUES = ('runs', 'instructions')


@dataclass(frozen=True)
class WorkerOptions:
    """What one worker takes: which queues, which run stages, and how many calls it sends at once per account."""

    concurrency: int = 4
    stages: tuple[str, ...] = ()  # empty: every stage
    queues: tuple[str, ...] = QUEUES
    poll_s: float = 0.25  # how often an idle worker looks for work (on PostgreSQL a queued run wakes it at once)
    instruction_poll_s: float = 2.0
    qa: bool = True  # measure each candidate's QA here (off: measured later, e.g. where there is CPU to spare)


@dataclass
class Worker:
    deps: Deps
    options: WorkerOptions = field(default_factory=WorkerOptions)
    id: str = field(default_factory=holders.worker_id)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.executor = run_executor(
            self.deps, qa=self.options.qa, call_cap=self.options.concurrency, stages=self.options.stages or None
        )

    def describe(self) -> str:
        stages = ','.join(self.options.stages) or 'all stages'
        return (
            f'worker {self.id} taking {" and ".join(self.options.queues)} ({stages}); '
            f'{self.options.concurrency} call(s) at once per account; lease {self.deps.options.run_lease_s:g} s'
        )

    def run(self) -> None:
        """Until stopped: the run queue on this thread's event loop, instructions on a thread of their own."""
        helpers = [threading.Thread(target=self._reclaim, name='reclaim', daemon=True)]
        if 'instructions' in self.options.queues:
            helpers.append(threading.Thread(target=self._instructions, name='instructions', daemon=True))
        for t in helpers:
            t.start()
        if 'runs' in self.options.queues:
            asyncio.run(self._runs())
        else:
            self.stop.wait()
        for t in helpers:
            t.join()

    def request_stop(self) -> None:
        """Claim nothing more; what is in hand finishes (its leases stay renewed until then)."""
        self.stop.set()
        self.executor.stopping = True

    async def _runs(self) -> None:
        listener = RunsListener(self.deps.engine, self.stop)
        with acting_as(f'worker:{self.id}'):
            try:
                while not self.stop.is_set():
                    try:
                        done = await self.executor.drain(worker=self.id)
                    except Exception:  # the database went away for a moment, say: never the end of the worker
                        log.exception('A pass over the run queue failed; trying again')
                        done = 0
                    if not done:
                        await asyncio.to_thread(listener.wait, self.options.poll_s)
            finally:
                listener.close()

    def _reclaim(self) -> None:
        """Every quarter lease, jobs whose worker stopped renewing go back to the queue, even while this one is busy
        (its claims also reclaim, but only when it has room). Only the lease decides: the holder may be anywhere."""
        every = max(0.25, self.deps.options.run_lease_s / 4)
        with acting_as(f'worker:{self.id}'):
            while not self.stop.wait(every):
                try:
                    with self.deps.sessions() as s:
                        touched = leases.reclaim_expired(s, exclude_worker=self.id)
                except Exception:
                    log.exception('Reclaiming expired leases failed; trying again')
                    continue
                if touched:
                    log.warning('Reclaimed the jobs of %d run(s) from a worker that stopped renewing', len(touched))

    def _instructions(self) -> None:
        table = handler_table(self.deps)
        lease = instruction_lease_s(self.deps)
        with acting_as(f'worker:{self.id}'):
            while not self.stop.is_set():
                try:
                    worked = instructions.work_once(self.deps.sessions, table, worker=self.id, lock_timeout_s=lease)
                except Exception:
                    log.exception('A pass over the instruction queue failed; trying again')
                    worked = None
                if worked is None:
                    self.stop.wait(self.options.instruction_poll_s)


def parse_list(text: str | None, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """A comma-separated option checked against what exists; empty means none given."""
    items = tuple(x.strip().lower() for x in (text or '').split(',') if x.strip())
    if unknown := [x for x in items if x not in allowed]:
        from services.errors import Invalid

        raise Invalid(f'Unknown {what} {", ".join(unknown)}; use {", ".join(allowed)}.', code=f'invalid_{what}')
    return items


def serve(worker: Worker) -> None:
    """Run the worker in the foreground; the first SIGTERM/SIGINT stops it gently, a second one at once."""

    def on_signal(signum: int, _frame: object) -> None:
        if worker.stop.is_set():
            raise SystemExit(128 + signum)
        log.warning('Stopping: no new work is claimed; the work in hand finishes first (signal again to quit now)')
        worker.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.run()
