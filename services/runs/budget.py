"""The project budget as runs see it: what was spent and what queued and running runs reserve, so several runs can
never spend past the budget together; the run engine checks each paid call against it before sending."""

from __future__ import annotations

from dataclasses import dataclass

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


Pending = dict[str, tuple[str, str, float]]  # cost event id -> (project id, run id, amount), not yet committed


def spent(session: Session, project_id: str, *, pending: Pending | None = None) -> float:
    """Every paid call's cost (`sent` ones included); `pending` adds the events a worker wrote but not yet committed."""
    pending = pending or {}
    total = select(func.coalesce(func.sum(CostEvent.amount_usd), 0.0)).where(CostEvent.project_id == project_id)
    if pending:  # counted from memory, whether or not their write has landed by now
        total = total.where(col(CostEvent.id).not_in(list(pending)))
    return float(session.exec(total).one()) + sum(a for pid, _, a in pending.values() if pid == project_id)


def budget_view(
    session: Session, project_id: str, *, for_run: str | None = None, pending: Pending | None = None
) -> BudgetView:
    """The budget with the reservations of active runs (each one's estimate less what it already spent).

    For a new run every active run counts; for a call of a queued or running run, the runs queued before it (so the
    oldest run always proceeds, even when the budget was lowered below all reservations)."""
    budget = float(session.exec(select(Project.budget_usd).where(Project.id == project_id)).one())
    reserved, reserving = _reserved(session, project_id, for_run, pending or {})
    return BudgetView(budget, spent(session, project_id, pending=pending), reserved, reserving)


def _reserved(session: Session, project_id: str, for_run: str | None, pending: Pending) -> tuple[float, int]:
    """What active runs (for a run's call: those queued before it) still reserve, and how many runs reserve it."""
    runs = select(Run.id, Run.cost_estimate_usd).where(
        Run.project_id == project_id, col(Run.status).in_(ACTIVE), Run.mode == RunMode.run
    )
    if for_run and (this := session.get(Run, for_run)) is not None:
        runs = runs.where(Run.id != for_run, col(Run.created_at) < this.created_at)
    estimates = dict(session.exec(runs).all())
    by_run: dict[str, float] = {}
    if estimates:
        per_run = select(CostEvent.run_id, func.sum(CostEvent.amount_usd)).where(
            col(CostEvent.run_id).in_(list(estimates))
        )
        if pending:
            per_run = per_run.where(col(CostEvent.id).not_in(list(pending)))
        by_run = {run_id: float(total or 0.0) for run_id, total in session.exec(per_run.group_by(CostEvent.run_id))}
        for _, run_id, amount in pending.values():
            by_run[run_id] = by_run.get(run_id, 0.0) + amount
    return sum(max(0.0, est - by_run.get(run_id, 0.0)) for run_id, est in estimates.items()), len(estimates)


def admit_locked(
    session: Session, project_id: str, run_id: str, cost: float, events: list[CostEvent]
) -> BudgetView | None:
    """Check a paid call and record its `sent` events in one transaction holding the project's row lock, so workers
    on several machines never pass the budget together; returns the view that refused it, or None when sent.

    Only the total spent is read under the lock, which every paid call of every worker takes in turn; what runs
    queued before this one reserve is read just before it (it only shrinks meanwhile, as they spend or end), so
    the lock is held for three statements, not seven, and the total spent never passes the budget.
    """
    reserved, reserving = _reserved(session, project_id, run_id, {})
    budget = session.exec(select(Project.budget_usd).where(Project.id == project_id).with_for_update()).one()
    view = BudgetView(float(budget), spent(session, project_id), reserved, reserving)
    if not fits(view, cost):
        return view
    session.add_all(events)
    return None


def refusal(view: BudgetView, cost: float) -> str:
    """Why a paid call was not sent: the budget, what is spent and what runs queued before it reserve."""
    others = f' and ${view.reserved_usd:.2f} reserved by {view.reserving_runs} run(s) queued before this one'
    return (
        f'This call (about ${cost:.2f}) would take the project past its ${view.budget_usd:.2f} budget '
        f'(${view.spent_usd:.2f} spent{others if view.reserving_runs else ""}). Nothing was sent; raise the '
        'budget or cancel a run, then retry the failed candidates.'
    )


def fits(view: BudgetView, cost: float) -> bool:
    return cost <= view.left_usd + EPSILON
