"""Image-processing steps of the offline renderer: pure functions on uint8 RGB arrays, deterministic given an rng."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from services.errors import Invalid

Rng = np.random.Generator
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
FOG = np.array([206, 210, 214], np.float32)


def decode_rgb(data: bytes, *, name: str = 'input', want: tuple[int, int] | None = None) -> np.ndarray:
    """Decode any accepted image to RGB, honouring EXIF rotation; JPEGs are drafted down to what is needed."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if want and im.format == 'JPEG':
                im.draft('RGB', want)
            return np.asarray(ImageOps.exif_transpose(im).convert('RGB'))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise Invalid(f'{name}: not a readable PNG, JPEG or WebP image.', code='image_unreadable') from e


def encode_png(img: np.ndarray) -> bytes:
    """PNG with fixed zlib settings and no metadata chunks, so equal pixels give equal bytes (RLE is fastest here)."""
    ok, buf = cv2.imencode('.png', cv2.cvtColor(img, cv2.COLOR_RGB2BGR), PNG_PARAMS)
    if not ok:
        raise Invalid('Could not encode the rendered image as PNG.', code='encode_failed')
    return buf.tobytes()


def cover_resize(
    img: np.ndarray, size: tuple[int, int], zoom: float = 1.0, shift: tuple[float, float] = (0, 0)
) -> np.ndarray:
    """Scale to fill `size` and crop centred; zoom > 1 and a shift (fraction of the crop) nudge the framing."""
    w, h = size
    ih, iw = img.shape[:2]
    scale = max(w / iw, h / ih) * zoom
    cw, ch = min(iw, round(w / scale)), min(ih, round(h / scale))
    x0 = int(np.clip((iw - cw) / 2 + shift[0] * cw, 0, iw - cw))
    y0 = int(np.clip((ih - ch) / 2 + shift[1] * ch, 0, ih - ch))
    crop = img[y0 : y0 + ch, x0 : x0 + cw]
    interp = cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR
    return cv2.resize(crop, (w, h), interpolation=interp)


def small(img: np.ndarray, side: int = 256) -> np.ndarray:
    """A thumbnail for statistics, so reference images cost the same whatever their size."""
    h, w = img.shape[:2]
    f = side / max(h, w)
    return (
        img if f >= 1 else cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    )


def lab_stats(imgs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread per Lab channel (OpenCV 8-bit Lab) over all images, for Reinhard transfer."""
    pix = np.concatenate([cv2.cvtColor(small(i), cv2.COLOR_RGB2Lab).reshape(-1, 3) for i in imgs]).astype(np.float32)
    return pix.mean(0), pix.std(0) + 1e-3


def reinhard(img: np.ndarray, target: tuple[np.ndarray, np.ndarray], strength: float = 1.0) -> np.ndarray:
    """Reinhard colour transfer in Lab; per channel it is an affine map, so it runs as a lookup table."""
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2Lab)
    mean, std = cv2.meanStdDev(lab)
    mean, std = mean.ravel(), std.ravel() + 1e-3
    v = np.arange(256, dtype=np.float32)[:, None]
    mapped = (v - mean) / std * np.minimum(target[1], std * 2.5) + target[0]
    lut = np.clip(v + strength * (mapped - v), 0, 255).astype(np.uint8).reshape(1, 256, 3)
    return cv2.cvtColor(cv2.LUT(lab, lut), cv2.COLOR_Lab2RGB)


def parse_palette(hexes: list[str]) -> np.ndarray:
    """'#rrggbb' strings from the style guide to an (n, 3) uint8 array."""
    out = []
    for h in hexes:
        s = str(h).strip().lstrip('#')
        if len(s) == 3:
            s = ''.join(c * 2 for c in s)
        if len(s) != 6 or any(c not in '0123456789abcdefABCDEF' for c in s):
            raise Invalid(f'Palette colour {h!r} is not a #rrggbb hex colour.', code='palette_invalid')
        out.append([int(s[i : i + 2], 16) for i in (0, 2, 4)])
    if not out:
        raise Invalid('The palette is empty.', code='palette_invalid')
    return np.array(out, np.uint8)


def median_cut_palette(imgs: list[np.ndarray], k: int = 8) -> np.ndarray:
    """The k colours that best summarise the references (Pillow's median cut; deterministic)."""
    strip = np.concatenate([small(i, 128).reshape(-1, 3) for i in imgs])[None]
    q = Image.fromarray(strip, 'RGB').quantize(colors=k, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal = np.array(q.getpalette()[: 3 * k], np.uint8).reshape(-1, 3)
    used = np.unique(np.asarray(q))
    return pal[used[used < len(pal)]]


def jitter_palette(pal: np.ndarray, rng: Rng, amount: float = 1.0) -> np.ndarray:
    """Rotate hue and stretch chroma a little: each seed gets its own take on the same palette."""
    lab = cv2.cvtColor(pal[None], cv2.COLOR_RGB2Lab)[0].astype(np.float32)
    ang = np.deg2rad(rng.uniform(-22, 22) * amount)
    chroma = 1 + rng.uniform(-0.15, 0.25) * amount
    a, b = lab[:, 1] - 128, lab[:, 2] - 128
    lab[:, 1] = 128 + chroma * (a * np.cos(ang) - b * np.sin(ang))
    lab[:, 2] = 128 + chroma * (a * np.sin(ang) + b * np.cos(ang))
    lab[:, 0] += rng.uniform(-6, 6) * amount
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8)[None], cv2.COLOR_Lab2RGB)[0]


def tone_map(img: np.ndarray, pal: np.ndarray, strength: float) -> np.ndarray:
    """Posterise by lightness onto the palette ordered dark to light (a gradient map): light and dark stay where
    the scene had them, so the composition holds, but in the style's own few flat tones."""
    lab = cv2.cvtColor(pal[None].astype(np.uint8), cv2.COLOR_RGB2Lab)[0].astype(np.float32)
    order = np.argsort(lab[:, 0])
    pal, tones = pal[order], lab[order, 0]
    lum = cv2.cvtColor(img, cv2.COLOR_RGB2Lab)[:, :, 0].astype(np.float32)
    lo, hi = np.percentile(lum, (2, 98))
    lum = np.clip((lum - lo) / max(hi - lo, 1.0), 0, 1) * (tones[-1] - tones[0]) + tones[0]
    mapped = pal[np.searchsorted((tones[1:] + tones[:-1]) / 2, lum)].astype(np.uint8)
    return cv2.addWeighted(img, 1 - strength, mapped, strength, 0)


def lightness_of(tones: np.ndarray, *, colours: np.ndarray) -> np.ndarray:
    """The lightness of one image with the colour (Lab a*, b*) of another: tone steps without a change of hue."""
    lab = cv2.cvtColor(colours, cv2.COLOR_RGB2Lab)
    lab[:, :, 0] = cv2.cvtColor(tones, cv2.COLOR_RGB2Lab)[:, :, 0]
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)


def ink_lines(img: np.ndarray, weight: float, threshold: float) -> np.ndarray:
    """Difference-of-Gaussians ink (XDoG-like) from the image's structure, as a 0..255 darkness mask."""
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    g1 = cv2.GaussianBlur(gray, (0, 0), 0.9 * weight)
    g2 = cv2.GaussianBlur(gray, (0, 0), 1.6 * 0.9 * weight)
    dark = cv2.subtract(g2, g1, dtype=cv2.CV_32F) - np.float32(threshold)  # > 0 on the dark side of an edge
    mask = cv2.convertScaleAbs(cv2.threshold(dark, 0, 0, cv2.THRESH_TOZERO)[1], alpha=255 / 4.0)
    if weight > 1.6:
        mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
    return mask


def flatten(img: np.ndarray, side: int = 480) -> np.ndarray:
    """Flat colour regions with crisp borders (bilateral passes, then mean shift), worked at a small size: drawn
    art has no photographic texture, and the style check measures exactly that."""
    h, w = img.shape[:2]
    scale = side / max(h, w)
    sm = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    for _ in range(2):
        sm = cv2.bilateralFilter(sm, 9, 40, 7)
    sm = cv2.pyrMeanShiftFiltering(sm, 8, 28)
    return cv2.resize(sm, (w, h), interpolation=cv2.INTER_CUBIC)


def region_edges(img: np.ndarray, *, thick: bool) -> np.ndarray:
    """Outlines where flat tones meet, as a 0..255 ink mask."""
    edges = cv2.Canny(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), 20, 60)
    return cv2.dilate(edges, np.ones((2, 2), np.uint8)) if thick else edges


def apply_ink(img: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (22, 18, 26)) -> np.ndarray:
    """Lay a 0..255 ink mask over the image in a near-black ink colour."""
    return blend_mask(img, colour, mask)


def hatch_mask(img: np.ndarray, rng: Rng) -> np.ndarray:
    """Hatching for the shadows at a seed-chosen angle and pitch, like a penciller's shading (a 0..255 mask)."""
    h, w = img.shape[:2]
    d = int(np.ceil(np.hypot(h, w))) + 2
    rows = ((np.arange(d) % rng.uniform(5, 9)) < 1.0).astype(np.uint8) * 70
    stripes = np.ascontiguousarray(np.broadcast_to(rows[:, None], (d, d)))
    m = cv2.getRotationMatrix2D((d / 2, d / 2), rng.uniform(0, 180), 1.0)
    m[:, 2] -= ((d - w) / 2, (d - h) / 2)
    lines = cv2.warpAffine(stripes, m, (w, h), flags=cv2.INTER_NEAREST)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    shadow = cv2.threshold(gray, int(rng.uniform(55, 80)), 255, cv2.THRESH_BINARY_INV)[1]
    return cv2.bitwise_and(lines, shadow)


def low_noise(shape: tuple[int, int], rng: Rng, cells: int = 6) -> np.ndarray:
    """Smooth noise in [0, 1] at full size, from a coarse random grid (cheap clouds, fog banks, warps)."""
    h, w = shape
    gh, gw = max(2, round(cells * h / max(h, w))), max(2, round(cells * w / max(h, w)))
    return cv2.resize(rng.random((gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def warp(img: np.ndarray, rng: Rng, amplitude: float) -> np.ndarray:
    """A gentle hand-drawn wobble: smooth displacement of a few pixels, composition intact."""
    h, w = img.shape[:2]
    sh, sw = max(2, h // 8), max(2, w // 8)
    ys = (np.arange(sh, dtype=np.float32) + 0.5) * (h / sh) - 0.5
    xs = (np.arange(sw, dtype=np.float32) + 0.5) * (w / sw) - 0.5
    mx = xs[None] + (low_noise((sh, sw), rng, 5) - 0.5) * 2 * amplitude
    my = ys[:, None] + (low_noise((sh, sw), rng, 5) - 0.5) * 2 * amplitude
    mx = cv2.resize(mx, (w, h), interpolation=cv2.INTER_LINEAR)
    my = cv2.resize(my, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def blend_map(img: np.ndarray, colour: np.ndarray | tuple, alpha: np.ndarray) -> np.ndarray:
    """Mix a flat colour into the image with a per-pixel float alpha in [0, 1]."""
    return blend_mask(img, colour, cv2.convertScaleAbs(np.ascontiguousarray(alpha, np.float32), alpha=255))


def blend_mask(img: np.ndarray, colour: np.ndarray | tuple, mask: np.ndarray) -> np.ndarray:
    """Mix a flat colour in with a 0..255 uint8 mask, in 8-bit arithmetic (twice as fast as float blending)."""
    m3 = cv2.merge([mask] * 3)
    scalar = tuple(float(np.clip(c, 0, 255)) for c in colour) + (0.0,)
    return cv2.add(cv2.multiply(img, cv2.bitwise_not(m3), scale=1 / 255), cv2.multiply(m3, scalar, scale=1 / 255))


def tint(img: np.ndarray, gains: tuple[float, float, float], lift: float = 0.0, gamma: float = 1.0) -> np.ndarray:
    """Per-channel gain, black lift and gamma as one lookup table."""
    v = np.arange(256, dtype=np.float32) / 255
    cols = [np.clip(((v**gamma) * g + lift) * 255, 0, 255) for g in gains]
    return cv2.LUT(img, np.stack(cols, 1).astype(np.uint8).reshape(1, 256, 3))


def up(field: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bring a smooth, small float field to full size; smooth fields lose nothing and cost far less."""
    return cv2.resize(np.ascontiguousarray(field, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def coarse(h: int, w: int) -> tuple[int, int]:
    """The size smooth fields are computed at (1/8 per side)."""
    return max(2, h // 8), max(2, w // 8)


def vertical_ramp(h: int, w: int, top: float, bottom: float) -> np.ndarray:
    """A top-to-bottom ramp (sky to ground), at the coarse size."""
    sh, sw = coarse(h, w)
    return np.repeat(np.linspace(top, bottom, sh, dtype=np.float32)[:, None], sw, 1)


def glow_map(h: int, w: int, rng: Rng, y: float) -> np.ndarray:
    """A soft radial light (sun, low sun, moon) at a seed-chosen x and the given height, at the coarse size."""
    sh, sw = coarse(h, w)
    cx, cy = rng.uniform(0.15, 0.85) * sw, y * sh
    xs = (np.arange(sw, dtype=np.float32) - cx) ** 2
    ys = (np.arange(sh, dtype=np.float32) - cy) ** 2
    return np.exp(-(ys[:, None] + xs[None]) / (0.6 * max(sh, sw)) ** 2 * 3).astype(np.float32)


def grade_time(img: np.ndarray, time_of_day: str, rng: Rng) -> np.ndarray:
    """Day, dusk or night grading; the seed moves the light source and the warmth."""
    h, w = img.shape[:2]
    warmth = rng.uniform(-0.07, 0.09)
    img = vignette(img, rng)
    if time_of_day == 'day':
        out = tint(img, (1.04 + warmth, 1.02, 0.98 - warmth), lift=0.01, gamma=0.95)
        return blend_map(
            out, np.array([255, 244, 214], np.float32), up(glow_map(h, w, rng, 0.15) * rng.uniform(0.15, 0.35), h, w)
        )
    if time_of_day == 'dusk':
        out = tint(img, (0.95 + warmth, 0.70, 0.68 - warmth), gamma=1.15)
        glow = glow_map(h, w, rng, rng.uniform(0.3, 0.6)) * rng.uniform(0.25, 0.5)
        return blend_map(out, np.array([255, 138, 80], np.float32), up(glow, h, w))
    if time_of_day == 'night':
        out = tint(img, (0.24, 0.30 + warmth / 2, 0.48), lift=0.015, gamma=1.3)
        gray = cv2.resize(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        bright = cv2.threshold(gray, 235, 255, cv2.THRESH_BINARY)[1]
        lamps = np.clip(cv2.GaussianBlur(bright, (0, 0), 2).astype(np.float32) / 255 * 0.8, 0, 0.8)
        out = blend_map(out, np.array([170, 190, 235], np.float32), up(glow_map(h, w, rng, 0.05) * 0.15, h, w))
        return blend_map(out, np.array([255, 214, 140], np.float32), up(lamps, h, w))
    raise Invalid(f'Unknown time of day {time_of_day!r}; use day, dusk or night.', code='time_invalid')


def vignette(img: np.ndarray, rng: Rng) -> np.ndarray:
    """Darken the frame's edges around a seed-chosen centre, as a colourist would steer the eye."""
    h, w = img.shape[:2]
    falloff = 1 - glow_map(h, w, rng, rng.uniform(0.35, 0.65))
    return blend_map(img, np.zeros(3, np.float32), up(falloff * rng.uniform(0.15, 0.4), h, w))


def add_weather(img: np.ndarray, weather: str, rng: Rng) -> np.ndarray:
    """Clear, rain, fog or snow as a layer over the scene; density and angle come from the seed."""
    h, w = img.shape[:2]
    sh, sw = coarse(h, w)
    if weather == 'clear':
        shade = up(0.9 + 0.12 * low_noise((sh, sw), rng, 4), h, w)
        return cv2.multiply(img, cv2.merge([shade] * 3), dtype=cv2.CV_8U)
    if weather == 'fog':
        depth = vertical_ramp(h, w, 1.0, 0.55) * (0.75 + 0.25 * low_noise((sh, sw), rng, 5))
        alpha = up(np.clip(depth * rng.uniform(0.6, 0.75), 0, 0.85), h, w)
        return blend_map(img, FOG + rng.uniform(-8, 8), alpha)
    if weather == 'rain':
        out = tint(img, (0.80, 0.84, 0.90), gamma=1.05)
        streaks = particles(
            (h, w), rng, density=rng.uniform(0.004, 0.008), length=rng.uniform(18, 30), angle=rng.uniform(-18, 18)
        )
        return blend_map(out, np.array([215, 225, 240], np.float32), streaks * 0.55)
    if weather == 'snow':
        out = blend_map(tint(img, (0.92, 0.95, 1.0)), FOG + 30, up(vertical_ramp(h, w, 0.25, 0.1), h, w))
        flakes = particles((h, w), rng, density=rng.uniform(0.0015, 0.003), length=0, angle=0)
        return blend_map(out, np.array([250, 252, 255], np.float32), flakes)
    raise Invalid(f'Unknown weather {weather!r}; use clear, rain, fog or snow.', code='weather_invalid')


def particles(shape: tuple[int, int], rng: Rng, *, density: float, length: float, angle: float) -> np.ndarray:
    """Rain streaks (motion-blurred points) or snow flakes (blurred dots), drawn at half size for speed."""
    h, w = shape[0] // 2, shape[1] // 2
    layer = (rng.random((h, w), dtype=np.float32) < density).astype(np.float32)
    if length > 0:
        k = int(length)
        kernel = np.zeros((k, k), np.float32)
        kernel[:, k // 2] = 1.0
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), angle, 1.0)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        layer = cv2.filter2D(layer, -1, kernel / max(kernel.max(), 1e-6)) * 0.8
    else:
        big = cv2.dilate((rng.random((h, w), dtype=np.float32) < density / 4).astype(np.float32), np.ones((3, 3)))
        layer = cv2.GaussianBlur(np.maximum(layer, big), (0, 0), 0.8) * 2.2
    return cv2.resize(np.clip(layer, 0, 1), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
