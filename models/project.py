"""Projects: one story universe each, with its own storage root, budget and defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AllowInfNan, BaseModel
from sqlmodel import Field, SQLModel

from models.base import NOTE_MAX, Input, Name, created_field, id_field, json_field

SLUG_MAX = 64
Budget = Annotated[float, Field(ge=0, le=1_000_000), AllowInfNan(False)]
BatchLimit = Annotated[int, Field(ge=1, le=500)]
Description = Annotated[str, Field(max_length=NOTE_MAX)]


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
    files_url: str | None = Field(default=None, max_length=600)  # None: the studio's; 'local' or s3://bucket/prefix
    budget_usd: float = 50.0
    batch_limit: int = 20
    settings: dict[str, Any] = json_field()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class ProjectCreate(Input):
    slug: str = Field(max_length=SLUG_MAX, title='Slug', description='Names the folder and the URL: a-z, 0-9, - and _.')
    name: Name = Field(title='Name')
    description: Description = Field('', title='Description')
    budget_usd: Budget = Field(50.0, title='Budget (USD)')


class ProjectUpdate(Input):
    """Only the fields given change; None keeps the current value; settings are merged key by key."""

    name: Name | None = Field(None, title='Name')
    description: Description | None = Field(None, title='Description')
    budget_usd: Budget | None = Field(None, title='Budget (USD)')
    batch_limit: BatchLimit | None = Field(None, title='Batch limit (jobs per run)')
    settings: dict[str, Any] | None = Field(None, title='Settings')


class ProjectArchive(Input):
    archived: bool = Field(True, title='Archived', description='false restores an archived project.')


class StorageUpdate(Input):
    """Where a project's files go; a field given as "" (or None) goes back to the default."""

    storage_root: str | None = Field(None, max_length=1000, title='Local root')
    s3_bucket: str | None = Field(None, max_length=63, title='S3 bucket')
    s3_prefix: str | None = Field(None, max_length=500, title='S3 prefix')
    s3_endpoint_url: str | None = Field(None, max_length=500, title='S3 endpoint URL')
    s3_region: str | None = Field(None, max_length=40, title='S3 region')


class LocalStorageUpdate(Input):
    """The API's local storage body."""

    project_root: str | None = Field(
        None, max_length=1000, title='Local root', description='Absolute folder; "" goes back to default.'
    )
    move: bool = Field(
        False, title='Move files', description="Move the project's existing files there (SHA-256 checked)."
    )

    def storage_update(self) -> StorageUpdate:
        given = 'project_root' in self.model_fields_set
        return StorageUpdate(**({'storage_root': self.project_root or ''} if given else {}))


class S3StorageUpdate(Input):
    """The API's S3 storage body: fields not sent are kept."""

    bucket: str | None = Field(None, max_length=63, title='S3 bucket')
    prefix: str | None = Field(None, max_length=500, title='S3 prefix')
    endpoint_url: str | None = Field(None, max_length=500, title='S3 endpoint URL')
    region: str | None = Field(None, max_length=40, title='S3 region')

    def storage_update(self) -> StorageUpdate:
        return StorageUpdate(**{f's3_{k}': v for k, v in self.model_dump(exclude_unset=True).items()})


class ProjectRead(ProjectBase):
    id: str
    slug: str
    status: str
    storage_root: str | None
    s3_bucket: str | None
    s3_prefix: str | None
    s3_endpoint_url: str | None
    s3_region: str | None
    files_url: str | None = None
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
