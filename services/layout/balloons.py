"""Speech balloons, captions and thought clouds kept as data and drawn only at render time, text always fitted inside."""

from __future__ import annotations

import importlib.util
import logging
import math
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from models.layout import BALLOON_KINDS, BalloonData
from services.errors import Invalid, parse
from services.files import ASSETS_DIR
from services.layout.fonts import font_for

log = logging.getLogger(__name__)

KINDS = BALLOON_KINDS
_DIAG = math.sqrt(0.5)
# Unit vectors from the balloon centre towards the speaker; captions never get a tail (comic convention).
TAIL_DIRECTIONS: dict[str, tuple[float, float] | None] = {'none': None, 'bottom': (0.0, 1.0), 'top': (0.0, -1.0)}
TAIL_DIRECTIONS |= {'left': (-1.0, 0.0), 'right': (1.0, 0.0), 'bottom-left': (-_DIAG, _DIAG)}
TAIL_DIRECTIONS |= {'bottom-right': (_DIAG, _DIAG), 'top-left': (-_DIAG, -_DIAG), 'top-right': (_DIAG, -_DIAG)}
SUPERSAMPLE = 3
Rect = tuple[int, int, int, int]
_FONT_DIR = ASSETS_DIR / 'fonts'


@dataclass(frozen=True)
class Balloon:
    """One balloon ready to draw; its limits are BalloonData's, checked by from_dict for anything stored or sent."""

    text: str
    x: float
    y: float
    kind: str = 'speech'
    tail: str = 'bottom'
    font_size: int = 28
    width: float = 0.4

    @classmethod
    def from_dict(cls, d: Any, *, where: str = 'Balloon') -> Balloon:
        """Build from stored/posted JSON; a bad, missing or unknown field is refused by name, and text that no
        installed font can draw is refused with the characters named (never drawn as empty boxes)."""
        balloon = cls(**parse(BalloonData, d, where=where, code='balloon_invalid').model_dump())
        font_for(balloon.text, default_font_path())
        return balloon

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BalloonLayout:
    """Where a balloon lands on the canvas: body and text boxes are (x0, y0, x1, y1), exclusive right/bottom."""

    body: Rect
    text_box: Rect
    lines: tuple[str, ...]
    font_size: int
    line_height: int
    tail_tip: tuple[int, int] | None
    border: int


@lru_cache(maxsize=1)
def default_font_path() -> Path | None:
    """A shipped font in assets/fonts, else matplotlib's DejaVu Sans (located, not imported), else None."""
    shipped = sorted(_FONT_DIR.glob('*.ttf')) if _FONT_DIR.is_dir() else []
    if shipped:
        return shipped[0]
    spec = importlib.util.find_spec('matplotlib')
    if spec and spec.origin:
        candidate = Path(spec.origin).parent / 'mpl-data' / 'fonts' / 'ttf' / 'DejaVuSans.ttf'
        if candidate.is_file():
            return candidate
    log.warning('No TrueType font found; balloons fall back to the Pillow default font.')
    return None


def load_font(size: int, font_path: Path | None = None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The balloon font at a pixel size (cached), so placeholders and captions share one lookup."""
    chosen = font_path or default_font_path()
    return _font(str(chosen) if chosen else None, size)


@lru_cache(maxsize=256)
def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size=size)
    try:
        return ImageFont.truetype(path, size)
    except OSError as e:
        raise Invalid(f'The font {Path(path).name} could not be loaded.', code='font_unreadable') from e


def _line_metrics(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> tuple[int, int]:
    """(line step, ink height of one line) so blocks of text can be measured before drawing."""
    text_h = sum(font.getmetrics()) if hasattr(font, 'getmetrics') else int(font.getbbox('Ag')[3])
    return max(1, round(text_h * 1.08)), text_h


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_w: float) -> tuple[list[str], bool]:
    """Greedy word wrap; a word wider than the line is broken by characters (and reported, to try a smaller font)."""
    measure, lines, broke = cache(font.getlength), [], False  # word widths are measured once: raqm is slow
    space = measure(' ')
    for para in text.splitlines() or ['']:
        current, width = '', 0.0
        for word in para.split():
            ww = measure(word)
            if current and width + space + ww <= max_w:
                current, width = f'{current} {word}', width + space + ww
                continue
            if current:
                lines.append(current)
            current, width = '', 0.0
            for piece in word if ww > max_w else [word]:
                pw = measure(piece)
                if current and width + pw > max_w:
                    lines.append(current)
                    current, width, broke = '', 0.0, True
                current, width = current + piece, width + pw
        lines.append(current)
    return lines, broke


def _shape_factor(kind: str, font_px: int, border: int) -> tuple[float, float]:
    """(text multiplier, fixed extra) per axis: an ellipse needs sqrt(2) room around its inscribed text box."""
    pad = max(2, round(font_px * 0.4))
    if kind == 'caption':
        return 1.0, 2 * (pad + border)
    bump = round(font_px * 0.45) if kind == 'thought' else 0
    return math.sqrt(2), 2 * (pad + border + bump)


def layout_balloon(
    panel_rect: Rect, balloon: Balloon, font_path: Path | None = None, *, scale: float = 1.0
) -> BalloonLayout:
    """Fit the text (shrinking the font as needed) and place the body and tail inside the panel."""
    font_path = font_path or font_for(balloon.text, default_font_path())
    px, py, pw, ph = panel_rect
    border = max(1, round(3 * scale))
    direction = None if balloon.kind == 'caption' else TAIL_DIRECTIONS[balloon.tail]
    tail_len = max(4, round(min(pw, ph) * (0.16 if balloon.kind == 'thought' else 0.09))) if direction else 0
    max_w = max(8.0, balloon.width * pw)
    max_h = max(8.0, ph * 0.92 - (tail_len * abs(direction[1]) if direction else 0))
    size = max(4, round(balloon.font_size * scale))
    start, min_size = size, min(size, max(6, round(9 * scale)))
    while True:
        font = load_font(size, font_path)
        factor, extra = _shape_factor(balloon.kind, size, border)
        avail_w, avail_h = (max_w - extra) / factor, (max_h - extra) / factor
        step, text_h = _line_metrics(font)
        lines, broke = _wrap(balloon.text, font, avail_w) if avail_w >= 1 else ([], True)
        block_h = step * (len(lines) - 1) + text_h if lines else 0
        fits = bool(lines) and block_h <= avail_h and max(font.getlength(s) for s in lines) <= avail_w
        if (fits and (not broke or size <= start * 0.6)) or size <= min_size:
            break
        size = max(min_size, min(size - 1, int(size * 0.92)))
    if not fits:
        lines = _truncate(lines, font, avail_w, avail_h, step, text_h)
        block_h = step * (len(lines) - 1) + text_h if lines else 0
    block_w = max((font.getlength(s) for s in lines), default=0.0)
    body_w = min(max_w, max(block_w * factor + extra, size * 2.2 if balloon.kind != 'caption' else 0))
    body_h = min(max_h, block_h * factor + extra)
    cx = min(max(px + balloon.x * pw, px + body_w / 2), px + pw - body_w / 2)
    cy = min(max(py + balloon.y * ph, py + body_h / 2), py + ph - body_h / 2)
    body = (round(cx - body_w / 2), round(cy - body_h / 2), round(cx + body_w / 2), round(cy + body_h / 2))
    hw, hh = block_w / 2, block_h / 2
    text_box = (math.floor(cx - hw), math.floor(cy - hh), math.ceil(cx + hw), math.ceil(cy + hh))
    tip = None
    if direction:
        dx, dy = direction
        a, b = body_w / 2, body_h / 2
        reach = 1 / math.sqrt((dx / a) ** 2 + (dy / b) ** 2) + tail_len
        tip = (
            round(min(max(cx + dx * reach - dy * tail_len * 0.3, px + border), px + pw - 1 - border)),
            round(min(max(cy + dy * reach + dx * tail_len * 0.3, py + border), py + ph - 1 - border)),
        )
    return BalloonLayout(body, text_box, tuple(lines), size, step, tip, border)


def _truncate(lines: list[str], font: Any, avail_w: float, avail_h: float, step: int, text_h: int) -> list[str]:
    """Keep what fits at the smallest size, ending with an ellipsis: never draw outside the balloon."""
    keep = max(0, int((avail_h - text_h) // step) + 1) if avail_h >= text_h else 0
    out = lines[:keep]
    if out and len(out) < len(lines):
        out[-1] += '…'
    for i, line in enumerate(out):
        while line and font.getlength(line) > avail_w:
            line = line[:-2] + '…' if line.endswith('…') and len(line) > 1 else line[:-1]
        out[i] = line
    return out


def _shapes(
    layout: BalloonLayout, kind: str, inset: float, k: int, ox: int, oy: int, draw: ImageDraw.ImageDraw
) -> None:
    """Draw the filled balloon outline (inset=0) or its interior (inset=border) at supersampled scale."""
    x0, y0, x1, y1 = ((v - o) * k for v, o in zip(layout.body, (ox, oy, ox, oy), strict=True))
    d = inset * k
    cx, cy, a, b = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    if kind == 'caption':
        radius = max(0.0, min(a, b) * 0.3 - d)
        draw.rounded_rectangle((x0 + d, y0 + d, x1 - d, y1 - d), radius=radius, fill=255)
        return
    tip = ((layout.tail_tip[0] - ox) * k, (layout.tail_tip[1] - oy) * k) if layout.tail_tip else None
    if kind == 'thought':
        bump = max(2.0, min(min(a, b) * 0.28, layout.font_size * 0.45 * k))
        ea, eb = max(1.0, a - bump), max(1.0, b - bump)
        count = max(8, int(2 * math.pi * math.sqrt((ea**2 + eb**2) / 2) / (bump * 1.3)))
        for i in range(count):
            t = 2 * math.pi * i / count
            bx, by, r = cx + ea * math.cos(t), cy + eb * math.sin(t), bump - d
            draw.ellipse((bx - r, by - r, bx + r, by + r), fill=255)
        draw.ellipse((cx - ea, cy - eb, cx + ea, cy + eb), fill=255)
        if tip:
            length = math.hypot(tip[0] - cx, tip[1] - cy) or 1.0
            ux, uy = (tip[0] - cx) / length, (tip[1] - cy) / length
            edge = 1 / math.sqrt((ux / max(a, 1)) ** 2 + (uy / max(b, 1)) ** 2)
            for frac, rad in ((0.25, 0.6), (0.6, 0.42), (0.9, 0.26)):
                dist = edge + max(0.0, length - edge) * frac
                r = max(1.0, bump * rad - d)
                ex, ey = cx + ux * dist, cy + uy * dist
                draw.ellipse((ex - r, ey - r, ex + r, ey + r), fill=255)
        return
    draw.ellipse((x0 + d, y0 + d, x1 - d, y1 - d), fill=255)
    if tip:
        phi = math.atan2((tip[1] - cy) / max(b, 1), (tip[0] - cx) / max(a, 1))
        spread = 0.2
        base = [(cx + (a - 2 * d) * math.cos(phi + s), cy + (b - 2 * d) * math.sin(phi + s)) for s in (-spread, spread)]
        length = math.hypot(tip[0] - cx, tip[1] - cy) or 1.0
        pull = min(d * 2.2, length * 0.5)
        apex = (tip[0] - (tip[0] - cx) / length * pull, tip[1] - (tip[1] - cy) / length * pull)
        draw.polygon([base[0], apex, base[1]], fill=255)


def draw_balloon(
    canvas: Image.Image, panel_rect: Rect, balloon: Balloon, font_path: Path | None = None, *, scale: float = 1.0
) -> None:
    """Draw one balloon onto the canvas, clipped to its panel; the text never leaves the balloon body."""
    font_path = font_path or font_for(balloon.text, default_font_path())
    layout = layout_balloon(panel_rect, balloon, font_path, scale=scale)
    px, py, pw, ph = panel_rect
    pts, pad = [layout.body[:2], layout.body[2:], *([layout.tail_tip] if layout.tail_tip else [])], layout.border + 2
    rx0, ry0 = max(px, min(p[0] for p in pts) - pad), max(py, min(p[1] for p in pts) - pad)
    rx1, ry1 = min(px + pw, max(p[0] for p in pts) + pad + 1), min(py + ph, max(p[1] for p in pts) + pad + 1)
    if rx1 <= rx0 or ry1 <= ry0:
        return
    size = (rx1 - rx0, ry1 - ry0)
    big = (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE)
    outer, inner = Image.new('L', big, 0), Image.new('L', big, 0)
    _shapes(layout, balloon.kind, 0, SUPERSAMPLE, rx0, ry0, ImageDraw.Draw(outer))
    _shapes(layout, balloon.kind, layout.border, SUPERSAMPLE, rx0, ry0, ImageDraw.Draw(inner))
    region = canvas.crop((rx0, ry0, rx1, ry1)).convert('RGB')
    region.paste((0, 0, 0), mask=outer.resize(size, Image.Resampling.BOX))
    region.paste((255, 255, 255), mask=inner.resize(size, Image.Resampling.BOX))
    font = load_font(layout.font_size, font_path)
    text_draw = ImageDraw.Draw(region)
    centre_x = (layout.text_box[0] + layout.text_box[2]) / 2 - rx0
    scalable = isinstance(font, ImageFont.FreeTypeFont)
    for i, line in enumerate(layout.lines):
        top = layout.text_box[1] - ry0 + i * layout.line_height
        x = centre_x if scalable else centre_x - font.getlength(line) / 2
        text_draw.text((x, top), line, font=font, fill=(0, 0, 0), anchor='ma' if scalable else None)
    canvas.paste(region if canvas.mode == 'RGB' else region.convert(canvas.mode), (rx0, ry0))
