"""Render a comic page from data (template, panel crops, balloons) so sources are never baked or modified."""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, UnidentifiedImageError

from models.layout import Crop
from services.errors import Invalid, NotFound, parse
from services.layout.balloons import Balloon, draw_balloon, load_font
from services.layout.templates import (
    PAGE_SIZES,
    TEMPLATES,
    page_pixels,
    panel_rects,
    reference_scale,
    slot_count,
)

log = logging.getLogger(__name__)

DEFAULT_CROP: dict[str, float] = Crop().model_dump()
GUTTER_MAX = 200
PREVIEW_MIN, PREVIEW_MAX = 32, 4000
PLACEHOLDER_FILL = (236, 236, 236)
PLACEHOLDER_INK = (200, 200, 200)


def _number(value: Any, name: str, lo: float, hi: float, where: str) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not lo <= value <= hi
    ):
        raise Invalid(f'{where}: {name} must be a number from {lo:g} to {hi:g}.', details={'field': name})
    return float(value)


def normalise_crop(crop: dict | None, *, where: str = 'Panel crop') -> dict[str, float]:
    """Fill defaults and check ranges (the Crop model's): zoom 1..4, focal centre x/y 0..1."""
    return parse(Crop, crop or {}, where=where).model_dump()


@dataclass(frozen=True)
class PanelSpec:
    """What fills one slot: an approved asset (or nothing), its crop/zoom, and balloons kept as data."""

    slot: int
    image_path: Path | None
    crop: dict = field(default_factory=lambda: dict(DEFAULT_CROP))
    balloons: tuple[Balloon, ...] = ()

    def __post_init__(self) -> None:
        if type(self.slot) is not int or self.slot < 0:
            raise Invalid('Panel slot must be a whole number from 0.', details={'field': 'slot'})
        if self.image_path is not None and not isinstance(self.image_path, Path):
            object.__setattr__(self, 'image_path', Path(self.image_path))
        object.__setattr__(self, 'crop', normalise_crop(self.crop, where=f'Panel {self.slot + 1} crop'))
        balloons = tuple(b if isinstance(b, Balloon) else Balloon.from_dict(b) for b in self.balloons)
        object.__setattr__(self, 'balloons', balloons)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PanelSpec:
        """Build from stored JSON (image_path as a string, balloons as dicts)."""
        if not isinstance(d, dict) or 'slot' not in d:
            raise Invalid('A panel must be an object with a slot.', details={'field': 'slot'})
        path = d.get('image_path')
        return cls(d['slot'], Path(path) if path else None, d.get('crop') or {}, tuple(d.get('balloons') or ()))

    def to_dict(self) -> dict[str, Any]:
        return {
            'slot': self.slot,
            'image_path': str(self.image_path) if self.image_path else None,
            'crop': dict(self.crop),
            'balloons': [b.to_dict() for b in self.balloons],
        }


@dataclass(frozen=True)
class PageSpec:
    """One page: template and size preset plus its panels; grid holds rows/cols/gutter (gutter in px at 150 DPI)."""

    number: int
    template: str
    size_preset: str
    panels: tuple[PanelSpec, ...]
    grid: dict | None = None

    def __post_init__(self) -> None:
        if type(self.number) is not int or self.number < 1:
            raise Invalid('Page number must be a whole number from 1.', details={'field': 'number'})
        if self.template not in TEMPLATES:
            raise Invalid(f'Unknown page template {self.template!r}.', details={'field': 'template'})
        if self.size_preset not in PAGE_SIZES:
            raise Invalid(f'Unknown page size {self.size_preset!r}.', details={'field': 'size_preset'})
        grid = dict(self.grid or {})
        if unknown := sorted(set(map(str, grid)) - {'rows', 'cols', 'gutter'}):
            raise Invalid(f'Page grid: unknown field {unknown[0]!r}.', details={'field': 'grid'})
        if 'gutter' in grid:
            grid['gutter'] = int(_number(grid['gutter'], 'gutter', 0, GUTTER_MAX, 'Page grid'))
        object.__setattr__(self, 'grid', grid or None)
        panels = tuple(p if isinstance(p, PanelSpec) else PanelSpec.from_dict(p) for p in self.panels)
        object.__setattr__(self, 'panels', panels)
        slots = self.slots()
        seen: set[int] = set()
        for p in panels:
            if p.slot >= slots:
                raise Invalid(
                    f'Panel {p.slot + 1} does not exist in the {self.template!r} template ({slots} slots).',
                    details={'field': 'panels'},
                )
            if p.slot in seen:
                raise Invalid(f'Panel {p.slot + 1} is filled twice.', details={'field': 'panels'})
            seen.add(p.slot)

    def slots(self) -> int:
        """How many panel slots this page's template offers."""
        grid = self.grid or {}
        return slot_count(self.template, rows=grid.get('rows'), cols=grid.get('cols'))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PageSpec:
        """Build from stored JSON."""
        if not isinstance(d, dict):
            raise Invalid('A page must be an object.')
        missing = [k for k in ('number', 'template', 'size_preset') if k not in d]
        if missing:
            raise Invalid(f'Page {missing[0]} is required.', details={'field': missing[0]})
        panels = tuple(PanelSpec.from_dict(p) for p in d.get('panels') or ())
        return cls(d['number'], d['template'], d['size_preset'], panels, d.get('grid'))

    def to_dict(self) -> dict[str, Any]:
        return {
            'number': self.number,
            'template': self.template,
            'size_preset': self.size_preset,
            'panels': [p.to_dict() for p in self.panels],
            'grid': dict(self.grid) if self.grid else None,
        }


def _open_rgb_tile(panel: PanelSpec, w: int, h: int, fast: bool) -> Image.Image:
    """Cover-fit the source into w×h around the focal centre, zoomed; the source file is only read."""
    where = f'Panel {panel.slot + 1}'
    zoom, fx, fy = panel.crop['zoom'], panel.crop['x'], panel.crop['y']
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(panel.image_path) as src:
                if fast:
                    src.draft('RGB', (math.ceil(w * zoom), math.ceil(h * zoom)))
                src.load()
                im = src if src.mode in ('RGB', 'RGBA', 'L') else src.convert('RGBA')
                iw, ih = im.size
                s = max(w / iw, h / ih) * zoom
                vw, vh = min(iw, w / s), min(ih, h / s)
                left = min(max(fx * iw - vw / 2, 0.0), iw - vw)
                top = min(max(fy * ih - vh / 2, 0.0), ih - vh)
                resample = Image.Resampling.BILINEAR if fast else Image.Resampling.LANCZOS
                tile = im.resize((w, h), resample, box=(left, top, left + vw, top + vh), reducing_gap=3.0)
    except FileNotFoundError as e:
        raise NotFound(
            f'{where}: the image file {panel.image_path.name} is missing.', code='panel_image_missing'
        ) from e
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise Invalid(f'{where}: the image could not be read.', code='panel_image_unreadable') from e
    if tile.mode == 'RGBA':
        flat = Image.new('RGB', tile.size, (255, 255, 255))
        flat.paste(tile, mask=tile.getchannel('A'))
        return flat
    return tile.convert('RGB')


def _placeholder(canvas: Image.Image, rect: tuple[int, int, int, int], slot: int, scale: float) -> None:
    """A light, obviously-empty slot with its number, so the live page shows what is still to fill."""
    x, y, w, h = rect
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=PLACEHOLDER_FILL)
    line = max(1, round(2 * scale))
    draw.line((x, y, x + w - 1, y + h - 1), fill=PLACEHOLDER_INK, width=line)
    draw.line((x, y + h - 1, x + w - 1, y), fill=PLACEHOLDER_INK, width=line)
    size = max(6, min(round(48 * scale), h // 3, w // 3))
    draw.text((x + w / 2, y + h / 2), str(slot + 1), font=load_font(size), fill=(150, 150, 150), anchor='mm')


def render_page(page: PageSpec, *, dpi: int = 150, preview_width: int | None = None) -> Image.Image:
    """White page, cover-fitted panels, black borders, balloons on top; preview_width gives a fast small render."""
    full_w, full_h = page_pixels(page.size_preset, dpi)
    if preview_width is None:
        width, height, fast = full_w, full_h, False
    else:
        if type(preview_width) is not int or not PREVIEW_MIN <= preview_width <= PREVIEW_MAX:
            raise Invalid(f'Preview width must be from {PREVIEW_MIN} to {PREVIEW_MAX} pixels.', code='page_preview')
        width, height, fast = preview_width, max(1, round(full_h * preview_width / full_w)), True
    scale = reference_scale(page.size_preset, width)
    grid = page.grid or {}
    gutter = round(grid['gutter'] * scale) if 'gutter' in grid else None
    rows, cols = (grid.get('rows'), grid.get('cols')) if page.template == 'grid' else (None, None)
    rects = panel_rects(page.template, width, height, gutter=gutter, rows=rows, cols=cols)
    canvas = Image.new('RGB', (width, height), (255, 255, 255))
    by_slot = {p.slot: p for p in page.panels}
    border = max(1, round(3 * scale))
    draw = ImageDraw.Draw(canvas)
    for slot, (x, y, w, h) in enumerate(rects):
        panel = by_slot.get(slot)
        if panel is not None and panel.image_path is not None:
            canvas.paste(_open_rgb_tile(panel, w, h, fast), (x, y))
        else:
            _placeholder(canvas, (x, y, w, h), slot, scale)
        draw.rectangle((x, y, x + w - 1, y + h - 1), outline=(0, 0, 0), width=border)
        inner = (x + border, y + border, w - 2 * border, h - 2 * border)
        if panel is not None and inner[2] > 0 and inner[3] > 0:
            for balloon in panel.balloons:
                draw_balloon(canvas, inner, balloon, scale=scale)
    log.debug('rendered page %s (%s, %dx%d, fast=%s)', page.number, page.template, width, height, fast)
    return canvas
