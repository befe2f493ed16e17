"""The post-process chain: background → upscale → colour, always in that order, each step optional."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from PIL import Image

from services.errors import Invalid
from services.postprocess.background import remove_background, remove_background_rembg
from services.postprocess.colour import ColourProfile, apply_profile, builtin_profiles
from services.postprocess.upscale import upscale

log = logging.getLogger(__name__)

STEP_ORDER = ('bg', 'upscale', 'color')
STEP_ALIASES = {
    'bg': 'bg',
    'bg_remove': 'bg',
    'background': 'bg',
    'upscale': 'upscale',
    'color': 'color',
    'colour': 'color',
}
DEFAULT_PROFILE = 'neutral'
DEFAULT_FEATHER_PX = 3
BG_METHODS = ('grabcut', 'rembg')
COLOUR_METHOD = 'pil-enhance'  # the original's Gen A/B maths; recorded because other engines give other pixels


@dataclass(frozen=True)
class ChainStep:
    """One requested operation and its parameters."""

    op: str  # 'bg' | 'upscale' | 'color'
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StepResult:
    """What one step made and how, so each output can become an asset linked to its source."""

    op: str
    params: dict
    image: Image.Image
    method: str
    ms: float


def parse_steps(steps: str | Sequence[str], *, profile: str | None, scale: int = 2) -> list[ChainStep]:
    """Read 'bg,upscale,color' in any order into the fixed order, so a cut-out is never graded before it is cut."""
    items = [steps] if isinstance(steps, str) else list(steps)
    names: set[str] = set()
    for item in items:
        for raw in str(item).split(','):
            word = raw.strip().lower()
            if not word:
                continue
            if word not in STEP_ALIASES:
                raise Invalid(
                    f'Unknown post-process step {raw.strip()!r}; use bg, upscale or color.', code='invalid_step'
                )
            names.add(STEP_ALIASES[word])
    if not names:
        raise Invalid('Choose at least one post-process step: bg, upscale or color.', code='invalid_step')
    out: list[ChainStep] = []
    for op in STEP_ORDER:
        if op not in names:
            continue
        if op == 'bg':
            out.append(ChainStep('bg', {'method': 'grabcut', 'feather_px': DEFAULT_FEATHER_PX}))
        elif op == 'upscale':
            if scale not in (2, 4):
                raise Invalid(f'Upscale factor must be 2 or 4, got {scale}.', code='invalid_scale')
            out.append(ChainStep('upscale', {'scale': scale, 'method': 'auto'}))
        else:
            out.append(ChainStep('color', {'profile': profile or DEFAULT_PROFILE}))
    return out


def run_chain(
    image: Image.Image,
    steps: Sequence[ChainStep],
    *,
    profiles: Mapping[str, ColourProfile] | None = None,
    on_step: Callable[[str, float], None] | None = None,
) -> list[StepResult]:
    """Run the steps in the fixed order, each on the previous output; on_step(op, fraction) fires as each starts
    and finishes."""
    ordered = _ordered(steps)
    known = {**builtin_profiles(), **(profiles or {})}
    results: list[StepResult] = []
    current = image
    for i, step in enumerate(ordered):
        if on_step:
            on_step(step.op, i / len(ordered))
        started = time.perf_counter()
        current, method, params = _run_step(current, step, known)
        ms = (time.perf_counter() - started) * 1000
        results.append(StepResult(step.op, params, current, method, ms))
        log.info('post-process %s done with %s in %.0f ms', step.op, method, ms)
        if on_step:
            on_step(step.op, (i + 1) / len(ordered))
    return results


def to_png_bytes(image: Image.Image) -> bytes:
    """Encode a PNG with no metadata chunks, so the same pixels always give the same bytes and the same hash."""
    if image.mode not in ('RGB', 'RGBA', 'L', 'LA'):
        has_alpha = image.mode in ('PA', 'La', 'RGBa') or 'transparency' in image.info
        image = image.convert('RGBA' if has_alpha else 'RGB')
    clean = Image.frombytes(image.mode, image.size, image.tobytes())  # drops info: ICC, EXIF, text, dpi
    buf = io.BytesIO()
    clean.save(buf, 'PNG', compress_level=6)
    return buf.getvalue()


def _ordered(steps: Sequence[ChainStep]) -> list[ChainStep]:
    seen: dict[str, ChainStep] = {}
    for step in steps:
        if step.op not in STEP_ORDER:
            raise Invalid(f'Unknown post-process step {step.op!r}; use bg, upscale or color.', code='invalid_step')
        if step.op in seen:
            raise Invalid(f'The {step.op} step is listed twice.', code='invalid_step')
        seen[step.op] = step
    return [seen[op] for op in STEP_ORDER if op in seen]


def _run_step(
    image: Image.Image, step: ChainStep, profiles: Mapping[str, ColourProfile]
) -> tuple[Image.Image, str, dict]:
    params = dict(step.params)
    if step.op == 'bg':
        method = params.setdefault('method', 'grabcut')
        if method not in BG_METHODS:
            raise Invalid(f'Background method must be grabcut or rembg, got {method!r}.', code='invalid_method')
        if method == 'rembg':
            return remove_background_rembg(image), 'rembg', params
        feather = int(params.setdefault('feather_px', DEFAULT_FEATHER_PX))
        return remove_background(image, feather_px=feather), 'grabcut', params
    if step.op == 'upscale':
        scale = int(params.setdefault('scale', 2))
        out, used = upscale(image, scale, method=params.setdefault('method', 'auto'))
        return out, used, params
    name = params.setdefault('profile', DEFAULT_PROFILE)
    if name not in profiles:
        raise Invalid(
            f'Unknown colour profile {name!r}; available: {", ".join(sorted(profiles))}.', code='unknown_profile'
        )
    params['settings'] = profiles[name].to_dict()
    return apply_profile(image, profiles[name]), COLOUR_METHOD, params
