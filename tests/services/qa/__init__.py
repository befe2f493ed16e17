"""Shared QA test images: bundled sample photos (no downloads) and deterministic restylings of them."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from matplotlib import cbook
from PIL import Image

INK_PALETTE = np.array([[20, 20, 40], [70, 40, 90], [200, 80, 60], [240, 200, 120], [250, 245, 230]], np.uint8)


@cache
def _hopper() -> np.ndarray:
    path = Path(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))
    return np.asarray(Image.open(path).convert('RGB'))


def hopper() -> np.ndarray:
    """Grace Hopper (matplotlib sample), 512×600."""
    return _hopper().copy()


def photo(name: str) -> np.ndarray:
    """An RGB skimage sample photo: astronaut, coffee, rocket, chelsea, immunohistochemistry, hubble_deep_field."""
    return np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])


def inked(img: np.ndarray, palette: np.ndarray = INK_PALETTE) -> np.ndarray:
    """Comic restyle: smooth, posterize luminance onto a fixed palette, then ink the edges."""
    g = cv2.bilateralFilter(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), 9, 50, 7)
    q = np.clip((g.astype(np.float32) / 256 * len(palette)).astype(int), 0, len(palette) - 1)
    out = palette[q]
    edges = cv2.dilate(cv2.Canny(cv2.GaussianBlur(g, (5, 5), 0), 40, 100), np.ones((2, 2), np.uint8))
    out[edges > 0] = (10, 10, 10)
    return np.ascontiguousarray(out)


def watercolour(img: np.ndarray, seed: int = 0) -> np.ndarray:
    """Soft pastel restyle: blurred, desaturated, lifted, with paper grain."""
    x = cv2.GaussianBlur(cv2.bilateralFilter(img, 9, 80, 9), (0, 0), 2.5)
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] *= 0.45
    hsv[..., 2] = 110 + hsv[..., 2] * 0.55
    x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    paper = cv2.GaussianBlur(np.random.default_rng(seed).normal(0, 6, x.shape[:2]).astype(np.float32), (0, 0), 1.2)
    return np.clip(x + paper[..., None], 0, 255).astype(np.uint8)


def noir(img: np.ndarray) -> np.ndarray:
    """Three-tone black-and-white restyle with inked edges."""
    g = cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
    g = np.where(g > 140, 235, np.where(g > 70, 110, 15)).astype(np.uint8)
    g[cv2.Canny(g, 50, 150) > 0] = 0
    return np.dstack([g, g, g])


def reinhard(src: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer: match Lab mean and std of src to target."""
    s = cv2.cvtColor(src, cv2.COLOR_RGB2LAB).astype(np.float32)
    t = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    sm, ss = s.reshape(-1, 3).mean(0), s.reshape(-1, 3).std(0) + 1e-6
    tm, ts = t.reshape(-1, 3).mean(0), t.reshape(-1, 3).std(0)
    return cv2.cvtColor(np.clip((s - sm) / ss * ts + tm, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def regrade(img: np.ndarray) -> np.ndarray:
    """Colour grade: gamma lift and a warm tint."""
    y = 255 * (img.astype(np.float32) / 255) ** 0.7
    y[..., 0] *= 1.1
    y[..., 2] *= 0.85
    return np.clip(y, 0, 255).astype(np.uint8)


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def jitter(img: np.ndarray) -> np.ndarray:
    """Colour jitter: per-channel gain and an offset."""
    return np.clip(img.astype(np.float32) * np.array([1.15, 0.95, 0.8]) + 12, 0, 255).astype(np.uint8)


def hatched(img: np.ndarray, pitch: float = 5.0, angle: float = 35.0) -> np.ndarray:
    """Noir ink: paper, hatching over the mid-tones, cross-hatching over the shadows, inked edges."""
    gray = cv2.createCLAHE(2.0, (8, 8)).apply(cv2.cvtColor(cv2.bilateralFilter(img, 9, 45, 7), cv2.COLOR_RGB2GRAY))
    h, w = gray.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    def lines(deg: float) -> np.ndarray:
        t = np.deg2rad(deg)
        return ((xx * np.cos(t) + yy * np.sin(t)) % pitch) < 1.2

    out = np.full(gray.shape, 238, np.uint8)
    out[(gray < 140) & lines(angle)] = 40
    out[(gray < 70) & (lines(angle) | lines(angle + 90))] = 16
    out[gray < 35] = 12
    out[cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 0), 50, 120) > 0] = 10
    return np.dstack([out] * 3)


def halftone(img: np.ndarray, pitch: int = 6) -> np.ndarray:
    """Comic print: a saturated colour cast with a dot screen over the darker half."""
    out = np.clip(img.astype(np.float32) * np.array([1.5, 0.55, 0.5]) + np.array([40, 0, 0]), 0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    dots = (((xx % pitch) - pitch / 2) ** 2 + ((yy % pitch) - pitch / 2) ** 2) < 3
    dark = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY) < 120
    out[dark & dots] = (out[dark & dots] * 0.4).astype(np.uint8)
    return out


def restylings() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Every restyling by name (the colour transfer towards the inked coffee), for tests and
    benchmarks/style_other_generator.py: style measured on pictures the labelled set's generator did not draw."""
    target = inked(photo('coffee'))
    return {
        'inked': inked,
        'watercolour': watercolour,
        'noir': noir,
        'reinhard': lambda img: reinhard(img, target),
        'hatched': hatched,
        'halftone': halftone,
    }
