"""Executes queued jobs: candidates run concurrently up to the account's limit; each is committed with its file.

The critical path is the provider call. Everything around it is kept off that path: jobs are claimed in one
transaction, inputs are read once per drain, finished images are validated, hashed and written in parallel
worker threads, their rows share one transaction when they finish together (group commit), and QA is measured
outside the write transaction."""

from __future__ import annotations

import asyncio
import importlib
import logging
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import anyio
import anyio.lowlevel
import httpx
from sqlmodel import Session, col, select

from models.base import WorkState, new_id
from models.db import SessionFactory
from models.project import Project
from models.runs import Candidate, Job, Run
from services.db_writer import SerialWriter
from services.errors import Canceled, KromaError, StorageError
from services.projects import assets as assets_svc
from services.projects.assets import AssetStore, StagedFile
from services.providers import accounts as provider_accounts
from services.providers.base import GeneratedImage, GenerationRequest, InputImage, Provider, ProviderConfig
from services.providers.registry import build_provider
from services.qa.report import QAReport
from services.runs import commits as run_commits
from services.runs import queue as run_queue
from services.runs.commits import FinishedCandidate, JobContext, QAHook
from services.runs.log import write_run_log

log = logging.getLogger(__name__)

Admit = Callable[[], Awaitable[None]]
CANCEL_CHECK_S = 0.05  # how stale a "not canceled" answer may be when a queued candidate gets its slot


@dataclass
class ExecutorStats:
    """What the throughput benchmark reads: finished candidates and each one's commit latency."""

    candidates: int = 0
    commit_latency_s: list[float] = field(default_factory=list)  # answer received -> file and rows durable


def _preload_network_stack() -> None:
    """httpx's async stack imports ~0.2 s of modules (anyio's lazy parts and its asyncio backend) inside the first
    call, with the event loop blocked; a worker process pays that once, at import, instead of in its first run."""
    _ = anyio.Event, anyio.lowlevel.checkpoint
    importlib.import_module('anyio._backends._asyncio')
    importlib.import_module('httpcore._backends.anyio')


_preload_network_stack()


@cache
def tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~0.1 s; every worker pass reuses one context."""
    return httpx.create_ssl_context()


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
    ) -> None:
        self.sessions, self.store, self.secrets, self.qa = sessions, store, secrets, qa
        self.provider_factory = provider_factory
        self.max_parallel_jobs = max_parallel_jobs
        self._providers: dict[str, Provider] = {}
        self._lock = threading.Lock()
        self._inputs: dict[str, bytes] = {}
        self._cancel_seen: dict[str, tuple[float, bool]] = {}
        self._sent: dict[str, asyncio.Task] = {}  # cost-event writes of the calls that went out
        self._log_locks: dict[str, asyncio.Lock] = {}
        self._side_tasks: set[asyncio.Task] = set()
        self._client: httpx.AsyncClient | None = None
        self.writer: SerialWriter | None = None
        self.stats = ExecutorStats()
        tls_context()  # built once per process, before any run is waiting on it

    async def drain(self, *, run_id: str | None = None, worker: str | None = None) -> int:
        """Claim and run queued jobs until none is left; several jobs at once, each candidate within its account's limit."""
        self.writer = SerialWriter(self.sessions)
        async with httpx.AsyncClient(
            verify=tls_context(), timeout=None, limits=httpx.Limits(max_connections=64, max_keepalive_connections=16)
        ) as client:
            self._client = client
            try:
                return await self._drain(run_id, worker or run_queue.worker_id())
            finally:
                self._client = None
                self._providers.clear()
                self._inputs.clear()
                self._log_locks.clear()

    async def _drain(self, run_id: str | None, worker: str) -> int:
        running: set[asyncio.Task] = set()
        done = 0
        while True:
            if free := self.max_parallel_jobs - len(running):
                limit = free if running else 1  # the first job alone, so its calls go out before the rest is claimed
                claimed = await self._write(self._claim, worker, run_id, limit)
                for job_id, cand_ids in claimed:
                    running.add(asyncio.create_task(self.execute_job(job_id, cand_ids)))
                if len(claimed) == limit < free:
                    continue  # there may be more to claim right away
            if not running:
                break
            finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                task.result()
                done += 1
        await asyncio.gather(*self._side_tasks)
        self._side_tasks.clear()
        return done

    async def _write(self, fn: Callable[..., Any], *args: Any) -> Any:
        assert self.writer is not None, 'drain() owns the writer'
        return await self.writer.run(fn, *args)

    @staticmethod
    def _claim(s: Session, worker: str, run_id: str | None, limit: int) -> list[tuple[str, list[str]]]:
        """Claim jobs and start their unfinished candidates in one transaction."""
        return [
            (job_id, [c.id for c in run_queue.start_candidates(s, job_id)])
            for job_id in run_queue.claim_jobs(s, worker, run_id=run_id, limit=limit)
        ]

    def _load(self, job_id: str, cand_ids: list[str]) -> JobContext:
        """Reads only, so it never waits behind another job's writes; input files are read once per drain."""
        with self.sessions() as s:
            job = s.get(Job, job_id)
            run = s.get(Run, job.run_id)
            project = s.get(Project, job.project_id)
            inputs = []
            for i in job.inputs:
                data = self._inputs.get(i['asset_id'])
                if data is None:
                    asset = assets_svc.get_asset(s, project.id, i['asset_id'])
                    try:
                        data = self._inputs[i['asset_id']] = self.store.path_of(project, asset).read_bytes()
                    except OSError as e:  # the job fails with the reason; the worker goes on
                        raise StorageError(
                            f'The {i["role"]} input {asset.original_name or asset.id} could not be read: '
                            f'{e.strerror or e}.'
                        ) from e
                inputs.append(InputImage(role=i['role'], data=data, name=i.get('name', ''), sha256=i.get('sha256', '')))
            pending = list(
                s.exec(select(Candidate).where(col(Candidate.id).in_(cand_ids)).order_by(col(Candidate.index)))
            )
            provider = self._provider(s, run.provider_account_id)
        return JobContext(job, run, project, pending, tuple(inputs), provider)

    def _provider(self, session: Session, account_id: str | None) -> Provider:
        key = account_id or 'local'
        with self._lock:
            if key not in self._providers:
                config = (
                    provider_accounts.provider_config(session, account_id, secrets=self.secrets)
                    if account_id
                    else ProviderConfig(kind='local', name='Offline renderer')
                )
                factory = self.provider_factory or (lambda c: build_provider(c, client=self._client))
                self._providers[key] = factory(config)
            return self._providers[key]

    def _canceled(self, run_id: str) -> bool:
        """The run's cancel flag, read at most every CANCEL_CHECK_S (one primary-key read; WAL readers never wait)."""
        now = time.monotonic()
        seen = self._cancel_seen.get(run_id)
        if seen is None or now - seen[0] > CANCEL_CHECK_S:
            with self.sessions() as s:
                status = s.exec(select(Run.status).where(Run.id == run_id)).one()
            seen = self._cancel_seen[run_id] = (now, status == WorkState.canceled)
        return seen[1]

    def _admission(self, ctx: JobContext, cand: Candidate, cost: float, event_id: str | None) -> Admit:
        """Awaited when a queued candidate gets its slot: after a cancel nothing new is sent, and a paid call's cost
        event is written as the call goes out (calls admitted together share one transaction)."""

        async def admit() -> None:
            if self._canceled(ctx.run.id):
                raise Canceled('The run was canceled before this candidate started.')
            if event_id:  # written while the request goes out, so the call waits for no transaction
                sent = run_commits.cost_event(ctx, cand, cost, 'sent', event_id=event_id)
                self._sent[event_id] = asyncio.create_task(self.writer.grouped(run_commits.write_costs, sent))

        return admit

    async def execute_job(self, job_id: str, cand_ids: list[str]) -> None:
        try:
            ctx = await asyncio.to_thread(self._load, job_id, cand_ids)
        except KromaError as e:
            await self._write(run_commits.fail_job, job_id, e.user_message)
            return
        if ctx.run.id not in self._log_locks:  # the log exists from the first job on, so a run that dies has one
            self._log_locks[ctx.run.id] = asyncio.Lock()
            self._side_tasks.add(asyncio.create_task(self._write_log(ctx)))
        await asyncio.gather(*(self._candidate(ctx, c) for c in ctx.pending))
        await self._finish(ctx)

    async def _candidate(self, ctx: JobContext, cand: Candidate) -> None:
        job = ctx.job
        req = GenerationRequest(
            prompt=job.prompt,
            inputs=ctx.inputs,
            size=tuple(job.params.get('size') or (1024, 1536)),
            n=1,
            seed=cand.seed,
            stage=ctx.run.stage.value,
            params=run_queue.provider_params(job.params),
        )
        cost = 0.0 if ctx.provider.is_offline else ctx.provider.estimate_cost(req)
        event_id = new_id() if cost > 0 else None
        req = replace(req, admit=self._admission(ctx, cand, cost, event_id))
        try:
            images = await ctx.provider.generate(req)
        except Canceled:
            return  # settled as canceled with its job
        except KromaError as e:
            outcome = None
            if await self._went_out(event_id):  # billed only if the provider may have processed it
                billed = bool(e.details.get('maybe_billed'))
                state = 'maybe billed' if billed else 'not billed'
                outcome = run_commits.cost_event(
                    ctx, cand, cost if billed else 0.0, state, event_id=event_id, error=e.code
                )
            await self._write(run_commits.fail_candidate, cand.id, e.user_message, outcome)
            return
        t1 = time.perf_counter()
        await self._went_out(event_id)  # the call's `sent` event lands before its outcome
        try:
            staged = await asyncio.to_thread(self._stage, ctx, cand, images[0])
        except KromaError as e:
            message = f'The provider returned an unusable image: {e.user_message}'
            billed = run_commits.cost_event(ctx, cand, cost, 'billed', event_id=event_id) if cost > 0 else None
            await self._write(run_commits.fail_candidate, cand.id, message, billed)
            return
        finished = FinishedCandidate(ctx, cand, staged, images[0].meta, cost, event_id)
        await self.writer.grouped(self._commit, finished)
        self.stats.candidates += 1
        self.stats.commit_latency_s.append(time.perf_counter() - t1)

    async def _went_out(self, event_id: str | None) -> bool:
        """Whether a paid call was sent; waits for its `sent` cost event to be written."""
        task = self._sent.pop(event_id, None) if event_id else None
        if task is not None:
            await task
        return task is not None

    def _stage(self, ctx: JobContext, cand: Candidate, image: GeneratedImage) -> StagedFile:
        """Validate, hash and write the file atomically; runs in parallel, before any row exists."""
        scene = ctx.job.params.get('scene', 'scene')
        name = f'{ctx.run.stage.value}-{scene}-{ctx.job.index + 1}-c{cand.index + 1}.png'
        return self.store.stage(ctx.project, image.data, name=name)

    def _commit(self, s: Session, items: list[FinishedCandidate]) -> None:
        run_commits.commit_finished(s, self.store, items)

    async def _finish(self, ctx: JobContext) -> None:
        """QA is measured outside the write lock (it reads files for a while); its reports land with the settling."""
        measured = None
        if self.qa is not None:
            try:
                measured = await asyncio.to_thread(self._measure, ctx.job.id)
            except KromaError as e:
                log.warning('QA could not run for job %s: %s', ctx.job.id, e.user_message)
        await self._write(run_commits.settle_job, ctx.job.id, self.qa, measured)
        await self._write_log(ctx)

    def _measure(self, job_id: str) -> tuple[list[str], list[QAReport]]:
        with self.sessions() as s:
            job = s.get(Job, job_id)
            cands = run_commits.done_candidates(s, job_id)
            return [c.id for c in cands], self.qa.measure(s, job, cands)

    async def _write_log(self, ctx: JobContext) -> None:
        """Rewritten from the database after each job, outside the writer; one rewrite per run at a time, so the
        newest state is always written last."""
        async with self._log_locks[ctx.run.id]:
            await asyncio.to_thread(self._log, ctx.project, ctx.run.id)

    def _log(self, project: Project, run_id: str) -> None:
        with self.sessions() as s:
            write_run_log(s, self.store.root(project), run_id)
