"""Build a provider from an account's config, and read the OpenAI model catalog (limits and prices are data)."""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx

from services.errors import Invalid
from services.providers.base import Provider, ProviderConfig

log = logging.getLogger(__name__)

DEFAULT_ASSETS_DIR = Path(__file__).resolve().parents[2] / 'assets'
KINDS = ('local', 'openai', 'comfyui')
OUTPUT_NODES = ('SaveImage', 'PreviewImage')
_WHOLE = re.compile(r'^\{\{(\w+)\}\}$')
_ANY = re.compile(r'\{\{(\w+)\}\}')


def build_provider(
    config: ProviderConfig, *, client: httpx.AsyncClient | None = None, assets_dir: Path | None = None
) -> Provider:
    """One provider per account; keep and reuse it, since its concurrency limit lives in the instance."""
    assets = assets_dir or DEFAULT_ASSETS_DIR
    if config.kind == 'local':
        from services.providers.local import LocalProvider

        return LocalProvider(config)
    if config.kind == 'openai':
        from services.providers.openai_images import OpenAIImagesProvider

        return OpenAIImagesProvider(config, catalog=model_catalog(assets), client=client)
    if config.kind == 'comfyui':
        from services.providers.comfyui import ComfyUIProvider

        return ComfyUIProvider(config, template=comfyui_template(assets), client=client)
    raise Invalid(f'Unknown provider kind {config.kind!r}; use one of {", ".join(KINDS)}.', code='provider_kind')


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


def placeholders(graph: Any) -> set[str]:
    """Every {{name}} a workflow template uses, so missing values are named before anything is queued."""
    if isinstance(graph, dict):
        return set().union(*(placeholders(v) for v in graph.values())) if graph else set()
    if isinstance(graph, list):
        return set().union(*(placeholders(v) for v in graph)) if graph else set()
    return set(_ANY.findall(graph)) if isinstance(graph, str) else set()


def fill_workflow(graph: dict, values: dict[str, Any]) -> dict:
    """Substitute {{name}} placeholders: a whole-string placeholder takes the value's JSON type (int, float, str)."""
    missing = sorted(placeholders(graph) - values.keys())
    if missing:
        raise Invalid(
            f'The ComfyUI workflow uses {", ".join("{{" + m + "}}" for m in missing)} but this request has '
            'no value for it (an input image may be missing).',
            code='workflow_placeholder',
        )

    def sub(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        if isinstance(v, str):
            if m := _WHOLE.match(v):
                return values[m.group(1)]
            return _ANY.sub(lambda m: str(values[m.group(1)]), v)
        return v

    return sub(graph)


def to_txt2img(graph: dict) -> dict:
    """Without a scene, swap the encoded image for an empty latent and denoise fully; drop the now-unused loaders."""
    g = copy.deepcopy(graph)
    encoders = [k for k, node in g.items() if node.get('class_type') == 'VAEEncode']
    if not encoders:
        raise Invalid('This ComfyUI workflow needs an input image (a scene), and none was given.', code='input_missing')
    for k in encoders:
        g[k] = {
            'class_type': 'EmptyLatentImage',
            'inputs': {'width': '{{width}}', 'height': '{{height}}', 'batch_size': 1},
        }
    while True:
        used = {v[0] for node in g.values() for v in node.get('inputs', {}).values() if isinstance(v, list) and v}
        unused = [k for k, node in g.items() if k not in used and node.get('class_type') not in OUTPUT_NODES]
        if not unused:
            break
        for k in unused:
            del g[k]
    for node in g.values():
        if node.get('class_type', '').startswith('KSampler') and 'denoise' in node.get('inputs', {}):
            node['inputs']['denoise'] = 1.0
    return g
