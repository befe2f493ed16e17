"""Image assets, their lineage links, QA reports and reviews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import AssetKind, LinkRelation, ReviewState, created_field, id_field, json_field, project_fk


class Asset(SQLModel, table=True):
    """Every image file the studio knows: path relative to the project root, hash, size, thumbnail."""

    __table_args__ = (
        Index('ix_asset_project_hash', 'project_id', 'sha256'),
        Index('ix_asset_gallery', 'project_id', 'created_at'),
    )
    id: str = id_field()
    project_id: str = project_fk()
    kind: AssetKind
    path: str
    sha256: str = Field(max_length=64)
    size_bytes: int
    width: int
    height: int
    mime: str = 'image/png'
    original_name: str = ''
    tags: list[str] = json_field(list)
    stage: str | None = Field(default=None, max_length=20)
    scene_id: str | None = Field(
        default=None, index=True, description='filter tag, not a foreign key (scenes point at assets)'
    )
    character_id: str | None = Field(default=None, index=True, description='filter tag, not a foreign key')
    status: ReviewState = ReviewState.generated
    immutable: bool = False
    meta: dict[str, Any] = json_field()
    created_at: datetime = created_field()


class AssetRead(BaseModel):
    id: str
    project_id: str
    kind: AssetKind
    path: str
    sha256: str
    size_bytes: int
    width: int
    height: int
    original_name: str
    tags: list[str]
    stage: str | None
    scene_id: str | None
    character_id: str | None
    status: ReviewState
    immutable: bool
    meta: dict[str, Any]
    created_at: datetime


class AssetLink(SQLModel, table=True):
    __table_args__ = (UniqueConstraint('parent_id', 'child_id', 'relation', name='uq_asset_link'),)
    id: str = id_field()
    project_id: str = project_fk()
    parent_id: str = Field(foreign_key='asset.id', index=True, ondelete='CASCADE')
    child_id: str = Field(foreign_key='asset.id', index=True, ondelete='CASCADE')
    relation: LinkRelation
    params: dict[str, Any] = json_field()
    created_at: datetime = created_field()


class QualityReport(SQLModel, table=True):
    """Measured QA of one asset: metric values and verdicts, plus the overall verdict and score."""

    id: str = id_field()
    project_id: str = project_fk()
    asset_id: str = Field(foreign_key='asset.id', index=True, ondelete='CASCADE')
    candidate_id: str | None = Field(default=None, foreign_key='candidate.id', index=True, ondelete='CASCADE')
    verdict: str = 'unverified'
    score: float = 0.0
    metrics: dict[str, Any] = json_field()
    created_at: datetime = created_field()


class Review(SQLModel, table=True):
    """An artist's decision on a candidate or a scene (approve, reject, shortlist, retry with a note)."""

    id: str = id_field()
    project_id: str = project_fk()
    candidate_id: str | None = Field(default=None, foreign_key='candidate.id', index=True, ondelete='CASCADE')
    scene_id: str | None = Field(default=None, foreign_key='scene.id', index=True, ondelete='CASCADE')
    stage: str | None = None
    state: str = Field(max_length=20)
    note: str = ''
    created_at: datetime = created_field()
