"""Lighting set aside before style is judged, on the stages that change the light on purpose.

The time and weather stages are asked to turn a panel to night, dusk or fog; the character stage paints into a panel
that was relit. Judged against daylight style references, such a panel loses on brightness and colour cast alone,
and approve-best finds nothing at night. So on those stages the candidate's global light (CIELAB lightness level
and contrast, the colour cast and the chroma a dim light takes away) is first matched to the references' (a
Reinhard transfer: each channel's mean and spread), and style is measured on what is left: line, texture,
palette structure. The spread factors are bounded, so a flat or monochrome picture cannot be stretched into a
passing one, and an off-style picture stays off style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from models.base import Stage
from services.qa.thresholds import ImageInput, as_rgb, resize_long_side

RELIT_STAGES = frozenset({Stage.time.value, Stage.weather.value, Stage.character.value})
SIDE = 256  # the statistics are global: a small copy gives the same means and spreads
LIGHTNESS_GAIN = (1.0, 4.0)  # light changes (night, dusk, fog) take contrast away; restoring it is all we undo
CHROMA_GAIN = (0.5, 2.5)  # dim light takes chroma with it; a monochrome ref never bleaches a colour candidate


@dataclass(frozen=True)
class Lighting:
    """Per-channel mean and spread of the references in CIELAB (L 0–100, a and b signed)."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _lab(image: ImageInput) -> np.ndarray:
    rgb = resize_long_side(as_rgb(image), SIDE).astype(np.float32) / 255.0
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3)


def lighting_of(images: Sequence[ImageInput]) -> Lighting:
    """The references' light, pooled: the mean of their means and the root mean square of their spreads."""
    stats = [(lab.mean(axis=0), lab.std(axis=0)) for lab in map(_lab, images)]
    mean = np.mean([m for m, _ in stats], axis=0)
    std = np.sqrt(np.mean([s**2 for _, s in stats], axis=0))
    return Lighting(tuple(float(v) for v in mean), tuple(float(v) for v in std))


def relight(image: ImageInput, target: Lighting) -> np.ndarray:
    """The image with its global light matched to the target's; shapes, lines and relative colours stay."""
    rgb = as_rgb(image)
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    flat = lab.reshape(-1, 3)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    gain_l = float(np.clip(target.std[0] / max(float(std[0]), 1e-3), *LIGHTNESS_GAIN))
    chroma_now = float(np.hypot(std[1], std[2]))
    gain_ab = float(np.clip(np.hypot(target.std[1], target.std[2]) / max(chroma_now, 1e-3), *CHROMA_GAIN))
    out = np.empty_like(lab)
    out[..., 0] = np.clip((lab[..., 0] - mean[0]) * gain_l + target.mean[0], 0.0, 100.0)
    for c in (1, 2):
        out[..., c] = np.clip((lab[..., c] - mean[c]) * gain_ab + target.mean[c], -127.0, 127.0)
    back = cv2.cvtColor(out, cv2.COLOR_LAB2RGB)
    return np.clip(back * 255.0 + 0.5, 0, 255).astype(np.uint8)
