"""QA against the continuity ledger, where pixels allow: time of day from brightness and colour temperature, fog
from haze and contrast, rain from streaks, each present character's outfit from the colours below their face.

A contradiction is a `warn` naming the ledger entry it contradicts; what pixels cannot tell is `unverified` with
the reason. The constants are calibrated on the offline renderer's grading and weather over the demo scenes;
benchmarks/continuity_qa.py prints how well they separate right from wrong states.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from services.qa.identity import IdentityUnavailable, find_faces
from services.qa.thresholds import PASS, UNVERIFIED, WARN, ImageInput, MetricResult, as_rgb, resize_long_side

WORK_SIDE = 512
TIME_PROTOTYPES = {  # (lightness L*, coolness log(blue/red)) of each hour, dry and under rain (darker, cooler)
    'dry': {'day': (37.0, -0.35), 'dusk': (28.0, -0.92), 'night': (9.5, 0.22)},
    'rain': {'day': (34.0, -0.2), 'dusk': (26.5, -0.66), 'night': (12.0, 0.26)},
}
TIMES = tuple(TIME_PROTOTYPES['dry'])
TIME_SCALE = (8.0, 0.2)  # L* and coolness units that count as one step apart
RELATIVE_PROTOTYPES = {  # against the scene before any time grading: (lightness ratio, change of coolness)
    'dry': {'day': (1.08, -0.02), 'dusk': (0.82, -0.59), 'night': (0.275, 0.55)},
    'rain': {'day': (0.99, 0.13), 'dusk': (0.76, -0.33), 'night': (0.345, 0.59)},
}
RELATIVE_SCALE = (0.1, 0.12)
RAIN_STREAKS = 2.5  # bright thin near-vertical lines: about 5–8 with rain, under 1 without
FOG_HAZE, FOG_CONTRAST = 0.33, 0.28  # dark-channel haze above, relative contrast below → fog
OUTFIT_DISTANCE = 15.0  # colour_distance within which a pixel wears a palette colour
OUTFIT_COVERAGE = 0.25  # share of the region below the face in the outfit's colours, below → contradiction
TOO_DARK = 12.0  # mean L* of the outfit region below which colours cannot be told apart


@dataclass(frozen=True)
class Expected:
    """One ledger value to check, with the entry (its source's label) a contradiction names."""

    value: str
    entry: str


@dataclass(frozen=True)
class OutfitExpected:
    character: str
    outfit: str
    entry: str
    palette: tuple[str, ...] = ()  # empty: no colours known for this outfit
    palette_source: str = ''


@dataclass(frozen=True)
class LedgerExpectation:
    """What a candidate must show: the stage decides which checks apply (time from the time stage on, etc.)."""

    time: Expected | None = None
    weather: Expected | None = None
    outfits: tuple[OutfitExpected, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.time or self.weather or self.outfits)


@dataclass(frozen=True)
class Check:
    item: str
    verdict: str
    expected: str
    measured: str
    entry: str = ''
    reason: str = ''
    margin: float | None = None  # above 0 agrees with the ledger, below 0 contradicts it
    numbers: dict = field(default_factory=dict)


def lab(rgb: np.ndarray) -> np.ndarray:
    """L* in 0–100, a* and b* centred on 0 (OpenCV's 8-bit Lab rescaled)."""
    out = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).astype(np.float32)
    out[..., 0] *= 100 / 255
    out[..., 1:] -= 128
    return out


def time_features(rgb: np.ndarray) -> tuple[float, float]:
    """Mean lightness L* and colour temperature as coolness, log(mean blue / mean red): night is dark and cool,
    dusk darker and warm, day bright. Grading multiplies channels, so the log ratio's change does not depend on
    how warm the drawing was to begin with."""
    means = rgb.reshape(-1, 3).mean(0)
    return float(lab(rgb)[..., 0].mean()), float(np.log((means[2] + 1) / (means[0] + 1)))


def time_margins(rgb: np.ndarray, rain: bool | None = None, base: np.ndarray | None = None) -> dict[str, float]:
    """For each time of day: how much closer the image is to it than to the nearest other (in scaled units).

    With `base` (the scene before any time grading, e.g. its approved style-stage image) lightness and warmth are
    measured as changes from it, so a warm-toned or dark drawing is not mistaken for dusk or night. Rain darkens
    and cools every hour, so rainy pixels (measured, unless `rain` says) use the rain prototypes."""
    if rain is None:
        rain = weather_features(rgb)['streaks'] > RAIN_STREAKS
    light, cool = time_features(rgb)
    if base is not None:
        base_light, base_cool = time_features(base)
        light, cool = light / max(base_light, 1.0), cool - base_cool
        prototypes, scale = RELATIVE_PROTOTYPES['rain' if rain else 'dry'], RELATIVE_SCALE
    else:
        prototypes, scale = TIME_PROTOTYPES['rain' if rain else 'dry'], TIME_SCALE
    dist = {t: float(np.hypot((light - p[0]) / scale[0], (cool - p[1]) / scale[1])) for t, p in prototypes.items()}
    return {t: min(d for o, d in dist.items() if o != t) - dist[t] for t in dist}


def weather_features(rgb: np.ndarray) -> dict[str, float]:
    """Rain streaks (thin bright lines that survive vertical but not horizontal opening), haze and contrast."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    across = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, np.ones((1, 7), np.uint8)).astype(np.float32)
    along = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, np.ones((7, 1), np.uint8)).astype(np.float32)
    light = lab(rgb)[..., 0]
    haze = cv2.erode(rgb.min(axis=2), np.ones((15, 15), np.uint8)).astype(np.float32) / 255
    return {
        'streaks': float(across.mean() - along.mean()),
        'haze': float(haze.mean()),
        'contrast': float(light.std() / max(light.mean(), 1.0)),
    }


def _time_check(rgb: np.ndarray, want: Expected, weather: str | None, base: np.ndarray | None) -> Check:
    if weather in ('fog', 'snow'):
        return Check('time', UNVERIFIED, want.value, '', want.entry, f'{weather} hides the light: time not measured')
    margins = time_margins(rgb, base=base)
    light, cool = time_features(rgb)
    seen = max(margins, key=margins.get)
    margin = margins[want.value]
    against = ', against the scene before grading' if base is not None else ''
    measured = f'looks like {seen} (lightness {light:.0f}, coolness {cool:+.2f}{against})'
    verdict = PASS if margin >= 0 else WARN
    numbers = {'lightness': round(light, 2), 'coolness': round(cool, 3)}
    return Check('time', verdict, want.value, measured, want.entry, margin=round(margin, 3), numbers=numbers)


def weather_margin(features: Mapping[str, float], weather: str) -> float | None:
    """Above 0 the pixels agree with the weather; None for weather the pixels cannot tell (snow)."""
    rain = (features['streaks'] - RAIN_STREAKS) / RAIN_STREAKS
    fog = min((features['haze'] - FOG_HAZE) / 0.1, (FOG_CONTRAST - features['contrast']) / 0.1)
    if weather == 'rain':
        return rain
    if weather == 'fog':
        return fog
    if weather == 'clear':
        return min(-rain, -fog)
    return None


def _weather_check(rgb: np.ndarray, want: Expected) -> Check:
    feats = weather_features(rgb)
    margin = weather_margin(feats, want.value)
    numbers = {k: round(v, 3) for k, v in feats.items()}
    if margin is None:
        why = f'{want.value} is not measured (flakes are too small and sparse to tell reliably)'
        return Check('weather', UNVERIFIED, want.value, '', want.entry, why, numbers=numbers)
    seen = [w for w in ('rain', 'fog') if (weather_margin(feats, w) or 0) > 0] or ['clear']
    measured = f'looks {" and ".join(seen)} (streaks {feats["streaks"]:.1f}, haze {feats["haze"]:.2f})'
    verdict = PASS if margin >= 0 else WARN
    return Check('weather', verdict, want.value, measured, want.entry, margin=round(margin, 3), numbers=numbers)


def hex_to_lab(colours: Sequence[str]) -> np.ndarray:
    rgb = np.array([[int(c.lstrip('#')[i : i + 2], 16) for i in (0, 2, 4)] for c in colours], np.uint8)
    return lab(rgb[None])[0]


def outfit_region(rgb: np.ndarray, box: Sequence[int]) -> np.ndarray | None:
    """The torso below a face box (left, top, right, bottom): where the outfit is, in the same pixels."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    y0, y1 = int(bottom + 0.3 * h), int(bottom + 1.4 * h)
    x0, x1 = int(left - 0.35 * w), int(right + 0.35 * w)
    region = rgb[max(0, y0) : min(rgb.shape[0], y1), max(0, x0) : min(rgb.shape[1], x1)]
    if region.shape[0] * region.shape[1] < 64:
        return None
    return cv2.resize(region, (48, 48), interpolation=cv2.INTER_AREA)


def colour_distance(px: np.ndarray, pal: np.ndarray) -> np.ndarray:
    """Lab distance (pixels × palette) that forgives what light does and not what dye does: lightness and a change
    of chroma along the colour's own direction count half, a change of hue in full (a neutral colour has no hue,
    so any tint counts in full there)."""
    d = px[:, None, :] - pal[None, :, :]
    chroma = np.linalg.norm(pal[:, 1:], axis=1)
    u = np.where(chroma[:, None] > 5, pal[:, 1:] / np.maximum(chroma[:, None], 1e-6), 0)
    along = (d[..., 1:] * u[None]).sum(-1)
    across = np.linalg.norm(d[..., 1:] - along[..., None] * u[None], axis=-1)
    return np.sqrt((0.5 * d[..., 0]) ** 2 + (0.5 * along) ** 2 + across**2)


def coverage(region: np.ndarray, palette: Sequence[str]) -> float:
    """Share of the region's pixels within OUTFIT_DISTANCE of some palette colour."""
    px = lab(region).reshape(-1, 3)
    return float((colour_distance(px, hex_to_lab(palette)).min(1) < OUTFIT_DISTANCE).mean())


def dominant_colours(region: np.ndarray, k: int = 3, min_share: float = 0.2) -> list[str]:
    """The region's main colours as hex (k-means in Lab), each covering at least min_share of it."""
    px = region.reshape(-1, 3).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(7)
    _, labels, centres = cv2.kmeans(px, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    share = np.bincount(labels.ravel(), minlength=k) / len(labels)
    order = np.argsort(-share)
    return ['#' + ''.join(f'{int(round(v)):02x}' for v in centres[i]) for i in order if share[i] >= min_share]


def _outfit_check(rgb: np.ndarray, want: OutfitExpected, boxes: Sequence[Sequence[int]]) -> Check:
    item = f'outfit of {want.character}'
    if not want.palette:
        why = f'no colours known for "{want.outfit}" (give it outfit colours, or a reference image tagged with it)'
        return Check(item, UNVERIFIED, want.outfit, '', want.entry, why)
    if not boxes:
        return Check(item, UNVERIFIED, want.outfit, '', want.entry, 'no face found, so the outfit cannot be located')
    regions = [r for r in (outfit_region(rgb, b) for b in boxes) if r is not None]
    if not regions:
        return Check(item, UNVERIFIED, want.outfit, '', want.entry, 'the face is at the bottom edge: no outfit in view')
    best = max(regions, key=lambda r: coverage(r, want.palette))
    if float(lab(best)[..., 0].mean()) < TOO_DARK:
        return Check(item, UNVERIFIED, want.outfit, '', want.entry, 'too dark below the face to tell colours apart')
    share = coverage(best, want.palette)
    expected = f'{want.outfit} ({", ".join(want.palette)}; {want.palette_source})'
    measured = f'{share:.0%} in those colours; mostly {", ".join(dominant_colours(best))}'
    verdict = PASS if share >= OUTFIT_COVERAGE else WARN
    return Check(item, verdict, expected, measured, want.entry, margin=round(share - OUTFIT_COVERAGE, 3))


@functools.lru_cache(maxsize=1)
def _haar() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(cv2.data.haarcascades + 'haarcascade_frontalface_default.xml')


def face_boxes(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Faces by the identity check's dlib detector; OpenCV's Haar cascade when dlib or its models are missing."""
    try:
        return [f.box for f in find_faces(rgb)]
    except IdentityUnavailable:
        gray = cv2.cvtColor(resize_long_side(rgb, 1024), cv2.COLOR_RGB2GRAY)
        scale = max(rgb.shape[:2]) / max(gray.shape[:2])
        found = _haar().detectMultiScale(gray, 1.1, 5, minSize=(32, 32))
        return [tuple(int(v * scale) for v in (x, y, x + w, y + h)) for x, y, w, h in found]


def ledger_check(
    image: ImageInput,
    expected: LedgerExpectation,
    *,
    faces: Mapping[str, Sequence[int]] | None = None,
    all_faces: Sequence[Sequence[int]] | None = None,
    base: ImageInput | None = None,
) -> MetricResult:
    """Every check the pixels allow; `faces` maps a character to the face identity matched to them (if any), `base`
    is the scene before any time grading (the time check then measures the change from it)."""
    rgb = as_rgb(image)
    work = resize_long_side(rgb, WORK_SIDE)
    checks = []
    weather = expected.weather.value if expected.weather else None
    if expected.time:
        base_rgb = resize_long_side(as_rgb(base), WORK_SIDE) if base is not None else None
        checks.append(_time_check(work, expected.time, weather, base_rgb))
    if expected.weather:
        checks.append(_weather_check(work, expected.weather))
    if expected.outfits:
        found = list(all_faces) if all_faces is not None else face_boxes(rgb)
        for want in expected.outfits:
            own = (faces or {}).get(want.character)
            checks.append(_outfit_check(rgb, want, [own] if own else found))
    wrong = [c for c in checks if c.verdict == WARN]
    verified = [c for c in checks if c.verdict == PASS]
    if wrong:
        verdict = WARN
        detail = 'contradicts the ledger: ' + '; '.join(f'{c.item} — {c.entry} ({c.measured})' for c in wrong)
    elif verified:
        verdict = PASS
        detail = 'matches the ledger: ' + ', '.join(c.item for c in verified)
        unsure = [f'{c.item} unverified: {c.reason}' for c in checks if c.verdict == UNVERIFIED]
        detail += f' ({"; ".join(unsure)})' if unsure else ''
    else:
        verdict = UNVERIFIED
        detail = '; '.join(f'{c.item}: {c.reason}' for c in checks) or 'nothing in the ledger to check'
    extra = {'checks': [asdict(c) for c in checks], 'contradictions': [c.entry for c in wrong]}
    return MetricResult('ledger', float(len(wrong)), verdict, None, detail, extra)
