"""What every tab, the CLI and the API show of runs: progress per run and job, and the recent runs of a project.

Read straight from the database, so every tab and a restarted studio see the same truth."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlmodel import Session, col, select

from models.base import WorkState
from models.runs import Candidate, CostEvent, Job, Run, RunRead
from services.runs.queue import get_run


@dataclass
class JobProgress:
    id: str
    scene: str
    status: str
    done: int
    failed: int
    total: int
    errors: list[str] = field(default_factory=list)
    asset_ids: list[str] = field(default_factory=list)
    worker: str | None = None  # the worker holding the job now, on whichever machine (host:pid:…)


@dataclass
class RunProgress:
    run: RunRead
    jobs: list[JobProgress]
    spent_usd: float = 0.0  # live, from the cost events: every paid call that went out
    maybe_billed_usd: float = 0.0  # calls that got no answer (or were in flight when a process died)

    @property
    def fraction(self) -> float:
        return (self.run.done / self.run.total) if self.run.total else 0.0


def run_progress(session: Session, project_id: str, run_id: str) -> RunProgress:
    """Read straight from the database, so every tab and a restarted studio see the same truth."""
    run = get_run(session, project_id, run_id)
    jobs = session.exec(select(Job).where(Job.run_id == run_id).order_by(col(Job.index))).all()
    cands = session.exec(select(Candidate).where(Candidate.run_id == run_id).order_by(col(Candidate.index))).all()
    out = []
    for j in jobs:
        mine = [c for c in cands if c.job_id == j.id]
        out.append(
            JobProgress(
                id=j.id,
                scene=j.params.get('scene', ''),
                status=j.status.value,
                done=sum(c.status == WorkState.done for c in mine),
                failed=sum(c.status == WorkState.failed for c in mine),
                total=len(mine),
                errors=[c.error for c in mine if c.error] or ([j.error] if j.error else []),
                asset_ids=[c.asset_id for c in mine if c.asset_id],
                worker=j.claimed_by,
            )
        )
    read = RunRead.model_validate(
        {
            **run.model_dump(),
            'total': len(cands),
            'done': sum(c.status == WorkState.done for c in cands),
            'failed': sum(c.status == WorkState.failed for c in cands),
        }
    )
    costs = session.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()
    spent = round(sum(c.amount_usd for c in costs), 4)
    maybe = round(sum(c.amount_usd for c in costs if c.meta.get('state') == 'maybe billed'), 4)
    return RunProgress(read, out, spent, maybe)


def list_runs(session: Session, project_id: str, *, limit: int = 50) -> list[RunRead]:
    rows = session.exec(
        select(Run).where(Run.project_id == project_id).order_by(col(Run.created_at).desc()).limit(limit)
    ).all()
    counts = {
        (r[0], r[1]): r[2]
        for r in session.execute(
            text('SELECT run_id, status, count(*) FROM candidate WHERE project_id = :p GROUP BY run_id, status'),
            {'p': project_id},
        )
    }
    out = []
    for r in rows:
        total = sum(v for (rid, _), v in counts.items() if rid == r.id)
        out.append(
            RunRead.model_validate(
                {
                    **r.model_dump(),
                    'total': total,
                    'done': counts.get((r.id, 'done'), 0),
                    'failed': counts.get((r.id, 'failed'), 0),
                }
            )
        )
    return out
