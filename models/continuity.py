"""The continuity ledger (change events in story order) and versioned character bibles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import (
    ID_MAX,
    LIST_MAX,
    NAME_MAX,
    NOTE_MAX,
    Input,
    Name,
    created_field,
    id_field,
    json_field,
    project_fk,
)

SCENE_FIELDS = ('time', 'weather', 'location', 'props')
CHARACTER_FIELDS = ('outfit', 'marks', 'held')
FIELDS = SCENE_FIELDS + CHARACTER_FIELDS
LIST_FIELDS = ('props', 'marks', 'held')  # several values at once; add and remove change them one by one
OPS = ('set', 'add', 'remove', 'clear')
FIELD_LABELS = {
    'time': 'time of day',
    'weather': 'weather',
    'location': 'location',
    'props': 'props',
    'outfit': 'outfit',
    'marks': 'injuries and marks',
    'held': 'holding',
}
PANEL_MAX = 1000


class ContinuityEvent(SQLModel, table=True):
    """One change written once ("chapter 4, scene 2: Eileen's flight suit torn"); it holds until changed again."""

    id: str = id_field()
    project_id: str = project_fk()
    scene_id: str = Field(foreign_key='scene.id', index=True, ondelete='CASCADE')
    panel: int | None = None  # the panel (beat) of the scene from which it holds; None = the whole scene
    character_id: str | None = Field(default=None, foreign_key='character.id', index=True, ondelete='CASCADE')
    field: str = Field(max_length=20)
    op: str = Field(default='set', max_length=10)
    values: list[str] = json_field(list)
    note: str = ''
    created_at: datetime = created_field()


def _as_list(value: Any) -> Any:
    """One value or several: 'night' and ['lantern', 'rope'] are both accepted."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


Values = Annotated[list[Name], BeforeValidator(_as_list), Field(max_length=LIST_MAX)]


class ContinuityEventCreate(Input):
    """A change as the page, the API, the CLI and the bootstrap answer write it; the service checks the values."""

    scene: str = Field(
        min_length=1,
        max_length=NAME_MAX,
        title='Scene',
        description='The scene\'s name or id, or its place in the story as "chapter.position" (1.2).',
    )
    panel: int | None = Field(None, ge=1, le=PANEL_MAX, title='Panel', description='From this panel of the scene on.')
    character: Name | None = Field(None, title='Character', description='Whose outfit, marks or held objects.')
    field: Literal[FIELDS] = Field(title='Field')  # type: ignore[valid-type]
    op: Literal[OPS] = Field('set', title='Change')  # type: ignore[valid-type]
    value: Values = Field(default_factory=list, title='Value')
    note: str = Field('', max_length=NOTE_MAX, title='Note')


class ContinuityEventRead(BaseModel):
    """An event with its place in the story spelled out, as lists and QA warnings show it."""

    id: str
    scene_id: str
    scene: str
    chapter: int | None
    position: int  # the scene's place in its chapter, 1-based
    panel: int | None
    character_id: str | None
    character: str | None
    field: str
    op: str
    values: list[str]
    note: str
    created_at: datetime

    @property
    def where(self) -> str:
        chapter = f'chapter {self.chapter}, ' if self.chapter is not None else ''
        panel = f', panel {self.panel}' if self.panel else ''
        return f'{chapter}scene {self.position} ({self.scene}){panel}'

    @property
    def label(self) -> str:
        """'chapter 1, scene 2 (Café table): Grace outfit = raincoat'."""
        subject = f'{self.character} ' if self.character else ''
        change = {'set': '=', 'add': '+', 'remove': '−', 'clear': 'cleared'}[self.op]
        shown = ', '.join(self.values)
        return f'{self.where}: {subject}{FIELD_LABELS.get(self.field, self.field)} {change} {shown}'.rstrip()


class CharacterVersion(SQLModel, table=True):
    """A snapshot of a character's bible, palette, outfits and tagged references; each edit adds the next version."""

    __table_args__ = (UniqueConstraint('character_id', 'version', name='uq_character_version'),)
    id: str = id_field()
    project_id: str = project_fk()
    character_id: str = Field(foreign_key='character.id', index=True, ondelete='CASCADE')
    version: int
    snapshot: dict[str, Any] = json_field()
    reason: str = ''
    created_at: datetime = created_field()


class CharacterVersionRead(BaseModel):
    id: str
    character_id: str
    version: int
    snapshot: dict[str, Any]
    reason: str
    created_at: datetime


class ReferencePick(Input):
    """The artist's say over one reference: always send it (pin), never (exclude), or let the planner choose."""

    asset_id: str = Field(min_length=1, max_length=ID_MAX, title='Image id')
    choice: Literal['auto', 'pin', 'exclude'] = Field(title='Pick')
