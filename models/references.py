"""Continuity references: style guides, characters and their reference images, scenes, reference sets, templates."""

from __future__ import annotations

import re
import string
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator
from sqlalchemy import Index, UniqueConstraint, func, literal_column
from sqlmodel import Field, SQLModel

from models.base import (
    ID_MAX,
    LIST_MAX,
    NAME_MAX,
    NOTE_MAX,
    TEXT_MAX,
    Input,
    Name,
    Stage,
    created_field,
    id_field,
    json_field,
    project_fk,
)

ANGLES = ('front', 'three-quarter', 'profile', 'back')
ANGLE_ALIASES = {'side': 'profile', '3/4': 'three-quarter', 'three quarter': 'three-quarter'}
SHOTS = ('head', 'full-body')  # how much of the character a reference shows
SHOT_TAGS = ('', *SHOTS)  # '' when not tagged
REFERENCE_CHOICES = ('auto', 'pin', 'exclude')  # the artist's say over the planner's pick
FRAMINGS = ('close-up', 'medium', 'wide')
TIMES = ('day', 'dusk', 'night')
WEATHERS = ('clear', 'rain', 'fog', 'snow')
PLACEHOLDERS = (
    'style_guide',
    'scene',
    'continuity',
    'characters',
    'time',
    'weather',
    'stage',
    'location',
    'props',
    'outfits',
    'marks',
    'held',
)
TAG_MAX = 100


def unique_name_per_project(table: str) -> tuple:
    """Names are unique per project case-insensitively, enforced by the database too (Hero vs hero)."""
    return (Index(f'uq_{table}_name_ci', 'project_id', func.lower(literal_column('name')), unique=True),)


def hex_colour(value: str) -> str:
    colour = value.strip().lower()
    if not re.fullmatch(r'#[0-9a-f]{6}', colour):
        raise ValueError(f'not a hex colour like #1a2b3c (got "{value[:20]}")')
    return colour


def placeholders_only(text: str) -> str:
    """Placeholders are bare known names: no format spec, conversion, index or attribute can reach a prompt."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        raise ValueError(f'braces are unbalanced ({e}); write {{{{ and }}}} for a literal brace') from e
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        shown = '{' + name + (f'!{conversion}' if conversion else '') + (f':{spec}' if spec else '') + '}'
        if name in PLACEHOLDERS and (spec or conversion):
            raise ValueError(f'placeholder {shown[:60]} has a format; placeholders are names only, write {{{name}}}')
        if name not in PLACEHOLDERS:
            known = ', '.join(f'{{{p}}}' for p in PLACEHOLDERS)
            raise ValueError(f'unknown placeholder {shown[:60]}; use one of {known}')
    return text


def angle_alias(value: object) -> object:
    """Older tags and other tools say 'side' for a profile view; both mean the same reference."""
    return ANGLE_ALIASES.get(value.strip().lower(), value.strip().lower()) if isinstance(value, str) else value


Colour = Annotated[str, AfterValidator(hex_colour)]
Palette = Annotated[list[Colour], Field(max_length=LIST_MAX)]
Names = Annotated[list[Name], Field(max_length=LIST_MAX)]
OutfitPalettes = Annotated[dict[Name, Palette], Field(max_length=LIST_MAX)]
Angle = Annotated[Literal[ANGLES], BeforeValidator(angle_alias)]  # type: ignore[valid-type]
Text = Annotated[str, Field(max_length=TEXT_MAX)]
TemplateText = Annotated[str, Field(min_length=1, max_length=TEXT_MAX), AfterValidator(placeholders_only)]


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


class StyleGuideCreate(Input):
    name: Name = Field(title='Name')
    rules: Text = Field('', title='Rules')
    do_text: Text = Field('', title='Do')
    dont_text: Text = Field('', title="Don't")
    palette: Palette = Field(default_factory=list, title='Palette')


class StyleGuideUpdate(Input):
    """Only the fields given change; None keeps the current value."""

    name: Name | None = Field(None, title='Name')
    rules: Text | None = Field(None, title='Rules')
    do_text: Text | None = Field(None, title='Do')
    dont_text: Text | None = Field(None, title="Don't")
    palette: Palette | None = Field(None, title='Palette')


class CharacterBase(SQLModel):
    name: str = Field(max_length=200)
    bible: str = ''
    palette: list[str] = json_field(list)
    outfits: list[str] = json_field(list)
    outfit_palettes: dict[str, list[str]] = json_field(dict)  # outfit name → its colours, for prompts and QA


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
    shot: str = Field(default='', max_length=20)
    choice: str = Field(default='auto', max_length=10)
    face_encoding: list[float] | None = json_field(lambda: None)
    created_at: datetime = created_field()


class CharacterRead(CharacterBase):
    id: str
    project_id: str
    reference_asset_ids: list[str] = []
    version: int = 0  # the bible's current version (services/references/character_versions)


class CharacterCreate(Input):
    name: Name = Field(title='Name')
    bible: Text = Field('', title='Bible')
    palette: Palette = Field(default_factory=list, title='Palette')
    outfits: Names = Field(default_factory=list, title='Outfits')
    outfit_palettes: OutfitPalettes = Field(default_factory=dict, title='Outfit colours')


class CharacterUpdate(Input):
    """Only the fields given change; None keeps the current value."""

    name: Name | None = Field(None, title='Name')
    bible: Text | None = Field(None, title='Bible')
    palette: Palette | None = Field(None, title='Palette')
    outfits: Names | None = Field(None, title='Outfits')
    outfit_palettes: OutfitPalettes | None = Field(None, title='Outfit colours')


class CharacterReferenceTags(Input):
    """How a reference image shows its character, so the planner picks the ones that fit each shot."""

    angle: Angle = Field('front', title='Angle')
    expression: str = Field('', max_length=TAG_MAX, title='Expression')
    outfit: str = Field('', max_length=TAG_MAX, title='Outfit')
    shot: Literal[SHOT_TAGS] = Field('', title='Shot')  # type: ignore[valid-type]
    choice: Literal[REFERENCE_CHOICES] = Field('auto', title='Pick')  # type: ignore[valid-type]


class CharacterReferenceCreate(CharacterReferenceTags):
    asset_id: str = Field(min_length=1, max_length=ID_MAX, title='Image id')


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


class Continuity(Input):
    """A scene's own state (the ledger's base for it): time, weather, props, who is present and how it is framed."""

    time: Literal[TIMES] | None = Field(None, title='Time')  # type: ignore[valid-type]
    weather: Literal[WEATHERS] | None = Field(None, title='Weather')  # type: ignore[valid-type]
    props: Names = Field(default_factory=list, title='Props')
    characters: Names = Field(default_factory=list, title='Characters present')
    framing: Literal[FRAMINGS] | None = Field(None, title='Framing')  # type: ignore[valid-type]

    def stored(self) -> dict[str, Any]:
        """Only what is set, so {} and {"props": []} are the same state."""
        return {k: v for k, v in self.model_dump().items() if v}


SceneChapter = Annotated[int, Field(ge=0, le=100_000)]
SortOrder = Annotated[int, Field(ge=0, le=1_000_000)]
AssetId = Annotated[str, Field(max_length=ID_MAX)]


class SceneCreate(Input):
    name: Name = Field(title='Name')
    description: Text = Field('', title='Description')
    chapter: SceneChapter | None = Field(None, title='Chapter')
    continuity: Continuity = Field(default_factory=Continuity, title='Continuity')
    reference_asset_id: AssetId | None = Field(None, title='Reference image')
    sort_order: SortOrder | None = Field(None, title='Order', description='Defaults to after the last scene.')


class SceneUpdate(Input):
    """Only the fields given change; chapter and reference image given as None are cleared."""

    name: Name | None = Field(None, title='Name')
    description: Text | None = Field(None, title='Description')
    chapter: SceneChapter | None = Field(None, title='Chapter')
    continuity: Continuity | None = Field(None, title='Continuity')
    reference_asset_id: AssetId | None = Field(None, title='Reference image')
    sort_order: SortOrder | None = Field(None, title='Order')


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


class ReferenceSetItemRead(BaseModel):
    id: str
    position: int
    asset_id: str | None
    label: str
    content_text: str
    sha256: str | None = None
    original_name: str | None = None


class ReferenceSetRead(BaseModel):
    id: str
    name: str
    description: str
    items: list[ReferenceSetItemRead] = []


class ReferenceSetCreate(Input):
    name: Name = Field(title='Name')
    description: str = Field('', max_length=NOTE_MAX, title='Description')


class ReferenceSetUpdate(Input):
    """Only the fields given change; None keeps the current value."""

    name: Name | None = Field(None, title='Name')
    description: str | None = Field(None, max_length=NOTE_MAX, title='Description')


class ReferenceSetItemCreate(Input):
    """An image of the project, a text note, or both; the service checks that one of the two is there."""

    asset_id: AssetId | None = Field(None, title='Image', description='An image of this project, or…')
    content_text: Text = Field('', title='Note', description='…a text note (one of the two is required).')
    label: str = Field('', max_length=NAME_MAX, title='Label')


class ReferenceSetOrder(Input):
    item_ids: list[AssetId] = Field(max_length=1000, title='Order', description='Every item of the set, once.')


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


class PromptTemplateCreate(Input):
    """Every save is a new version of the named template; placeholders are checked before anything is stored."""

    stage: Stage = Field(title='Stage')
    text: TemplateText = Field(title='Template text')
    name: Name | None = Field(None, title='Name', description='Defaults to "<stage> default".')

    @property
    def key(self) -> str:
        return self.name or f'{self.stage.value} default'


class PromptTemplateRead(BaseModel):
    id: str
    name: str
    stage: Stage
    text: str
    version: int
