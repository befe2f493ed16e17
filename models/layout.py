"""Chapters, pages and panels (balloons and captions are data, rendered at export) and export records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import created_field, id_field, json_field, project_fk


class Chapter(SQLModel, table=True):
    __table_args__ = (UniqueConstraint('project_id', 'number', name='uq_chapter_number'),)
    id: str = id_field()
    project_id: str = project_fk()
    number: int
    title: str = ''
    writer: str = ''
    created_at: datetime = created_field()


class Page(SQLModel, table=True):
    __table_args__ = (UniqueConstraint('chapter_id', 'number', name='uq_page_number'),)
    id: str = id_field()
    project_id: str = project_fk()
    chapter_id: str = Field(foreign_key='chapter.id', index=True, ondelete='CASCADE')
    number: int
    template: str = Field(default='splash', max_length=40)
    size_preset: str = Field(default='us_comic', max_length=40)
    layout: dict[str, Any] = json_field()
    created_at: datetime = created_field()


class Panel(SQLModel, table=True):
    """A slot on a page: the approved asset in it, crop/zoom, and its captions and balloons as data."""

    __table_args__ = (UniqueConstraint('page_id', 'slot', name='uq_panel_slot'),)
    id: str = id_field()
    project_id: str = project_fk()
    page_id: str = Field(foreign_key='page.id', index=True, ondelete='CASCADE')
    slot: int
    asset_id: str | None = Field(default=None, foreign_key='asset.id', ondelete='SET NULL')
    crop: dict[str, Any] = json_field()
    balloons: list[dict[str, Any]] = json_field(list)


class Export(SQLModel, table=True):
    id: str = id_field()
    project_id: str = project_fk()
    chapter_id: str | None = Field(default=None, foreign_key='chapter.id', ondelete='SET NULL')
    format: str = Field(max_length=10)
    status: str = 'done'
    path: str = ''
    size_bytes: int = 0
    checksum_sha256: str = ''
    manifest: dict[str, Any] = json_field()
    created_at: datetime = created_field()
