"""What a run writes: the rows of finished candidates (grouped), failures with their cost, a job's settling.

Each function takes the caller's session and writes inside its transaction; the executor decides when."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.assets import AssetLink
from models.base import AssetKind, LinkRelation, WorkState, utcnow
from models.project import Project
from models.runs import Candidate, CostEvent, Job, Run
from services.projects.assets import AssetStore, StagedFile
from services.providers.base import InputImage, Provider
from services.qa.report import QAReport
from services.runs import queue as run_queue

log = logging.getLogger(__name__)


class QAHook(Protocol):
    """Measures a job's finished candidates (reading only), then records the reports in the job's last write."""

    def measure(self, session: Session, job: Job, candidates: list[Candidate]) -> list[QAReport]: ...

    def record(self, session: Session, job: Job, candidates: list[Candidate], reports: list[QAReport]) -> None: ...


@dataclass(frozen=True)
class JobContext:
    """What every candidate of a job shares, read once before the first call."""

    job: Job
    run: Run
    project: Project
    pending: list[Candidate]
    inputs: tuple[InputImage, ...]
    provider: Provider


@dataclass(frozen=True)
class FinishedCandidate:
    """A generated image already on disk, waiting for the rows that make it count."""

    ctx: JobContext
    cand: Candidate
    staged: StagedFile
    meta: dict[str, Any]
    cost: float
    cost_event_id: str | None = None  # the event written when the call went out
    call: dict[str, Any] | None = None  # the story of the call that made it, for the run log


def commit_finished(s: Session, store: AssetStore, items: list[FinishedCandidate]) -> None:
    """The rows of finished candidates in one transaction: a candidate counts as done only with its file."""
    done = []
    for item in items:
        ctx, cand = item.ctx, item.cand
        run, job = ctx.run, ctx.job
        asset = store.add_staged(
            s,
            ctx.project,
            item.staged,
            kind=AssetKind.candidate,
            stage=run.stage.value,
            scene_id=job.scene_id,
            meta={
                'run_id': run.id,
                'job_id': job.id,
                'candidate_id': cand.id,
                'seed': cand.seed,
                'provider': ctx.provider.kind,
                'model': ctx.provider.config.model,
                'provider_meta': {k: v for k, v in item.meta.items() if isinstance(v, str | int | float)},
            },
        )
        scene_input = next((i for i in job.inputs if i['role'] == 'scene'), None)
        if scene_input:  # a new asset cannot be linked yet, so no lookup is needed
            s.add(
                AssetLink(
                    project_id=ctx.project.id,
                    parent_id=scene_input['asset_id'],
                    child_id=asset.id,
                    relation=LinkRelation.candidate_of,
                    params={'run_id': run.id, 'stage': run.stage.value},
                )
            )
        if item.cost > 0:
            call = {'call': item.call['id'], 'n': item.call['n']} if item.call else {}
            s.merge(cost_event(ctx, cand, item.cost, 'billed', event_id=item.cost_event_id, **call))
        done.append(
            {
                'id': cand.id,
                'status': WorkState.done,
                'asset_id': asset.id,
                'error': '',
                'finished_at': utcnow(),
                'qa_summary': {'sha256': item.staged.info.sha256},
                'calls': [*cand.calls, item.call] if item.call else cand.calls,
            }
        )
    s.flush()  # the asset rows first: the candidates point at them
    s.execute(update(Candidate), done)  # one UPDATE by primary key for the whole batch


def cost_event(
    ctx: JobContext, cand: Candidate, cost: float, state: str, *, event_id: str | None = None, **meta: Any
) -> CostEvent:
    """A paid call's cost: written as `sent` before the call goes out, then `billed`, `maybe billed` (no answer
    came) or `not billed` (the provider refused it), so every paid call is accounted for, even after a crash."""
    event = CostEvent(
        project_id=ctx.project.id,
        run_id=ctx.run.id,
        job_id=ctx.job.id,
        candidate_id=cand.id,
        provider=ctx.provider.kind,
        model=ctx.provider.config.model,
        amount_usd=cost,
        meta={'state': state, **meta},
    )
    if event_id:
        event.id = event_id
    return event


def write_costs(s: Session, groups: list[list[CostEvent]]) -> None:
    """Insert or update cost events by id (the same call's events move from `sent` to their outcome); one group per
    call, grouped calls share one transaction."""
    for events in groups:
        for event in events:
            s.merge(event)


def fail_candidate(s: Session, cand_id: str, message: str, cost: CostEvent | None, call: dict | None = None) -> None:
    fail_candidates(s, [cand_id], message, [cost] if cost is not None else [], call)


def fail_candidates(
    s: Session, cand_ids: list[str], message: str, costs: list[CostEvent], call: dict | None = None
) -> None:
    """The candidates of one failed call fail together, with one reason, each keeping the call's story."""
    for cand_id in cand_ids:
        cand = s.get(Candidate, cand_id)
        cand.status, cand.error, cand.finished_at = WorkState.failed, message, utcnow()
        if call is not None:
            cand.calls = [*cand.calls, call]
        s.add(cand)
    for cost in costs:
        s.merge(cost)
    log.warning('%d candidate(s) failed: %s', len(cand_ids), message)


def fail_job(s: Session, job_id: str, message: str) -> str:
    """A job that cannot start or broke unexpectedly fails its unfinished candidates; returns its run's id."""
    job = s.get(Job, job_id)
    job.error = message
    for cand in run_queue.pending_candidates(s, job_id):
        if cand.status in (WorkState.queued, WorkState.running, WorkState.interrupted):
            cand.status, cand.error, cand.finished_at = WorkState.failed, message, utcnow()
            s.add(cand)
    s.add(job)
    s.flush()
    run_queue.finish_job(s, job_id)
    log.warning('Job %s failed: %s', job_id, message)
    return job.run_id


def done_candidates(s: Session, job_id: str) -> list[Candidate]:
    query = select(Candidate).where(Candidate.job_id == job_id, Candidate.status == WorkState.done)
    return list(s.exec(query.order_by(col(Candidate.index))).all())


def settle_job(s: Session, job_id: str, qa: QAHook | None, measured: tuple[list[str], list[QAReport]] | None) -> None:
    """Record the job's QA (measured before, outside the transaction), then settle the job and its run."""
    job = s.get(Job, job_id)
    if qa is not None and measured and measured[0]:
        by_id = {c.id: c for c in done_candidates(s, job_id)}
        ids, reports = measured
        qa.record(s, job, [by_id[i] for i in ids], reports)
    run_queue.finish_job(s, job_id)
