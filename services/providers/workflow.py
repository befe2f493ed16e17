"""ComfyUI API-format workflows with {{placeholders}}: which names a graph uses, filling them, and txt2img."""

from __future__ import annotations

import copy
import re
from typing import Any

from services.errors import Invalid

OUTPUT_NODES = ('SaveImage', 'PreviewImage')
_WHOLE = re.compile(r'^\{\{(\w+)\}\}$')
_ANY = re.compile(r'\{\{(\w+)\}\}')


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
