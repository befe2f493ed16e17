"""Chapters, pages and panels (balloons and captions are data, rendered at export) and export records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AllowInfNan, BaseModel, ConfigDict, Strict
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import ID_MAX, Input, created_field, id_field, json_field, project_fk

NUMBER_MAX, TITLE_MAX, BALLOON_TEXT_MAX = 9999, 200, 1000
BALLOON_KINDS = ('speech', 'caption', 'thought')
BALLOON_TAILS = ('none', 'bottom', 'top', 'left', 'right', 'bottom-left', 'bottom-right', 'top-left', 'top-right')
ChapterNumber = Annotated[int, Field(ge=1, le=NUMBER_MAX)]
Title = Annotated[str, Field(max_length=TITLE_MAX)]
Number = Annotated[float, Strict(), AllowInfNan(False)]
Fraction = Annotated[Number, Field(ge=0.0, le=1.0)]


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


class ChapterCreate(Input):
    number: ChapterNumber | None = Field(None, title='Chapter number', description='Defaults to the next free number.')
    title: Title = Field('', title='Title')
    writer: Title = Field('', title='Writer')


class ChapterUpdate(Input):
    """Only the fields given change; None keeps the current value."""

    number: ChapterNumber | None = Field(None, title='Chapter number')
    title: Title | None = Field(None, title='Title')
    writer: Title | None = Field(None, title='Writer')


class ChapterRead(BaseModel):
    """A chapter with its page count, for the chapter picker and the export scope."""

    model_config = ConfigDict(frozen=True)
    id: str
    number: int
    title: str
    writer: str
    pages: int = 0


class PageLayout(Input):
    """What the page form sets: template and size, rows/cols for the grid template, gutter in px at 150 DPI.

    Which templates, sizes and grids exist is the renderer's to say (services/layout), so only shapes are checked here.
    """

    template: str = Field('splash', max_length=40, title='Template')
    size_preset: str = Field('us_comic', max_length=40, title='Size')
    rows: int | None = Field(None, title='Rows')
    cols: int | None = Field(None, title='Columns')
    gutter: int | None = Field(None, title='Gutter (px)')


class PageCreate(PageLayout):
    """A new page at the end of a chapter."""

    chapter_id: str = Field(min_length=1, max_length=ID_MAX, title='Chapter')


class PageUpdate(PageLayout):
    """A page's new layout, given whole as the editor shows it."""


class PanelRead(BaseModel):
    """One filled slot (0-based): asset, crop and balloons exactly as stored."""

    model_config = ConfigDict(frozen=True)
    slot: int
    asset_id: str | None
    crop: dict[str, float]
    balloons: tuple[dict[str, Any], ...]


class PageRead(BaseModel):
    """A page as the editor and the exporter see it; grid holds rows/cols (grid template) and gutter."""

    model_config = ConfigDict(frozen=True)
    id: str
    chapter_id: str
    number: int
    template: str
    size_preset: str
    grid: dict[str, int]
    slots: int
    panels: tuple[PanelRead, ...]

    def panel(self, slot: int) -> PanelRead | None:
        """The panel in a slot, or None while it is empty."""
        return next((p for p in self.panels if p.slot == slot), None)


class Crop(Input):
    """How a panel frames its image: zoom 1–4 around a focal centre x/y (0–1); the source stays untouched."""

    zoom: Number = Field(1.0, ge=1.0, le=4.0, title='zoom')
    x: Fraction = Field(0.5, title='x')
    y: Fraction = Field(0.5, title='y')


def _visible(text: str) -> str:
    if not text.strip():
        raise ValueError('must not be empty')
    return text


class BalloonData(Input):
    """One balloon as stored and sent; x/y are its centre in the panel (0–1), width its maximum width (0.1–1)."""

    model_config = ConfigDict(extra='forbid', str_strip_whitespace=False, frozen=True)
    text: Annotated[str, AfterValidator(_visible)] = Field(max_length=BALLOON_TEXT_MAX, title='text')
    x: Fraction = Field(title='x')
    y: Fraction = Field(title='y')
    kind: Literal[BALLOON_KINDS] = Field('speech', title='kind')  # type: ignore[valid-type]
    tail: Literal[BALLOON_TAILS] = Field('bottom', title='tail')  # type: ignore[valid-type]
    font_size: Annotated[int, Strict()] = Field(28, ge=8, le=200, title='font size')
    width: Number = Field(0.4, ge=0.1, le=1.0, title='width')
