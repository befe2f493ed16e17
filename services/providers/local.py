"""The embedded offline renderer: real image processing (no AI, no network), same request → same bytes."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
from typing import Any

import cv2
import numpy as np

from services.errors import Invalid
from services.providers import local_effects as fx
from services.providers.base import (
    STAGES,
    ConcurrencyGate,
    GeneratedImage,
    GenerationRequest,
    HealthResult,
    InputImage,
    ProviderConfig,
)

log = logging.getLogger(__name__)

RENDERER_VERSION = 'local-1'
TIMES = ('day', 'dusk', 'night')
WEATHERS = ('clear', 'rain', 'fog', 'snow')
MAX_SIDE = 4096
_face_lock = threading.Lock()


class LocalProvider:
    """The default provider: makes the whole journey work on a fresh machine and gives QA real pixels."""

    kind = 'local'
    is_offline = True
    max_images_per_call = 1  # free, so candidates are spread over the concurrency slots instead

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.gate = ConcurrencyGate(config.option_int('concurrency', 4))

    async def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        """Render n candidates with seeds seed, seed+1, …; the CPU work runs in a worker thread."""
        validate(request)
        out = []
        async with self.gate.slot(request.admit):
            for i in range(request.n):
                seed = request.seed + i
                data = await asyncio.to_thread(render_png, request, seed)
                meta = {'renderer': RENDERER_VERSION, 'stage': request.stage, 'size': list(request.size)}
                out.append(GeneratedImage(data=data, seed=seed, meta=meta))
        return out

    def estimate_cost(self, request: GenerationRequest) -> float:
        """Offline rendering is free."""
        return 0.0

    async def health(self) -> HealthResult:
        """Always ready: nothing external to reach."""
        return HealthResult(ok=True, message='Offline renderer ready (image processing, not an AI model)')


def validate(request: GenerationRequest) -> None:
    """Refuse requests the renderer cannot honour, with the rule in the message."""
    w, h = request.size
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise Invalid(f'Size {w}×{h} is outside 16–{MAX_SIDE} px per side.', code='size_invalid')
    if not 1 <= request.n <= 16:
        raise Invalid(f'n={request.n}: the offline renderer makes 1 to 16 images per request.', code='n_invalid')
    if request.stage not in STAGES:
        raise Invalid(f'Unknown stage {request.stage!r}; use one of {", ".join(STAGES)}.', code='stage_invalid')
    if (t := request.params.get('time')) and t not in TIMES:
        raise Invalid(f'Unknown time of day {t!r}; use day, dusk or night.', code='time_invalid')
    if (wx := request.params.get('weather')) and wx not in WEATHERS:
        raise Invalid(f'Unknown weather {wx!r}; use clear, rain, fog or snow.', code='weather_invalid')
    bad = [i.role for i in request.inputs if i.role not in ('scene', 'style', 'character')]
    if bad:
        raise Invalid(f'Unknown input role {bad[0]!r}; use scene, style or character.', code='role_invalid')


def render_png(request: GenerationRequest, seed: int) -> bytes:
    """One candidate as PNG bytes; every random choice comes from (seed, stage)."""
    return fx.encode_png(render(request, seed))


def render(request: GenerationRequest, seed: int) -> np.ndarray:
    """One candidate as an RGB array.

    Each stage adds only its own layer (style, or time grading, or weather, or characters) on top of its scene
    input, which in a run is the approved output of the earlier stage; so no effect is ever applied twice.
    """
    w, h = request.size
    rng = np.random.default_rng([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF, STAGES.index(request.stage)])
    scenes = request.by_role('scene')
    if scenes:
        base = decode(scenes[0].data, scenes[0].name or 'scene', (w, h))
    else:
        base = procedural_scene((w, h), request.prompt)
    stage, params = request.stage, request.params
    if stage == 'style':
        return stylise(base, request, rng)
    img = fx.cover_resize(base, (w, h))
    if stage == 'time':
        return fx.grade_time(img, params.get('time') or 'day', rng)
    if stage == 'weather':
        return fx.add_weather(img, params.get('weather') or 'clear', rng)
    return composite_characters(img, request.by_role('character'), rng, request.params.get('palette'))


@functools.lru_cache(maxsize=8)
def decode(data: bytes, name: str, want: tuple[int, int] | None) -> np.ndarray:
    """Decoded inputs are reused across a scene's candidates (read-only, so no render can spoil another)."""
    arr = fx.decode_rgb(data, name=name, want=want)
    arr.flags.writeable = False
    return arr


def stylise(base: np.ndarray, request: GenerationRequest, rng: np.random.Generator) -> np.ndarray:
    """Lock the drawing hand: framing, colour transfer, flat regions in the style's few tones, ink on their edges.

    Each choice (zoom, line weight, palette take) comes from the seed, so candidates differ like takes of one
    artist, never like different artists."""
    w, h = request.size
    zoom = rng.uniform(1.0, 1.03)  # a take drifts a little, as a model does; the composition check sees it
    img = fx.cover_resize(base, (w, h), zoom, (rng.uniform(-0.015, 0.015), rng.uniform(-0.015, 0.015)))
    img = fx.warp(img, rng, amplitude=rng.uniform(1.0, 2.5) * max(w, h) / 1536)
    styles = [decode(i.data, i.name or 'style reference', (256, 256)) for i in request.by_role('style')]
    if styles:
        img = fx.reinhard(img, fx.lab_stats(styles), strength=rng.uniform(0.8, 0.95))
    ink = fx.ink_lines(img, weight=rng.uniform(1.2, 2.4), threshold=rng.uniform(2.0, 3.5))
    img = fx.flatten(img)
    if request.params.get('palette'):
        palette = fx.parse_palette(list(request.params['palette']))
    else:
        palette = fx.median_cut_palette(styles or [img], k=int(rng.integers(4, 7)))
    img = fx.tone_map(img, fx.jitter_palette(palette, rng, 0.3), strength=rng.uniform(0.85, 0.97))
    img = cv2.medianBlur(img, 5)
    outlines = fx.region_edges(img, thick=rng.uniform() < 0.6)
    return fx.apply_ink(img, cv2.max(cv2.max(ink, outlines), fx.hatch_mask(img, rng)))


def _prompt_rng(prompt: str) -> np.random.Generator:
    digest = hashlib.sha256(prompt.encode('utf-8')).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], 'big'))


def procedural_scene(size: tuple[int, int], prompt: str) -> np.ndarray:
    """A street scene laid out from the prompt's hash, for requests without a scene reference."""
    w, h = size
    rng = _prompt_rng(prompt)
    sky_top, sky_bottom = rng.uniform([60, 110, 170], [120, 170, 230]), rng.uniform([170, 190, 210], [235, 225, 235])
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = np.repeat(((1 - ramp) * sky_top + ramp * sky_bottom).astype(np.uint8), w, 1)
    horizon = int(h * rng.uniform(0.55, 0.68))
    sun = (int(w * rng.uniform(0.15, 0.85)), int(h * rng.uniform(0.08, 0.25)))
    cv2.circle(img, sun, int(w * 0.06), (255, 240, 200), -1, cv2.LINE_AA)
    xs = np.arange(0, w + 8, 8)
    hills = horizon - (np.sin(xs / w * rng.uniform(3, 7) + rng.uniform(0, 6)) + 1) * h * 0.05
    cv2.fillPoly(
        img,
        [np.array([[0, h]] + list(zip(xs, hills.astype(int), strict=True)) + [[w, h]], np.int32)],
        tuple(int(c) for c in rng.uniform([70, 100, 80], [110, 140, 110])),
        cv2.LINE_AA,
    )
    x = int(-w * 0.05)
    while x < w:
        bw, bh = int(w * rng.uniform(0.12, 0.22)), int(h * rng.uniform(0.18, 0.42))
        colour = tuple(int(c) for c in rng.uniform(70, 190, 3))
        cv2.rectangle(img, (x, horizon - bh), (x + bw, horizon + h // 40), colour, -1)
        cv2.rectangle(img, (x, horizon - bh), (x + bw, horizon + h // 40), (30, 30, 35), max(1, w // 400))
        win = max(6, bw // 7)
        for wy in range(horizon - bh + win, horizon - win, win * 2):
            for wx in range(x + win // 2, x + bw - win, win * 2):
                lit = rng.random() < 0.3
                cv2.rectangle(img, (wx, wy), (wx + win, wy + win), (250, 235, 170) if lit else (40, 50, 70), -1)
        x += bw + int(w * rng.uniform(0.0, 0.05))
    cv2.rectangle(img, (0, horizon + h // 40), (w, h), tuple(int(c) for c in rng.uniform(80, 130, 3)), -1)
    for _ in range(int(rng.integers(2, 5))):
        tx, ty = int(rng.uniform(0, w)), int(horizon + rng.uniform(0.05, 0.2) * h)
        cv2.line(img, (tx, ty), (tx, ty - h // 12), (80, 55, 40), max(2, w // 120))
        cv2.circle(img, (tx, ty - h // 10), int(w * rng.uniform(0.04, 0.07)), (50, 110, 60), -1, cv2.LINE_AA)
    return img


@functools.lru_cache(maxsize=1)
def _face_detector() -> Any:  # dlib ships no type stubs
    import dlib

    return dlib.get_frontal_face_detector()


def find_face(img: np.ndarray) -> tuple[int, int, int, int] | None:
    """The largest frontal face (x, y, w, h) by dlib's HOG detector, the same detector QA uses."""
    scale = min(1.0, 640 / max(img.shape[:2]))
    view = fx.small(img, 640) if scale < 1 else img
    with _face_lock:
        dets = _face_detector()(view, 0) or _face_detector()(view, 1)
    if not dets:
        return None
    d = max(dets, key=lambda r: r.width() * r.height())
    return (round(d.left() / scale), round(d.top() / scale), round(d.width() / scale), round(d.height() / scale))


def cutout(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Head-and-shoulders crop with a feathered elliptical matte; returns (rgb, alpha, face width in the crop)."""
    ih, iw = img.shape[:2]
    face = find_face(img) or (int(iw * 0.3), int(ih * 0.15), int(iw * 0.4), int(ih * 0.4))
    fx0, fy0, fw, fh = face
    cx, cy = fx0 + fw / 2, fy0 + fh / 2
    x0, x1 = max(0, int(cx - 1.3 * fw)), min(iw, int(cx + 1.3 * fw))
    y0, y1 = max(0, int(cy - 1.5 * fh)), min(ih, int(cy + 1.9 * fh))
    crop = np.ascontiguousarray(img[y0:y1, x0:x1])
    alpha = np.zeros(crop.shape[:2], np.uint8)
    ccx, ccy = int(cx - x0), int(cy - y0)
    cv2.ellipse(alpha, (ccx, ccy - int(0.1 * fh)), (int(0.85 * fw), int(1.2 * fh)), 0, 0, 360, 255, -1)
    cv2.ellipse(alpha, (ccx, ccy + int(1.75 * fh)), (int(1.3 * fw), int(1.0 * fh)), 0, 0, 360, 255, -1)
    m = max(2, int(fw * 0.08))
    alpha[:m], alpha[-m:], alpha[:, :m], alpha[:, -m:] = 0, 0, 0, 0  # fade out where the crop hits the photo's edge
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, fw * 0.05))
    return crop, alpha, float(fw)


def composite_characters(
    scene: np.ndarray, refs: list[InputImage], rng: np.random.Generator, palette: list[str] | None = None
) -> np.ndarray:
    """Place one cut-out per named character, left to right, sized so the face stays detectable, and drawn by the
    same hand as the scene (flat tones from its palette, ink lines), so no reference photo lands in a panel."""
    chosen: dict[str, InputImage] = {}
    for i, ref in enumerate(refs):
        chosen.setdefault(ref.name or f'#{i}', ref)
    if not chosen:
        return scene
    h, w = scene.shape[:2]
    stats = fx.lab_stats([scene])
    tones = fx.parse_palette(list(palette)) if palette else fx.median_cut_palette([scene], k=6)
    out = scene.copy()
    slot = w / len(chosen)
    for i, ref in enumerate(chosen.values()):
        rgb, alpha, face_w = cutout(decode(ref.data, ref.name or 'character reference', None))
        target = min(max(0.18 * w, 90.0), slot / 2.4)
        f = target / face_w
        rgb = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        alpha = cv2.resize(alpha, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        rgb = draw_character(rgb, stats, tones, rng)
        edge = cv2.subtract(cv2.dilate(alpha, np.ones((5, 5), np.uint8)), alpha)
        cx = (i + 0.5) * slot + rng.uniform(-0.12, 0.12) * slot
        cy = h * rng.uniform(0.5, 0.62)
        _paste(out, rgb, alpha, edge, (int(cx - rgb.shape[1] / 2), int(cy - rgb.shape[0] * 0.4)))
    return out


def draw_character(
    rgb: np.ndarray, scene_stats: tuple[np.ndarray, np.ndarray], tones: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The scene's stylisation on a character cut-out: the scene's light, flattened regions, palette tone steps, ink.

    The tone map is a little lighter than the scene's (faces keep a few more in-between tones, as an artist keeps
    them), so the identity check measures a drawn face rather than a photo or an unreadable blob; and it sets the
    lightness only, so a costume keeps its own colour under the scene's light, as the ledger's outfit check expects."""
    img = fx.reinhard(rgb, scene_stats, strength=rng.uniform(0.2, 0.35))
    ink = fx.ink_lines(img, weight=rng.uniform(1.0, 1.5), threshold=rng.uniform(2.5, 3.5))
    img = fx.flatten(img, side=max(img.shape[:2]))
    toned = fx.tone_map(img, fx.jitter_palette(tones, rng, 0.2), strength=rng.uniform(0.55, 0.7))
    img = cv2.medianBlur(fx.lightness_of(toned, colours=img), 3)
    return fx.apply_ink(img, cv2.max(ink, fx.region_edges(img, thick=False)))


def _paste(dst: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, edge: np.ndarray, at: tuple[int, int]) -> None:
    """Alpha-blend rgb into dst at (x, y), clipped to dst, with a thin ink outline along the matte."""
    x, y = at
    h, w = dst.shape[:2]
    sx0, sy0 = max(0, -x), max(0, -y)
    dx0, dy0 = max(0, x), max(0, y)
    cw, ch = min(rgb.shape[1] - sx0, w - dx0), min(rgb.shape[0] - sy0, h - dy0)
    if cw <= 0 or ch <= 0:
        return
    region = dst[dy0 : dy0 + ch, dx0 : dx0 + cw]
    a = alpha[sy0 : sy0 + ch, sx0 : sx0 + cw].astype(np.float32)[..., None] / 255
    e = edge[sy0 : sy0 + ch, sx0 : sx0 + cw].astype(np.float32)[..., None] / 255 * 0.7
    mixed = region * (1 - a) + rgb[sy0 : sy0 + ch, sx0 : sx0 + cw] * a
    region[:] = np.clip(mixed * (1 - e) + 20 * e, 0, 255).astype(np.uint8)
