"""The project budget as runs see it: what was spent, what queued and running runs reserve, and each paid call's
admission against both, so several runs can never spend past the budget together."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.base import RunMode, WorkState
from models.project import Project
from models.runs import CostEvent, Run

ACTIVE = (WorkState.queued, WorkState.running)
EPSILON = 1e-6  # estimates and shares are floats; a cent is never lost to rounding


@dataclass(frozen=True)
class BudgetView:
    """Spent (every paid call's cost event, maybe billed included) and reserved (the unspent estimates of runs that
    are queued or running); what is left is what a new run or an unplanned call may still use."""

    budget_usd: float
    spent_usd: float
    reserved_usd: float
    reserving_runs: int

    @property
    def left_usd(self) -> float:
        return self.budget_usd - self.spent_usd - self.reserved_usd


def spent(session: Session, project_id: str) -> float:
    total = select(func.coalesce(func.sum(CostEvent.amount_usd), 0.0)).where(CostEvent.project_id == project_id)
    return float(session.exec(total).one())


def budget_view(session: Session, project_id: str, *, for_run: str | None = None, lock: bool = False) -> BudgetView:
    """The budget with the reservations of active runs (each one's estimate less what it already spent).

    For a new run every active run counts; for a call of a queued or running run, the runs queued before it (so the
    oldest run always proceeds, even when the budget was lowered below all reservations). `lock` takes the project
    row for the transaction (FOR UPDATE on PostgreSQL), so two workers admitting calls of one project check the
    budget one after the other; SQLite's single writer already does that."""
    query = select(Project.budget_usd).where(Project.id == project_id)
    budget = float(session.exec(query.with_for_update() if lock else query).one())
    runs = select(Run.id, Run.cost_estimate_usd).where(
        Run.project_id == project_id, col(Run.status).in_(ACTIVE), Run.mode == RunMode.run
    )
    if for_run and (this := session.get(Run, for_run)) is not None:
        runs = runs.where(Run.id != for_run, col(Run.created_at) < this.created_at)
    estimates = dict(session.exec(runs).all())
    by_run: dict[str, float] = {}
    if estimates:
        per_run = (
            select(CostEvent.run_id, func.sum(CostEvent.amount_usd))
            .where(col(CostEvent.run_id).in_(list(estimates)))
            .group_by(col(CostEvent.run_id))
        )
        by_run = {run_id: float(total or 0.0) for run_id, total in session.exec(per_run).all()}
    reserved = sum(max(0.0, est - by_run.get(run_id, 0.0)) for run_id, est in estimates.items())
    return BudgetView(budget, spent(session, project_id), reserved, len(estimates))


@dataclass
class CallAdmission:
    """One paid call asking to go out: its cost and the `sent` cost events written if the budget allows it."""

    project_id: str
    run_id: str
    cost: float
    events: list[CostEvent] = field(default_factory=list)
    refused: str = ''


def admit_calls(session: Session, items: list[CallAdmission]) -> None:
    """Re-check the budget before each paid call and record the call as sent, in one transaction (calls admitted
    together are checked one after the other, each seeing the ones before it)."""
    for item in items:
        view = budget_view(session, item.project_id, for_run=item.run_id, lock=True)
        if item.cost > view.left_usd + EPSILON:
            others = f' and ${view.reserved_usd:.2f} reserved by {view.reserving_runs} run(s) queued before this one'
            item.refused = (
                f'This call (about ${item.cost:.2f}) would take the project past its ${view.budget_usd:.2f} budget '
                f'(${view.spent_usd:.2f} spent{others if view.reserving_runs else ""}). Nothing was sent; raise the '
                'budget or cancel a run, then retry the failed candidates.'
            )
            continue
        for event in item.events:
            session.add(event)
        session.flush()
