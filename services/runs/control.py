"""Runs as a use case: plan with cost, guard spend, record; the pages, CLI, API and copilot all start runs here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.base import ProviderKind
from models.project import ProjectRead
from models.provider import ProviderAccount
from models.runs import CostEvent
from services.errors import NotFound
from services.providers import accounts as provider_accounts
from services.providers.base import GenerationRequest, InputImage, Provider, ProviderConfig
from services.providers.input_caps import input_cap
from services.providers.registry import build_provider
from services.runs import queue as run_queue
from services.runs.log import write_run_log
from services.runs.plan import PlannedJob, RunPlan, RunRequest, check_spend, plan_run
from services.security import audit


@dataclass(frozen=True)
class StartedRun:
    run_id: str
    plan: RunPlan


def spent(session: Session, project_id: str) -> float:
    return float(
        session.exec(
            select(func.coalesce(func.sum(CostEvent.amount_usd), 0.0)).where(CostEvent.project_id == project_id)
        ).one()
    )


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
    def estimate(job: PlannedJob) -> float:
        inputs = tuple(InputImage(role=i.role, data=b'', name=i.name, sha256=i.sha256) for i in job.inputs)
        return (
            0.0
            if provider.is_offline
            else provider.estimate_cost(GenerationRequest(prompt=job.prompt, inputs=inputs, size=job.size, n=1))
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
    result = plan_run(
        session,
        project,
        req,
        estimate=_estimator(provider),
        offline=provider.is_offline,
        spent_usd=spent(session, project.id),
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
        'base_url': account.base_url,
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
