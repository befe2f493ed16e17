"""Durable generation work: run → jobs → candidates, and the cost of each paid call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import RunMode, Stage, WorkState, created_field, id_field, json_field, project_fk


class Run(SQLModel, table=True):
    id: str = id_field()
    project_id: str = project_fk()
    stage: Stage
    mode: RunMode = RunMode.dry
    status: WorkState = WorkState.planned
    provider_account_id: str | None = Field(default=None, foreign_key='provideraccount.id', ondelete='SET NULL')
    settings_snapshot: dict[str, Any] = json_field()
    cost_estimate_usd: float = 0.0
    cost_actual_usd: float = 0.0
    error: str = ''
    created_at: datetime = created_field()
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Job(SQLModel, table=True):
    """One scene in one run: the composed prompt and every input's hash are stored for reproduction."""

    id: str = id_field()
    project_id: str = project_fk()
    run_id: str = Field(foreign_key='run.id', index=True, ondelete='CASCADE')
    scene_id: str | None = Field(default=None, foreign_key='scene.id', ondelete='SET NULL')
    index: int = 0
    status: WorkState = WorkState.queued
    prompt: str = ''
    inputs: list[dict[str, Any]] = json_field(list)
    params: dict[str, Any] = json_field()
    cost_estimate_usd: float = 0.0
    claimed_by: str | None = None  # the worker holding the job while it runs
    claimed_at: datetime | None = None
    lease_expires_at: datetime | None = Field(default=None, index=True)  # renewed while the worker works
    error: str = ''
    created_at: datetime = created_field()


class Candidate(SQLModel, table=True):
    """One generated image; (run, job, index) is its deterministic key so a resume never repeats it."""

    __table_args__ = (UniqueConstraint('job_id', 'index', name='uq_candidate_key'),)
    id: str = id_field()
    project_id: str = project_fk()
    run_id: str = Field(foreign_key='run.id', index=True, ondelete='CASCADE')
    job_id: str = Field(foreign_key='job.id', index=True, ondelete='CASCADE')
    index: int
    seed: int
    status: WorkState = WorkState.queued
    asset_id: str | None = Field(default=None, foreign_key='asset.id', ondelete='SET NULL')
    review_state: str = 'generated'
    qa_summary: dict[str, Any] = json_field()
    rank: int | None = None
    error: str = ''
    attempts: int = 0
    calls: list[dict[str, Any]] = json_field(list)  # each provider call's story: attempts, status, waits, outcome
    created_at: datetime = created_field()
    finished_at: datetime | None = None


class CostEvent(SQLModel, table=True):
    id: str = id_field()
    project_id: str = project_fk()
    run_id: str | None = Field(default=None, foreign_key='run.id', ondelete='SET NULL', index=True)
    job_id: str | None = Field(default=None, foreign_key='job.id', ondelete='SET NULL')
    candidate_id: str | None = Field(default=None, foreign_key='candidate.id', ondelete='SET NULL')
    provider: str = ''
    model: str = ''
    units: int = 1
    amount_usd: float = 0.0
    meta: dict[str, Any] = json_field()
    created_at: datetime = created_field()


class RunRead(BaseModel):
    id: str
    project_id: str
    stage: Stage
    mode: RunMode
    status: WorkState
    cost_estimate_usd: float
    cost_actual_usd: float
    error: str
    created_at: datetime
    total: int = 0
    done: int = 0
    failed: int = 0
