"""Executes queued jobs: candidates run concurrently up to the account's limit; each is committed with its file."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
from sqlmodel import Session, col, select

from models.base import AssetKind, LinkRelation, WorkState, utcnow
from models.db import SessionFactory
from models.project import Project
from models.runs import Candidate, CostEvent, Job, Run
from services import assets as assets_svc
from services import provider_accounts, run_queue
from services.assets import AssetStore
from services.errors import KromaError
from services.providers.base import GenerationRequest, InputImage, Provider, ProviderConfig
from services.providers.registry import build_provider
from services.run_log import write_run_log

log = logging.getLogger(__name__)

QAHook = Callable[[Session, Job, list[Candidate]], None]


@dataclass
class ExecutorStats:
    """Timings the throughput benchmark reads: provider time versus everything around it."""

    candidates: int = 0
    provider_s: float = 0.0
    wall_s: float = 0.0
    per_candidate_overhead_s: list[float] = field(default_factory=list)


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
        self._db_lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None
        self.stats = ExecutorStats()
        tls_context()  # built once per process, before any run is waiting on it

    @contextmanager
    def _unit(self) -> Iterator[Session]:
        """One write at a time from this process: threads queue on a lock instead of sleeping in SQLite's busy handler."""
        with self._db_lock, self.sessions() as s:
            yield s

    def _provider(self, session: Session, account_id: str | None) -> Provider:
        key = account_id or 'local'
        with self._lock:
            return self._providers.get(key) or self._build(session, key, account_id)

    def _build(self, session: Session, key: str, account_id: str | None) -> Provider:
        if key not in self._providers:
            config = (
                provider_accounts.provider_config(session, account_id, secrets=self.secrets)
                if account_id
                else ProviderConfig(kind='local', name='Offline renderer')
            )
            factory = self.provider_factory or (lambda c: build_provider(c, client=self._client))
            self._providers[key] = factory(config)
        return self._providers[key]

    async def drain(self, *, run_id: str | None = None, worker: str | None = None) -> int:
        """Claim and run queued jobs until none is left; several jobs at once, each candidate within its account's limit."""
        async with httpx.AsyncClient(
            verify=tls_context(), timeout=None, limits=httpx.Limits(max_connections=64, max_keepalive_connections=16)
        ) as client:
            self._client = client
            try:
                return await self._drain(run_id, worker or run_queue.worker_id())
            finally:
                self._client = None
                self._providers.clear()

    async def _drain(self, run_id: str | None, worker: str) -> int:
        started = time.perf_counter()
        running: set[asyncio.Task] = set()
        done = 0
        while True:
            while len(running) < self.max_parallel_jobs:
                job_id = await asyncio.to_thread(self._claim, worker, run_id)
                if job_id is None:
                    break
                running.add(asyncio.create_task(self.execute_job(job_id)))
            if not running:
                break
            finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                task.result()
                done += 1
        self.stats.wall_s += time.perf_counter() - started
        return done

    def _claim(self, worker: str, run_id: str | None) -> str | None:
        with self._unit() as s:
            return run_queue.claim_job(s, worker, run_id=run_id)

    def _load(self, job_id: str) -> tuple[Job, Run, Project, list[Candidate], tuple[InputImage, ...], Provider]:
        """Reads only, so it never waits behind another job's writes; the pending candidates are started in one go."""
        with self.sessions() as s:
            job = s.get(Job, job_id)
            run = s.get(Run, job.run_id)
            project = s.get(Project, job.project_id)
            inputs = []
            for i in job.inputs:
                asset = assets_svc.get_asset(s, project.id, i['asset_id'])
                inputs.append(
                    InputImage(
                        role=i['role'],
                        data=self.store.path_of(project, asset).read_bytes(),
                        name=i.get('name', ''),
                        sha256=asset.sha256,
                    )
                )
            provider = self._provider(s, run.provider_account_id)
        return job, run, project, self._start_pending(job_id), tuple(inputs), provider

    async def execute_job(self, job_id: str) -> None:
        try:
            job, run, project, pending, inputs, provider = await asyncio.to_thread(self._load, job_id)
        except KromaError as e:
            await asyncio.to_thread(self._fail_job, job_id, e.user_message)
            return
        size = tuple(job.params.get('size') or (1024, 1536))
        params = {k: job.params.get(k) for k in ('time', 'weather') if job.params.get(k)}

        async def one(cand: Candidate) -> None:
            if await asyncio.to_thread(self._canceled, run.id):  # re-read between candidates: cancel starts nothing new
                return
            req = GenerationRequest(
                prompt=job.prompt, inputs=inputs, size=size, n=1, seed=cand.seed, stage=run.stage.value, params=params
            )
            t0 = time.perf_counter()
            try:
                images = await provider.generate(req)
            except KromaError as e:
                await asyncio.to_thread(self._fail_candidate, cand.id, e.user_message)
                return
            provider_s = time.perf_counter() - t0
            cost = 0.0 if provider.is_offline else provider.estimate_cost(req)
            t1 = time.perf_counter()
            await asyncio.to_thread(
                self._commit_candidate, project, job, run, cand.id, images[0].data, images[0].meta, provider, cost
            )
            self.stats.candidates += 1
            self.stats.provider_s += provider_s
            self.stats.per_candidate_overhead_s.append(time.perf_counter() - t1)

        await asyncio.gather(*(one(c) for c in pending))
        await asyncio.to_thread(self._finish, job_id, project)

    def _start_pending(self, job_id: str) -> list[Candidate]:
        """Mark every unfinished candidate of the job running in one transaction (none if the run was canceled)."""
        with self._unit() as s:
            job = s.get(Job, job_id)
            if s.get(Run, job.run_id).status == WorkState.canceled:
                return []
            pending = run_queue.pending_candidates(s, job_id)
            for cand in pending:
                cand.status, cand.attempts = WorkState.running, cand.attempts + 1
                s.add(cand)
            return pending

    def _canceled(self, run_id: str) -> bool:
        with self.sessions() as s:
            return s.get(Run, run_id).status == WorkState.canceled

    def _commit_candidate(
        self,
        project: Project,
        job: Job,
        run: Run,
        cand_id: str,
        data: bytes,
        meta: dict,
        provider: Provider,
        cost: float,
    ) -> None:
        """File first (atomic), then the rows in one transaction: a candidate counts as done only with its file."""
        with self._unit() as s:
            cand = s.get(Candidate, cand_id)
            asset, _ = self.store.ingest(
                s,
                project,
                data,
                name=f'{run.stage.value}-{job.params.get("scene", "scene")}-{job.index + 1}-c{cand.index + 1}.png',
                kind=AssetKind.candidate,
                stage=run.stage.value,
                scene_id=job.scene_id,
                dedupe=False,
                meta={
                    'run_id': run.id,
                    'job_id': job.id,
                    'candidate_id': cand.id,
                    'seed': cand.seed,
                    'provider': provider.kind,
                    'model': provider.config.model,
                    'provider_meta': {k: v for k, v in meta.items() if isinstance(v, str | int | float)},
                },
            )
            scene_input = next((i for i in job.inputs if i['role'] == 'scene'), None)
            if scene_input:
                assets_svc.link_assets(
                    s,
                    project.id,
                    scene_input['asset_id'],
                    asset.id,
                    LinkRelation.candidate_of,
                    {'run_id': run.id, 'stage': run.stage.value},
                    audited=False,
                )
            cand.status, cand.asset_id, cand.error, cand.finished_at = WorkState.done, asset.id, '', utcnow()
            cand.qa_summary = {**cand.qa_summary, 'sha256': asset.sha256}
            s.add(cand)
            if cost > 0:
                s.add(
                    CostEvent(
                        project_id=project.id,
                        run_id=run.id,
                        job_id=job.id,
                        candidate_id=cand.id,
                        provider=provider.kind,
                        model=provider.config.model,
                        amount_usd=cost,
                    )
                )

    def _fail_candidate(self, cand_id: str, message: str) -> None:
        with self._unit() as s:
            cand = s.get(Candidate, cand_id)
            cand.status, cand.error, cand.finished_at = WorkState.failed, message, utcnow()
            s.add(cand)
        log.warning('Candidate %s failed: %s', cand_id, message)

    def _fail_job(self, job_id: str, message: str) -> None:
        with self._unit() as s:
            job = s.get(Job, job_id)
            job.error = message
            for cand in run_queue.pending_candidates(s, job_id):
                cand.status, cand.error = WorkState.failed, message
                s.add(cand)
            s.add(job)
            s.flush()
            run_queue.finish_job(s, job_id)

    def _finish(self, job_id: str, project: Project) -> None:
        with self._unit() as s:
            job = s.get(Job, job_id)
            if self.qa is not None:
                cands = list(
                    s.exec(
                        select(Candidate)
                        .where(Candidate.job_id == job_id, Candidate.status == WorkState.done)
                        .order_by(col(Candidate.index))
                    ).all()
                )
                try:
                    self.qa(s, job, cands)
                except KromaError as e:
                    log.warning('QA could not run for job %s: %s', job_id, e.user_message)
            run_queue.finish_job(s, job_id)
            s.flush()
            write_run_log(s, self.store.root(project), job.run_id)
