"""Executes queued jobs: a job's candidates share calls where the model allows n > 1, calls run concurrently up to
the account's limit, and each returned image is committed as its own candidate with its file.

The critical path is the provider call. Everything around it is kept off that path: jobs are claimed in one
transaction, inputs are read once per drain, finished images are validated, hashed and written in parallel
worker threads, their rows share one transaction when they finish together (group commit), and QA is measured
outside the write transaction. Before each paid call the budget is checked (one read; the call's cost events are
written while the request goes out).
A job's failure, expected or not, fails that job alone with its reason; the worker's claims carry leases it renews."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlmodel import Session, select

from models.base import WorkState
from models.db import SessionFactory
from models.runs import Candidate, Job, Run
from services.db_writer import SerialWriter
from services.errors import Canceled, KromaError, PolicyRefused
from services.projects.assets import AssetStore, StagedFile
from services.providers.base import (
    GeneratedImage,
    GenerationRequest,
    Provider,
    ProviderConfig,
    images_per_call,
)
from services.qa.report import QAReport
from services.runs import budget, holders, leases
from services.runs import commits as run_commits
from services.runs import queue as run_queue
from services.runs.calls import ProviderCall, failure_reason
from services.runs.commits import FinishedCandidate, JobContext, QAHook
from services.runs.loading import JobLoader
from services.runs.log_writer import RunLogWriter
from services.runs.plan import call_sizes
from services.runs.slots import SlotPool
from services.runs.worker_http import tls_context, worker_client

log = logging.getLogger(__name__)

Admit = Callable[[], Awaitable[None]]
CANCEL_CHECK_S = 0.05  # how stale a "not canceled" answer may be when a queued candidate gets its slot


@dataclass
class ExecutorStats:
    """What the throughput benchmark reads: finished candidates and each one's commit latency."""

    candidates: int = 0
    commit_latency_s: list[float] = field(default_factory=list)  # answer received -> file and rows durable
    claim_latency_s: list[float] = field(default_factory=list)  # one claim transaction, queued write included
    claimed_jobs: list[str] = field(default_factory=list)  # every job this executor claimed, in order


class RunExecutor:
    """One per worker thread or CLI process; providers are cached per account so their concurrency gate is shared."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        store: AssetStore,
        secrets: Any = None,
        qa: QAHook | None = None,
        provider_factory: Callable[[ProviderConfig], Provider] | None = None,
        max_parallel_jobs: int = 8,
        lease_s: float = run_queue.LEASE_S,
        call_cap: int | None = None,
        stages: Sequence[str] | None = None,
    ) -> None:
        self.sessions, self.store, self.secrets, self.qa = sessions, store, secrets, qa
        self.max_parallel_jobs = max_parallel_jobs
        self.lease_s = lease_s
        self.call_cap = call_cap  # a worker's --concurrency: claims follow the calls it can send, not the jobs
        self.stages = list(stages) if stages else None
        self.stopping = False  # set by a worker asked to stop: nothing new is claimed, work in hand finishes
        self.worker = ''
        self.loader = JobLoader(sessions, store, secrets, provider_factory)
        self._cancel_seen: dict[str, tuple[float, bool]] = {}
        self.logs = RunLogWriter(sessions, store)
        self._active: set[str] = set()  # jobs being worked on: their leases are renewed
        self._unwritten: budget.Pending = {}  # `sent` cost events not committed yet, counted by budget checks
        self._admit_lock: asyncio.Lock | None = None
        self._lost: set[str] = set()  # jobs another worker reclaimed (this one stalled): nothing more is written
        self._outstanding: dict[str, int] = {}  # claimed candidates per job whose call has not ended
        self._capacity = asyncio.Event()
        self._locked_budget = False  # PostgreSQL: each paid call is checked and recorded under the project's row lock
        self.writer: SerialWriter | None = None
        self.slot_pool: SlotPool | None = None
        self.stats = ExecutorStats()
        tls_context()  # built once per process, before any run is waiting on it

    async def drain(self, *, run_id: str | None = None, worker: str | None = None) -> int:
        """Claim and run queued jobs until none is left; several jobs at once, each call within its account's limit."""
        self.writer = SerialWriter(self.sessions)
        self.logs = RunLogWriter(self.sessions, self.store)
        self._admit_lock = asyncio.Lock()
        self._capacity = asyncio.Event()
        self.worker = worker or holders.worker_id()
        self.slot_pool = SlotPool(self.sessions, self.worker, self.lease_s)
        self._locked_budget = await asyncio.to_thread(self._dialect) == 'postgresql'
        async with worker_client() as client:
            self.loader.client, self.loader.slots, self.loader.call_cap = client, self.slot_pool, self.call_cap
            heartbeat = asyncio.create_task(self._heartbeat())
            try:
                return await self._drain(run_id)
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
                self.loader.reset()
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.slot_pool.release_all)

    def _dialect(self) -> str:
        with self.sessions() as s:
            return s.get_bind().dialect.name

    def _room(self, running: set[asyncio.Task]) -> int:
        """How many jobs to claim now: up to the parallel-job limit, or, with a call cap, one more job only while
        fewer than twice the cap's candidates are claimed and not called: the calls in flight, and about as many
        loaded and waiting behind them, so a call that ends hands its slot straight to the next (no claim, load or
        slot round trip in between), while the rest of the queue stays for idle workers elsewhere."""
        free = self.max_parallel_jobs - len(running)
        if self.call_cap is None or free <= 0:
            return max(0, free)
        return 1 if sum(self._outstanding.values()) < self.call_cap * 2 else 0

    async def _drain(self, run_id: str | None) -> int:
        running: set[asyncio.Task] = set()
        done = 0
        while True:
            if not self.stopping and (free := self._room(running)):
                limit = free if running else 1  # the first job alone, so its calls go out before the rest is claimed
                started = time.perf_counter()
                claimed = await self._write(leases.claim_work, self.worker, run_id, limit, self.lease_s, self.stages)
                self.stats.claim_latency_s.append(time.perf_counter() - started)
                for job_id, cand_ids in claimed:
                    self._lost.discard(job_id)  # lost once (this worker stalled), claimed again now: it is ours
                    self.stats.claimed_jobs.append(job_id)
                    self._outstanding[job_id] = len(cand_ids)
                    running.add(asyncio.create_task(self.execute_job(job_id, cand_ids)))
                if claimed and len(claimed) == limit and self._room(running):
                    continue  # there may be more to claim right away
            if not running:
                break
            self._capacity.clear()
            waiter = asyncio.ensure_future(self._capacity.wait())
            finished, _ = await asyncio.wait(running | {waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for task in finished - {waiter}:
                running.discard(task)
                if exc := task.exception():  # execute_job records its own failures; this is a last resort
                    log.error('A job of this worker pass broke; the others go on', exc_info=exc)
                done += 1
        await self.logs.flush()
        return done

    async def _write(self, fn: Callable[..., Any], *args: Any) -> Any:
        assert self.writer is not None, 'drain() owns the writer'
        return await self.writer.run(fn, *args)

    async def _heartbeat(self) -> None:
        """Renew the leases of the jobs in hand, so no other worker reclaims them while this one is alive."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            if not self._active:
                continue
            jobs = sorted(self._active)
            try:
                taken = await self._write(leases.renew_held, self.worker, jobs, self.lease_s)
            except Exception:
                log.exception('Renewing the leases of %d job(s) failed; trying again', len(jobs))
                continue
            if lost := (taken - self._lost) & self._active:
                log.warning('Job(s) %s were reclaimed by another worker; this worker stops writing them', lost)
                self._lost |= lost

    def _canceled(self, run_id: str) -> bool:
        """The run's cancel flag, read at most every CANCEL_CHECK_S (one primary-key read; WAL readers never wait)."""
        now = time.monotonic()
        seen = self._cancel_seen.get(run_id)
        if seen is None or now - seen[0] > CANCEL_CHECK_S:
            with self.sessions() as s:
                status = s.exec(select(Run.status).where(Run.id == run_id)).one()
            seen = self._cancel_seen[run_id] = (now, status == WorkState.canceled)
        return seen[1]

    def _admission(self, call: ProviderCall) -> Admit:
        """Awaited when a call gets its slot: after a cancel nothing new is sent; a paid call is checked against the
        budget (one read, WAL readers never wait) and its `sent` cost events are written while the request goes out."""

        async def admit() -> None:
            ctx = call.ctx
            if ctx.job.id in self._lost:
                raise Canceled('Another worker took this job over.')
            if self._canceled(ctx.run.id):
                raise Canceled('The run was canceled before this call started.')
            call.started = time.monotonic()
            if call.cost <= 0:
                return
            if self._locked_budget:  # exact across every worker sharing the database
                events = call.sent_events()
                refused = await asyncio.to_thread(self._admit_locked, ctx.project.id, ctx.run.id, call.cost, events)
                if refused is not None:
                    raise PolicyRefused(budget.refusal(refused, call.cost), code='budget_exceeded')
                call.admitted = True
                return
            async with self._admit_lock:  # this worker's calls are checked one after the other, each seeing the last
                pending = dict(self._unwritten)
                view = await asyncio.to_thread(self._budget, ctx.project.id, ctx.run.id, pending)
                if not budget.fits(view, call.cost):
                    raise PolicyRefused(budget.refusal(view, call.cost), code='budget_exceeded')
                events = call.sent_events()
                self._unwritten |= {e.id: (e.project_id, e.run_id, e.amount_usd) for e in events}
                call.admitted = True
                call.sent = asyncio.create_task(self._write_sent(events))

        return admit

    def _admit_locked(self, project_id: str, run_id: str, cost: float, events: list) -> budget.BudgetView | None:
        with self.sessions() as s:
            return budget.admit_locked(s, project_id, run_id, cost, events)

    def _budget(self, project_id: str, run_id: str, pending: budget.Pending) -> budget.BudgetView:
        with self.sessions() as s:
            return budget.budget_view(s, project_id, for_run=run_id, pending=pending)

    async def _write_sent(self, events: list) -> None:
        try:
            await self.writer.grouped(run_commits.write_costs, events)
        finally:
            for event in events:
                self._unwritten.pop(event.id, None)

    async def execute_job(self, job_id: str, cand_ids: list[str]) -> None:
        """Run one claimed job; whatever goes wrong fails this job with its reason, never the worker pass."""
        self._active.add(job_id)
        try:
            try:
                ctx = await asyncio.to_thread(self.loader.load, job_id, cand_ids)
            except Exception as e:  # a wrong master key, an unreadable input, a broken row: said before any call
                await self._fail_job(job_id, failure_reason(e, 'while loading the job'))
                return
            if not self.logs.known(ctx.run.id):  # the log exists from the first job on, so a run that dies has one
                self.logs.start(ctx.run.id)
            try:
                sizes = call_sizes(len(ctx.pending), images_per_call(ctx.provider))
                chunks, start = [], 0
                for n in sizes:
                    chunks.append(ctx.pending[start : start + n])
                    start += n
                await asyncio.gather(*(self._call(ctx, chunk) for chunk in chunks))
                await self._finish(ctx)
            except Exception as e:
                await self._fail_job(job_id, failure_reason(e, 'while running the job'))
        finally:
            self._active.discard(job_id)
            if self._outstanding.pop(job_id, 0):
                self._capacity.set()

    def _called(self, job_id: str, n: int) -> None:
        """A call ended: with a call cap, the drain loop may claim the next job now."""
        if job_id in self._outstanding:
            self._outstanding[job_id] = max(0, self._outstanding[job_id] - n)
            self._capacity.set()

    async def _fail_job(self, job_id: str, reason: str) -> None:
        if job_id in self._lost:
            return
        try:
            run_id = await self._write(run_commits.fail_job, job_id, reason)
            await self.logs.write(run_id)
        except Exception:
            log.exception('Could not record the failure of job %s (%s)', job_id, reason)

    async def _call(self, ctx: JobContext, chunk: list[Candidate]) -> None:
        """One provider call for a chunk of the job's candidates; each image is committed as its own candidate."""
        job = ctx.job
        req = GenerationRequest(
            prompt=job.prompt,
            inputs=ctx.inputs,
            size=tuple(job.params.get('size') or (1024, 1536)),
            n=len(chunk),
            seed=chunk[0].seed,
            stage=ctx.run.stage.value,
            params=run_queue.provider_params(job.params),
        )
        cost = 0.0 if ctx.provider.is_offline else ctx.provider.estimate_cost(req)
        call = ProviderCall(ctx, chunk, cost)
        req = replace(req, admit=self._admission(call), trace=call.trace)
        try:
            images = await ctx.provider.generate(req)
        except Canceled:
            self._called(job.id, len(chunk))
            return  # settled as canceled with its job
        except Exception as e:
            self._called(job.id, len(chunk))
            if job.id in self._lost:
                return
            reason = failure_reason(e, 'in the provider call')
            await call.went_out()  # the `sent` events land before their outcome
            outcome = 'refused' if isinstance(e, PolicyRefused) else 'failed'
            ids = [c.id for c in chunk]
            await self._write(
                run_commits.fail_candidates, ids, reason, call.outcome_events(e), call.story(outcome, reason)
            )
            return
        t1 = time.perf_counter()
        self._called(job.id, len(chunk))
        await call.went_out()
        story = call.story('ok')
        kept = [self._keep(ctx, call, i, cand, images[i], story, t1) for i, cand in enumerate(chunk[: len(images)])]
        await asyncio.gather(*kept)
        if missing := chunk[len(images) :]:
            reason = (
                f'The provider answered with {len(images)} image(s) for {len(chunk)} candidates; this one never came.'
            )
            events = (
                [call.event(chunk.index(c), 'maybe billed', error='missing_image') for c in missing]
                if call.admitted
                else []
            )
            await self._write(run_commits.fail_candidates, [c.id for c in missing], reason, events, story)

    async def _keep(
        self,
        ctx: JobContext,
        call: ProviderCall,
        index: int,
        cand: Candidate,
        image: GeneratedImage,
        story: dict,
        t1: float,
    ) -> None:
        """Check, write and commit one returned image as its candidate, as soon as the answer is read."""
        try:
            staged = await asyncio.to_thread(self._stage, ctx, cand, image)
        except KromaError as e:
            message = f'The provider returned an unusable image: {e.user_message}'
            billed = [call.event(index, 'billed')] if call.cost > 0 else []
            await self._write(run_commits.fail_candidates, [cand.id], message, billed, story)
            return
        if ctx.job.id in self._lost:
            return
        finished = FinishedCandidate(ctx, cand, staged, image.meta, call.share, call.event_id(index), story)
        await self.writer.grouped(self._commit, finished)
        self.stats.candidates += 1
        self.stats.commit_latency_s.append(time.perf_counter() - t1)

    def _stage(self, ctx: JobContext, cand: Candidate, image: GeneratedImage) -> StagedFile:
        """Validate, hash and write the file atomically; runs in parallel, before any row exists."""
        scene = ctx.job.params.get('scene', 'scene')
        name = f'{ctx.run.stage.value}-{scene}-{ctx.job.index + 1}-c{cand.index + 1}.png'
        return self.store.stage(ctx.project, image.data, name=name)

    def _commit(self, s: Session, items: list[FinishedCandidate]) -> None:
        run_commits.commit_finished(s, self.store, items)

    async def _finish(self, ctx: JobContext) -> None:
        """QA is measured outside the write lock (it reads files for a while); its reports land with the settling."""
        if ctx.job.id in self._lost:
            return
        measured = None
        if self.qa is not None:
            try:
                measured = await asyncio.to_thread(self._measure, ctx.job.id)
            except Exception as e:  # the candidates are kept; QA can be measured again
                log.warning('QA could not run for job %s: %s', ctx.job.id, failure_reason(e, 'in QA'))
        await self._write(run_commits.settle_job, ctx.job.id, self.qa, measured)
        self.logs.soon(ctx.run.id)

    def _measure(self, job_id: str) -> tuple[list[str], list[QAReport]]:
        with self.sessions() as s:
            job = s.get(Job, job_id)
            cands = run_commits.done_candidates(s, job_id)
            return [c.id for c in cands], self.qa.measure(s, job, cands)
