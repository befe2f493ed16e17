"""Provider data as files: the OpenAI model catalogue (sizes, limits, prices) and the ComfyUI workflow template."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from services.errors import Invalid
from services.files import ASSETS_DIR

log = logging.getLogger(__name__)

DEFAULT_ASSETS_DIR = ASSETS_DIR


def model_catalog(assets_dir: Path | None = None) -> dict:
    """The parsed assets/providers/openai_models.json: per model sizes, limits, input_fidelity and prices."""
    return _read_json((assets_dir or DEFAULT_ASSETS_DIR) / 'providers' / 'openai_models.json')


def comfyui_template(assets_dir: Path | None = None) -> dict:
    """The default ComfyUI API-format img2img workflow with {{placeholders}}."""
    return _read_json((assets_dir or DEFAULT_ASSETS_DIR) / 'comfyui' / 'default_img2img.json')


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError as e:
        raise Invalid(f'Provider data file {path.name} is missing from {path.parent}.', code='asset_missing') from e
    except json.JSONDecodeError as e:
        raise Invalid(
            f'Provider data file {path.name} is not valid JSON (line {e.lineno}).', code='asset_invalid'
        ) from e


def model_entry(catalog: dict, model: str) -> dict:
    """The catalog's entry for a model, or conservative defaults for a model the catalog does not know yet."""
    entry = catalog.get('models', {}).get(model)
    if entry is None:
        log.warning(
            'Model %r is not in the OpenAI catalog (as of %s); using conservative limits and prices',
            model,
            catalog.get('as_of', '?'),
        )
        entry = catalog.get('unknown_model_defaults') or next(iter(catalog.get('models', {}).values()))
    return entry


def check_size(rules: dict, w: int, h: int, model: str) -> None:
    """Apply the model's size rules (a fixed list, or custom sizes with multiple/edge/aspect/pixel limits)."""
    if not rules.get('custom'):
        if f'{w}x{h}' not in rules.get('allowed', []):
            raise Invalid(
                f'{model} accepts sizes {", ".join(rules.get("allowed", []))}, not {w}x{h}.', code='size_invalid'
            )
        return
    m, pixels = rules.get('multiple_of', 16), w * h
    problems = []
    if w % m or h % m:
        problems.append(f'both sides must be multiples of {m}')
    if max(w, h) > rules.get('max_edge', 3840):
        problems.append(f'the longest side may be at most {rules["max_edge"]} px')
    if max(w, h) / max(1, min(w, h)) > rules.get('max_aspect', 3.0):
        problems.append(f'the aspect ratio may be at most {rules["max_aspect"]:g}:1')
    if not rules.get('min_pixels', 0) <= pixels <= rules.get('max_pixels', 1 << 40):
        problems.append(f'the area must be {rules["min_pixels"]:,}–{rules["max_pixels"]:,} pixels')
    if problems:
        raise Invalid(f'{w}x{h} does not suit {model}: ' + '; '.join(problems) + '.', code='size_invalid')


def price(entry: dict, quality: str, size: tuple[int, int], n: int, n_inputs: int) -> float:
    """Per-image price for the quality at the nearest listed size (scaled by area), times n, plus inputs."""
    pricing = entry.get('pricing', {})
    table = pricing.get('per_image', {})
    quality = pricing.get('auto_as', 'high') if quality == 'auto' or quality not in table else quality
    by_size = table.get(quality) or {}
    if not by_size:
        return 0.0
    w, h = size
    key = f'{w}x{h}'
    if key in by_size:
        each = by_size[key]
    else:

        def area(k: str) -> int:
            a, b = k.split('x')
            return int(a) * int(b)

        nearest = min(by_size, key=lambda k: abs(area(k) - w * h))
        each = by_size[nearest] * (w * h) / area(nearest)
    return round(each * n + pricing.get('per_input_image', 0.0) * n_inputs, 6)
