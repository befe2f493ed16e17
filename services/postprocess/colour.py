"""Colour profiles: the original's grading steps, run on RGB only so a cut-out keeps its transparency."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from services.errors import Invalid, StorageError
from services.files import ASSETS_DIR

log = logging.getLogger(__name__)

PROFILES_FILE = ASSETS_DIR / 'postprocess' / 'colour_profiles.json'
NAME_RE = re.compile(r'^[a-z0-9][a-z0-9_-]{0,47}$')
# Accepted ranges: wide enough for strong looks (saturation 0 = monochrome), narrow enough to catch typos like 110.
RANGES: dict[str, tuple[float, float]] = {
    'brightness': (0.2, 3.0),
    'contrast': (0.2, 3.0),
    'saturation': (0.0, 3.0),
    'sharpness': (0.0, 3.0),
    'gamma': (0.2, 5.0),
    'autocontrast_cutoff': (0.0, 25.0),
    'r_gain': (0.0, 2.0),
    'g_gain': (0.0, 2.0),
    'b_gain': (0.0, 2.0),
}


@dataclass(frozen=True)
class ColourProfile:
    """One grading recipe; the fields are the original table's columns (bright, contrast, sat, sharp, gamma,
    autocontrast cutoff in percent, R×, G×, B×)."""

    name: str
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    sharpness: float = 1.0
    gamma: float = 1.0
    autocontrast_cutoff: float = 0.0
    r_gain: float = 1.0
    g_gain: float = 1.0
    b_gain: float = 1.0

    def to_dict(self) -> dict:
        """Plain values for lineage records, so a later edit of a user profile cannot rewrite history."""
        return asdict(self)


def builtin_profiles() -> dict[str, ColourProfile]:
    """The three profiles of the original pipeline, read from the shipped JSON asset."""
    return dict(_load_builtin())


@lru_cache(maxsize=1)
def _load_builtin() -> tuple[tuple[str, ColourProfile], ...]:
    try:
        data = json.loads(PROFILES_FILE.read_text(encoding='utf-8'))
    except (OSError, ValueError) as e:
        raise StorageError(f'Built-in colour profiles could not be read from {PROFILES_FILE}: {e}') from e
    profiles = [profile_from_dict(item) for item in data['profiles']]
    return tuple((p.name, p) for p in profiles)


def profile_from_dict(d: dict) -> ColourProfile:
    """Build an artist-defined profile, naming the exact field that is wrong; missing values mean 'unchanged'."""
    if not isinstance(d, dict):
        raise Invalid('A colour profile must be an object of named values.', code='invalid_colour_profile')
    known = {f.name for f in fields(ColourProfile)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise Invalid(
            f'Colour profile field {unknown[0]!r} is not known; use {", ".join(sorted(known))}.',
            code='invalid_colour_profile',
            details={'field': unknown[0]},
        )
    name = d.get('name')
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise Invalid(
            "Colour profile field 'name' must be 1-48 lowercase letters, digits, '_' or '-', starting with a "
            'letter or digit.',
            code='invalid_colour_profile',
            details={'field': 'name'},
        )
    values: dict[str, float] = {}
    for key, (low, high) in RANGES.items():
        if key not in d:
            continue
        value = d[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise Invalid(
                f'Colour profile field {key!r} must be a number.', code='invalid_colour_profile', details={'field': key}
            )
        if not low <= value <= high:
            raise Invalid(
                f'Colour profile field {key!r} must be between {low} and {high}, got {value}.',
                code='invalid_colour_profile',
                details={'field': key},
            )
        values[key] = float(value)
    return ColourProfile(name=name, **values)


def apply_profile(image: Image.Image, profile: ColourProfile) -> Image.Image:
    """Grade in the original's order on the colour channels only; the alpha channel comes back byte-identical."""
    has_alpha = image.mode in ('RGBA', 'LA', 'PA') or 'transparency' in image.info
    alpha = image.convert('RGBA').getchannel('A') if has_alpha else None
    rgb = image.convert('RGB')
    visible = alpha.point(lambda v: 255 if v else 0) if alpha is not None else None
    if visible is not None and not visible.getbbox():
        visible = None  # fully transparent: statistics over nothing make no sense, use every pixel
    p = profile
    if p.autocontrast_cutoff > 0:
        rgb = ImageOps.autocontrast(rgb, cutoff=p.autocontrast_cutoff, mask=visible)
    if p.brightness != 1.0:
        rgb = ImageEnhance.Brightness(rgb).enhance(p.brightness)
    if p.contrast != 1.0:
        rgb = _contrast(rgb, p.contrast, visible)
    if p.saturation != 1.0:
        rgb = ImageEnhance.Color(rgb).enhance(p.saturation)
    if p.sharpness != 1.0:
        rgb = ImageEnhance.Sharpness(rgb).enhance(p.sharpness)
    if p.gamma != 1.0 or (p.r_gain, p.g_gain, p.b_gain) != (1.0, 1.0, 1.0):
        rgb = rgb.point(_tone_lut(p.gamma, (p.r_gain, p.g_gain, p.b_gain)))
    if alpha is not None:
        rgb.putalpha(alpha)
    return rgb


def _contrast(rgb: Image.Image, factor: float, visible: Image.Image | None) -> Image.Image:
    """PIL's contrast (blend with the mean grey), but the mean counts only visible pixels, not the cut-away."""
    lum = np.asarray(rgb.convert('L'), dtype=np.float64)
    weights = None if visible is None else np.asarray(visible, dtype=np.float64)
    mean = int(float(np.average(lum, weights=weights)) + 0.5)
    return Image.blend(Image.new('RGB', rgb.size, (mean, mean, mean)), rgb, factor)


def _tone_lut(gamma: float, gains: tuple[float, float, float]) -> list[int]:
    """Gamma as (v/255)^(1/γ)·255, then each channel's multiplier, clamped: one lookup pass over the pixels."""
    curve = [round(((v / 255) ** (1 / gamma)) * 255) for v in range(256)]
    return [min(255, max(0, round(c * gain))) for gain in gains for c in curve]
