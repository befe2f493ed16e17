"""Projects: one story universe each, with its own storage root, budget and defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from models.base import created_field, id_field, json_field


class ProjectBase(SQLModel):
    name: str = Field(max_length=200)
    description: str = ''


class Project(ProjectBase, table=True):
    """A story universe; every other row belongs to exactly one project (or is global)."""

    id: str = id_field()
    slug: str = Field(max_length=64, unique=True, index=True)
    status: str = Field(default='active', max_length=20)
    storage_root: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    budget_usd: float = 50.0
    batch_limit: int = 20
    settings: dict[str, Any] = json_field()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class ProjectCreate(ProjectBase):
    slug: str
    budget_usd: float = 50.0


class ProjectUpdate(BaseModel):
    name: str | None = None
    description: str | None = None
    budget_usd: float | None = None
    batch_limit: int | None = None
    settings: dict[str, Any] | None = None


class StorageUpdate(BaseModel):
    storage_root: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None


class ProjectRead(ProjectBase):
    id: str
    slug: str
    status: str
    storage_root: str | None
    s3_bucket: str | None
    s3_prefix: str | None
    s3_endpoint_url: str | None
    s3_region: str | None
    budget_usd: float
    batch_limit: int
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ProjectStats(BaseModel):
    """The numbers a dashboard card shows."""

    runs: int = 0
    assets: int = 0
    approved: int = 0
    spend_usd: float = 0.0
    qa_pass_rate: float | None = None


class ProjectSummary(BaseModel):
    project: ProjectRead
    stats: ProjectStats
