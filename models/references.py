"""Continuity references: style guides, characters and their reference images, scenes, reference sets, templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Index, UniqueConstraint, func, literal_column
from sqlmodel import Field, SQLModel

from models.base import Stage, created_field, id_field, json_field, project_fk


def unique_name_per_project(table: str) -> tuple:
    """Names are unique per project case-insensitively, enforced by the database too (Hero vs hero)."""
    return (Index(f'uq_{table}_name_ci', 'project_id', func.lower(literal_column('name')), unique=True),)


class StyleGuideBase(SQLModel):
    name: str = Field(max_length=200)
    rules: str = ''
    do_text: str = ''
    dont_text: str = ''
    palette: list[str] = json_field(list)


class StyleGuide(StyleGuideBase, table=True):
    __table_args__ = unique_name_per_project('styleguide')
    id: str = id_field()
    project_id: str = project_fk()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class StyleGuideRead(StyleGuideBase):
    id: str
    project_id: str
    style_asset_ids: list[str] = []


class CharacterBase(SQLModel):
    name: str = Field(max_length=200)
    bible: str = ''
    palette: list[str] = json_field(list)
    outfits: list[str] = json_field(list)


class Character(CharacterBase, table=True):
    __table_args__ = unique_name_per_project('character')
    id: str = id_field()
    project_id: str = project_fk()
    identity_band: dict[str, Any] = json_field()  # face QA calibrated on the references: band + what it came from
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class CharacterReference(SQLModel, table=True):
    """One reference image of a character, tagged so prompts and QA can pick the right angle and outfit."""

    __table_args__ = (UniqueConstraint('character_id', 'asset_id', name='uq_charref_asset'),)
    id: str = id_field()
    project_id: str = project_fk()
    character_id: str = Field(foreign_key='character.id', index=True, ondelete='CASCADE')
    asset_id: str = Field(foreign_key='asset.id', ondelete='CASCADE')
    angle: str = Field(default='front', max_length=20)
    expression: str = ''
    outfit: str = ''
    face_encoding: list[float] | None = json_field(lambda: None)
    created_at: datetime = created_field()


class CharacterRead(CharacterBase):
    id: str
    project_id: str
    reference_asset_ids: list[str] = []


class SceneBase(SQLModel):
    name: str = Field(max_length=200)
    description: str = ''
    chapter: int | None = None
    sort_order: int = 0
    continuity: dict[str, Any] = json_field()


class Scene(SceneBase, table=True):
    """A place in the story; continuity holds time, weather, props and the characters present."""

    __table_args__ = unique_name_per_project('scene')
    id: str = id_field()
    project_id: str = project_fk()
    reference_asset_id: str | None = Field(default=None, foreign_key='asset.id', ondelete='SET NULL')
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class SceneRead(SceneBase):
    id: str
    project_id: str
    reference_asset_id: str | None


class ReferenceSet(SQLModel, table=True):
    __table_args__ = unique_name_per_project('referenceset')
    id: str = id_field()
    project_id: str = project_fk()
    name: str = Field(max_length=200)
    description: str = ''
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class ReferenceSetItem(SQLModel, table=True):
    id: str = id_field()
    project_id: str = project_fk()
    reference_set_id: str = Field(foreign_key='referenceset.id', index=True, ondelete='CASCADE')
    asset_id: str | None = Field(default=None, foreign_key='asset.id', ondelete='SET NULL')
    label: str = ''
    content_text: str = ''
    sort_order: int = 0


class ReferenceSetRead(BaseModel):
    id: str
    name: str
    description: str
    items: list[dict[str, Any]] = []


class PromptTemplate(SQLModel, table=True):
    """A stage's prompt with {placeholders}; every save adds a version, the highest is current."""

    __table_args__ = (UniqueConstraint('project_id', 'name', 'version', name='uq_prompt_version'),)
    id: str = id_field()
    project_id: str = project_fk()
    name: str = Field(max_length=200)
    stage: Stage
    text: str
    version: int = 1
    created_at: datetime = created_field()


class PromptTemplateRead(BaseModel):
    id: str
    name: str
    stage: Stage
    text: str
    version: int
