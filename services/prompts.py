"""Prompt templates per stage (versioned) and prompt composition from the project's continuity data."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.base import Stage
from models.references import CharacterRead, PromptTemplate, PromptTemplateRead, SceneRead, StyleGuideRead
from services.errors import Invalid

PLACEHOLDERS = ('style_guide', 'scene', 'continuity', 'characters', 'time', 'weather', 'stage')
ASSETS = Path(__file__).resolve().parents[1] / 'assets'


@cache
def default_templates() -> dict[str, str]:
    return json.loads((ASSETS / 'prompts' / 'default_templates.json').read_text())['templates']


def check_template(text: str) -> str:
    """Refuse unknown {placeholders} and broken braces before saving, so a run never fails on a typo."""
    text = text.strip()
    if not text:
        raise Invalid('Template text must not be empty.', code='invalid_template')
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as e:
        raise Invalid(f'Template braces are unbalanced: {e}.', code='invalid_template') from e
    unknown = sorted(n for n in names if n not in PLACEHOLDERS)
    if unknown:
        raise Invalid(
            f'Unknown placeholder {{{unknown[0]}}}; use one of {", ".join(PLACEHOLDERS)}.', code='invalid_template'
        )
    return text


def save_template(
    session: Session, project_id: str, *, stage: Stage, text: str, name: str | None = None
) -> PromptTemplateRead:
    """Every save is a new version; the highest version of a name is the one runs use."""
    name = (name or f'{stage.value} default').strip()
    text = check_template(text)
    last = session.exec(
        select(func.max(PromptTemplate.version)).where(
            PromptTemplate.project_id == project_id, PromptTemplate.name == name
        )
    ).one()
    row = PromptTemplate(project_id=project_id, name=name, stage=stage, text=text, version=(last or 0) + 1)
    session.add(row)
    session.flush()
    return PromptTemplateRead.model_validate(row, from_attributes=True)


def list_templates(session: Session, project_id: str, *, all_versions: bool = False) -> list[PromptTemplateRead]:
    rows = session.exec(
        select(PromptTemplate)
        .where(PromptTemplate.project_id == project_id)
        .order_by(col(PromptTemplate.name), col(PromptTemplate.version).desc())
    ).all()
    out, seen = [], set()
    for r in rows:
        if all_versions or r.name not in seen:
            out.append(PromptTemplateRead.model_validate(r, from_attributes=True))
            seen.add(r.name)
    return out


def current_template(session: Session, project_id: str, stage: Stage) -> str:
    row = session.exec(
        select(PromptTemplate)
        .where(PromptTemplate.project_id == project_id, PromptTemplate.stage == stage)
        .order_by(col(PromptTemplate.version).desc(), col(PromptTemplate.created_at).desc())
    ).first()
    return row.text if row else default_templates()[stage.value]


def describe_style(guide: StyleGuideRead | None) -> str:
    if guide is None:
        return ''
    parts = [f'Style "{guide.name}": {guide.rules}'.strip()]
    if guide.do_text:
        parts.append(f'Do: {guide.do_text}')
    if guide.dont_text:
        parts.append(f"Don't: {guide.dont_text}")
    if guide.palette:
        parts.append('Palette: ' + ', '.join(guide.palette))
    return ' '.join(p.rstrip('.') + '.' for p in parts)


def describe_continuity(cont: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    merged = {**cont, **{k: v for k, v in params.items() if k in ('time', 'weather') and v}}
    bits = []
    if merged.get('time'):
        bits.append(f'time of day {merged["time"]}')
    if merged.get('weather'):
        bits.append(f'weather {merged["weather"]}')
    if merged.get('props'):
        bits.append('props: ' + ', '.join(merged['props']))
    if merged.get('characters'):
        bits.append('characters present: ' + ', '.join(merged['characters']))
    return ('Continuity: ' + '; '.join(bits) + '.') if bits else ''


def describe_characters(chars: Sequence[CharacterRead]) -> str:
    return '; '.join(f'{c.name} ({c.bible.strip() or "see reference images"})' for c in chars)


def compose(
    template: str,
    *,
    stage: Stage,
    scene: SceneRead | None,
    guide: StyleGuideRead | None,
    characters: Sequence[CharacterRead] = (),
    params: Mapping[str, Any] | None = None,
) -> str:
    """Fill a stage template with the style guide, scene, continuity and character bibles."""
    params = params or {}
    values = {
        'style_guide': describe_style(guide),
        'scene': f'{scene.name}: {scene.description}'.strip(': ') if scene else '',
        'continuity': describe_continuity(scene.continuity if scene else {}, params),
        'characters': describe_characters(characters),
        'time': params.get('time') or (scene.continuity.get('time') if scene else '') or 'day',
        'weather': params.get('weather') or (scene.continuity.get('weather') if scene else '') or 'clear',
        'stage': stage.value,
    }
    text = check_template(template).format(**values)
    return re.sub(r'\s+', ' ', text).replace(' .', '.').strip()
