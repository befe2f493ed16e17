"""Runs as a use case: plan with cost, guard spend, record; the pages, CLI, API and copilot all start runs here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from models.base import ProviderKind
from models.db import SessionFactory
from models.project import Project, ProjectRead
from models.provider import ProviderAccount
from services.errors import NotFound
from services.providers import accounts as provider_accounts
from services.providers.base import GenerationRequest, InputImage, Provider, ProviderConfig, images_per_call
from services.providers.input_caps import input_cap
from services.providers.registry import build_provider
from services.runs import budget, leases, slots
from services.runs import queue as run_queue
from services.runs.log import write_run_log
from services.runs.plan import PlannedJob, RunPlan, RunRequest, call_sizes, check_spend, plan_run
from services.security import audit
from services.security.outbound import safe_url


@dataclass(frozen=True)
class StartedRun:
    run_id: str
    plan: RunPlan


def spent(session: Session, project_id: str) -> float:
    return budget.spent(session, project_id)


def resolve_account(session: Session, project: ProjectRead, account_id: str | None) -> ProviderAccount:
    """The chosen account, or the built-in offline renderer when none is chosen."""
    if account_id:
        row = provider_accounts.get_row(session, account_id)
        if row.project_id not in (None, project.id):
            raise NotFound('That provider account belongs to another project.')
        return row
    row = session.exec(
        select(ProviderAccount).where(
            ProviderAccount.kind == ProviderKind.local, col(ProviderAccount.project_id).is_(None)
        )
    ).first()
    if row is None:
        row = ProviderAccount(
            name='Offline renderer', kind=ProviderKind.local, model='kroma-local-v1', options={'concurrency': 4}
        )
        session.add(row)
        session.flush()
    return row


def _estimator(provider: Provider):  # noqa: ANN202
    """The cost of a job's candidates, priced call by call as the executor will make them (n > 1 shares inputs)."""
    per_call = images_per_call(provider)

    def estimate(job: PlannedJob, candidates: int) -> float:
        if provider.is_offline:
            return 0.0
        inputs = tuple(InputImage(role=i.role, data=b'', name=i.name, sha256=i.sha256) for i in job.inputs)
        return sum(
            provider.estimate_cost(GenerationRequest(prompt=job.prompt, inputs=inputs, size=job.size, n=n))
            for n in call_sizes(candidates, per_call)
        )

    return estimate


def plan(
    session: Session, project: ProjectRead, req: RunRequest, *, secrets: Any = None
) -> tuple[RunPlan, ProviderAccount]:
    """The plan the composer shows: jobs, prompts, inputs, blocked scenes and the cost beside the remaining budget."""
    account = resolve_account(session, project, req.account_id)
    config = ProviderConfig(
        kind=account.kind.value,
        name=account.name,
        base_url=account.base_url,
        model=account.model,
        options=dict(account.options),
    )
    provider = build_provider(config)
    view = budget.budget_view(session, project.id)
    result = plan_run(
        session,
        project,
        req,
        estimate=_estimator(provider),
        offline=provider.is_offline,
        spent_usd=view.spent_usd,
        reserved_usd=view.reserved_usd,
        reserving_runs=view.reserving_runs,
        input_cap=input_cap(account.kind.value, account.model, dict(account.options)),
    )
    return result, account


def start(
    session: Session,
    project: ProjectRead,
    req: RunRequest,
    *,
    secrets: Any = None,
    project_root: Path | None = None,
) -> StartedRun:
    """Record a dry plan, or queue a real run after the spend guard; the workers pick it up.

    With the project's root, the run's JSON log is written at once, so a dry run has its record too."""
    result, account = plan(session, project, req, secrets=secrets)
    check_spend(result, batch_limit=project.batch_limit)
    snapshot = {
        'id': account.id,
        'name': account.name,
        'kind': account.kind.value,
        'model': account.model,
        'base_url': safe_url(account.base_url),  # never a credential in a run log, even from an old account
    }
    run_id = run_queue.create_run(session, project.id, result, account=snapshot)
    asked = result.request
    payload = {'run_id': run_id, 'stage': getattr(asked.stage, 'value', asked.stage), 'mode': asked.mode}
    payload |= {'jobs': len(result.runnable), 'candidates': asked.candidates, 'account': account.name}
    payload['cost_estimate_usd'] = result.total_cost_usd
    audit.record(session, project_id=project.id, action='run.start', payload=payload)
    if project_root is not None:
        session.flush()
        write_run_log(session, project_root, run_id)
    return StartedRun(run_id, result)


def write_log(session: Session, store: Any, run_id: str) -> None:
    """Rewrite a run's JSON log from the database (after a cancel or a reclaim, when no worker will)."""
    run = run_queue.get_run_any(session, run_id)
    project = session.get(Project, run.project_id)
    write_run_log(session, store.root(project), run_id)


def cancel(session: Session, project: ProjectRead, run_id: str, *, store: Any = None) -> None:
    """Cancel a run and, with the store, rewrite its log at once, so run.json never stays `queued`."""
    run_queue.cancel_run(session, project.id, run_id)
    if store is not None:
        session.flush()
        write_log(session, store, run_id)


def recover(sessions: SessionFactory) -> None:
    """Take back what dead workers hold, in its own transaction: it stands even when the requeue after it refuses."""
    with sessions() as s:
        leases.expire_gone_here(s)
        slots.free_gone_here(s)
        leases.reclaim_expired(s)
