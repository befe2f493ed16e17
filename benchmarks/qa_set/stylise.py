"""Comic stylisations for the labelled QA set, written apart from the product's renderer so QA is not graded on
its own hand: posterise + ink, cel shading, noir hatching, comic-palette colour transfer, flips and tilts."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Rng = np.random.Generator

PALETTES = {
    'warm': [(28, 20, 24), (120, 52, 40), (214, 120, 64), (246, 206, 140), (252, 244, 226)],
    'cool': [(16, 22, 40), (40, 70, 120), (70, 150, 170), (190, 220, 214), (244, 248, 250)],
    'pop': [(20, 20, 20), (220, 30, 60), (30, 90, 200), (250, 210, 30), (250, 250, 250)],
    'sepia': [(30, 22, 14), (94, 70, 48), (160, 128, 90), (216, 192, 150), (248, 236, 210)],
    'mint': [(24, 34, 30), (46, 110, 90), (120, 190, 150), (230, 200, 170), (250, 246, 236)],
}


def _xdog(gray: np.ndarray, sigma: float, k: float = 1.6, tau: float = 0.985, phi: float = 18.0) -> np.ndarray:
    """Extended difference of Gaussians: 0..255 darkness of ink lines following the image's structure."""
    g = gray.astype(np.float32) / 255.0
    d = cv2.GaussianBlur(g, (0, 0), sigma) - tau * cv2.GaussianBlur(g, (0, 0), sigma * k)
    ink = np.where(d >= 0, 0.0, 1.0 - (1.0 + np.tanh(phi * d)))
    return np.clip(ink * 255, 0, 255).astype(np.uint8)


def _ink(img: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (14, 12, 18)) -> np.ndarray:
    a = mask.astype(np.float32)[..., None] / 255.0
    return np.clip(img * (1 - a) + np.array(colour, np.float32) * a, 0, 255).astype(np.uint8)


def _smooth(img: np.ndarray, passes: int = 2) -> np.ndarray:
    for _ in range(passes):
        img = cv2.bilateralFilter(img, 9, 45, 7)
    return img


def posterise_ink(img: np.ndarray, rng: Rng, palette: str | None = None) -> np.ndarray:
    """Flat posterised colour (a few levels per channel, or a palette gradient map) under XDoG ink."""
    s = _smooth(img)
    if palette:
        out = gradient_map(s, PALETTES[palette])
    else:
        levels = int(rng.integers(3, 6))
        step = 256 / levels
        out = (np.floor(s / step) * step + step / 2).clip(0, 255).astype(np.uint8)
    scale = max(img.shape[:2]) / 700
    ink = _xdog(cv2.cvtColor(s, cv2.COLOR_RGB2GRAY), rng.uniform(0.8, 1.3) * max(1.0, scale))
    return _ink(out, ink)


def gradient_map(img: np.ndarray, palette: list[tuple[int, int, int]], stretch: bool = True) -> np.ndarray:
    """Posterise by lightness onto a palette ordered dark to light (contrast stretched first unless told not to)."""
    pal = np.array(palette, np.uint8)
    lum = cv2.cvtColor(pal[None], cv2.COLOR_RGB2LAB)[0, :, 0].astype(np.float32)
    pal = pal[np.argsort(lum)]
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lo, hi = np.percentile(gray, (2, 98)) if stretch else (0.0, 255.0)
    t = np.clip((gray - lo) / max(hi - lo, 1.0), 0, 0.999)
    return pal[(t * len(pal)).astype(np.intp)]


def cel_shade(img: np.ndarray, rng: Rng, palette: str | None = None) -> np.ndarray:
    """k-means flat colours with two or three hard shading bands and outlines where regions meet."""
    s = _smooth(img, 3)
    small = cv2.resize(s, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    k = int(rng.integers(6, 10))
    data = small.reshape(-1, 3).astype(np.float32)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 12, 1.0)
    cv2.setRNGSeed(int(rng.integers(0, 2**31)))
    _, _, centres = cv2.kmeans(data, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    if palette:
        pal = np.array(PALETTES[palette], np.float32)
        centres = 0.45 * centres + 0.55 * pal[np.argmin(((centres[:, None] - pal[None]) ** 2).sum(-1), axis=1)]
    full = s.reshape(-1, 3).astype(np.float32)
    centres = centres.astype(np.float32)
    labels = np.argmin((centres**2).sum(1)[None] - 2 * full @ centres.T, axis=1)
    flat = centres[labels].reshape(img.shape)
    lum = cv2.GaussianBlur(cv2.cvtColor(s, cv2.COLOR_RGB2GRAY), (0, 0), 3).astype(np.float32) / 255
    bands = np.where(lum < 0.3, 0.62, np.where(lum < 0.55, 0.85, 1.0))[..., None]
    out = np.clip(flat * bands, 0, 255).astype(np.uint8)
    edges = cv2.Canny(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), 30, 90)
    edges = cv2.dilate(edges, np.ones((2, 2), np.uint8)) if max(img.shape[:2]) > 600 else edges
    return _ink(out, edges)


def hatch_lines(shape: tuple[int, int], angle: float, pitch: float, width: float = 1.0) -> np.ndarray:
    """Parallel lines at an angle as a 0/255 mask."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.deg2rad(angle)
    d = xx * np.cos(t) + yy * np.sin(t)
    return ((d % pitch) < width).astype(np.uint8) * 255


def noir_hatch(img: np.ndarray, rng: Rng, palette: str | None = None) -> np.ndarray:
    """Black, grey and paper tones; hatching over the mid-tones, cross-hatching over the shadows, ink edges."""
    gray = cv2.cvtColor(_smooth(img), cv2.COLOR_RGB2GRAY)
    gray = cv2.createCLAHE(2.0, (8, 8)).apply(gray)
    lo, hi = rng.uniform(55, 80), rng.uniform(120, 150)
    paper = np.full(gray.shape, 238, np.uint8)
    scale = max(1.0, max(img.shape[:2]) / 700)
    pitch = rng.uniform(4.5, 7.0) * scale
    angle = rng.uniform(20, 70)
    one = hatch_lines(gray.shape, angle, pitch, scale)
    cross = cv2.max(one, hatch_lines(gray.shape, angle + 90, pitch, scale))
    out = paper.copy()
    out[(gray < hi) & (one > 0)] = 40
    out[(gray < lo) & (cross > 0)] = 18
    out[gray < lo * 0.55] = 12
    ink = _xdog(gray, rng.uniform(0.9, 1.4) * scale)
    out = np.minimum(out, 255 - ink)
    rgb = np.dstack([out] * 3)
    if palette == 'sepia':
        rgb = gradient_map(rgb, PALETTES['sepia'], stretch=False)
    return rgb


def comic_palette(img: np.ndarray, rng: Rng, palette: str | None = None) -> np.ndarray:
    """Reinhard colour transfer to a comic palette's statistics, then a light posterise and halftone grain."""
    pal = np.array(PALETTES[palette or 'pop'], np.uint8)
    weights = rng.dirichlet(np.ones(len(pal)) * 2)
    swatch = np.repeat(pal, (weights * 400).astype(int) + 10, axis=0)[None]
    src = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32)
    tgt = cv2.cvtColor(swatch, cv2.COLOR_RGB2LAB).astype(np.float32).reshape(-1, 3)
    sm, ss = src.reshape(-1, 3).mean(0), src.reshape(-1, 3).std(0) + 1e-3
    out = (src - sm) / ss * np.maximum(tgt.std(0), 8) + tgt.mean(0)
    out = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    out = (np.round(_smooth(out, 1) / 32.0) * 32).clip(0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    pitch = 6
    yy, xx = np.mgrid[0:h, 0:w]
    dots = (((xx % pitch) - pitch / 2) ** 2 + ((yy % pitch) - pitch / 2) ** 2) < 2.5
    gray = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    out[(gray < 110) & dots] = (out[(gray < 110) & dots] * 0.55).astype(np.uint8)
    return out


def watercolour(img: np.ndarray, rng: Rng, palette: str | None = None) -> np.ndarray:
    """Soft washes: blurred, desaturated, lifted, paper grain and faint pencil."""
    x = cv2.GaussianBlur(cv2.bilateralFilter(img, 9, 80, 9), (0, 0), 2.5)
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] *= rng.uniform(0.35, 0.55)
    hsv[..., 2] = 105 + hsv[..., 2] * 0.58
    x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    grain = cv2.GaussianBlur(rng.normal(0, 6, x.shape[:2]).astype(np.float32), (0, 0), 1.2)
    pencil = _xdog(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), 1.0).astype(np.float32) * 0.35
    return np.clip(x + grain[..., None] - pencil[..., None], 0, 255).astype(np.uint8)


TECHNIQUES = {
    'ink': posterise_ink,
    'cel': cel_shade,
    'noir': noir_hatch,
    'palette': comic_palette,
    'wash': watercolour,
}


@dataclass(frozen=True)
class Style:
    """A project's look: one technique with one palette (two styles may share either, which makes them confusable)."""

    name: str
    technique: str
    palette: str | None

    def apply(self, img: np.ndarray, rng: Rng) -> np.ndarray:
        return TECHNIQUES[self.technique](img, rng, self.palette)


STYLES = [
    Style('ink-warm', 'ink', 'warm'),
    Style('ink-levels', 'ink', None),
    Style('cel-plain', 'cel', None),
    Style('cel-cool', 'cel', 'cool'),
    Style('noir', 'noir', None),
    Style('noir-sepia', 'noir', 'sepia'),
    Style('comic-pop', 'palette', 'pop'),
    Style('comic-mint', 'palette', 'mint'),
    Style('wash', 'wash', None),
]


def tilt(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre, edges reflected so no black corners give the tilt away."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def flip(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[:, ::-1])
