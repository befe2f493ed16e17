"""How many input images a provider takes per call: the model catalogue's cap, or a ComfyUI workflow's slots."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.providers.catalog import comfyui_template, model_catalog, model_entry
from services.providers.workflow import placeholders

INDEXED = re.compile(r'^image_(\d+)$')
ROLE_SLOTS = ('image', 'scene_image', 'style_image', 'character_image')


@dataclass(frozen=True)
class InputCap:
    """total: every input image of one call (None = no cap); character: slots for character references alone."""

    total: int | None
    why: str
    character: int | None = None

    def character_budget(self, other_inputs: int) -> int | None:
        """Room left for character references once the scene and style anchors are in."""
        budgets = [
            b for b in (self.character, None if self.total is None else self.total - other_inputs) if b is not None
        ]
        return max(0, min(budgets)) if budgets else None


def input_cap(kind: str, model: str = '', options: dict[str, Any] | None = None) -> InputCap:
    """The cap the planner fills references up to, with the reason the plan shows."""
    options = options or {}
    if kind == 'openai':
        entry = model_entry(model_catalog(), model)
        n = int(entry.get('max_input_images', 16))
        return InputCap(n, f'{model or "the model"} takes at most {n} input images (model catalogue)')
    if kind == 'comfyui':
        names = placeholders(options.get('workflow') or comfyui_template())
        indexed = [int(m.group(1)) for n in names if (m := INDEXED.match(n))]
        if indexed:
            n = max(indexed) + 1
            return InputCap(n, f'the ComfyUI workflow has {n} image slot(s) ({{{{image_0}}}}…)')
        roles = [r for r in ROLE_SLOTS if r in names]
        character = 1 if 'character_image' in names else 0
        why = f'the ComfyUI workflow has {len(roles)} image slot(s) ({", ".join(roles) or "none"})'
        return InputCap(len(roles), why, character)
    return InputCap(None, 'no input cap (the offline renderer)')
