"""Prompt templates per stage (versioned) and prompt composition from the project's continuity data."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.base import Stage
from models.references import PLACEHOLDERS as PLACEHOLDERS  # re-exported: pages list them
from models.references import (
    Character,
    CharacterRead,
    PromptTemplate,
    PromptTemplateCreate,
    PromptTemplateRead,
    Scene,
    SceneRead,
    StyleGuide,
    StyleGuideRead,
    placeholders_only,
)
from services.crud import get_owned
from services.errors import Invalid
from services.files import ASSETS_DIR
from services.references import ledger_state
from services.security import audit

ASSETS = ASSETS_DIR


@cache
def default_templates() -> dict[str, str]:
    return json.loads((ASSETS / 'prompts' / 'default_templates.json').read_text())['templates']


def check_template(text: str) -> str:
    """Refuse unknown or formatted {placeholders} and broken braces, so a run never fails on a typo (the model's rule)."""
    text = text.strip()
    if not text:
        raise Invalid('Template text must not be empty.', code='invalid_template')
    try:
        return placeholders_only(text)
    except ValueError as e:
        raise Invalid(f'Template text: {e}.', code='invalid_template') from None


def save_template(session: Session, project_id: str, data: PromptTemplateCreate) -> PromptTemplateRead:
    """Every save is a new version; the highest version of a name is the one runs use."""
    name, stage, text = data.key, data.stage, check_template(data.text)
    last = session.exec(
        select(func.max(PromptTemplate.version)).where(
            PromptTemplate.project_id == project_id, PromptTemplate.name == name
        )
    ).one()
    row = PromptTemplate(project_id=project_id, name=name, stage=stage, text=text, version=(last or 0) + 1)
    session.add(row)
    session.flush()
    audit.record(
        session,
        project_id=project_id,
        action='prompt_template.save',
        payload={'name': name, 'stage': stage.value, 'version': row.version},
    )
    return PromptTemplateRead.model_validate(row, from_attributes=True)


def template_versions(session: Session, project_id: str, name: str) -> list[PromptTemplateRead]:
    """Every saved version of one template, newest first, so an earlier one can be read or restored."""
    rows = session.exec(
        select(PromptTemplate)
        .where(PromptTemplate.project_id == project_id, PromptTemplate.name == name)
        .order_by(col(PromptTemplate.version).desc())
    ).all()
    return [PromptTemplateRead.model_validate(r, from_attributes=True) for r in rows]


def preview(session: Session, project_id: str, *, stage: Stage, text: str, scene_id: str | None = None) -> str:
    """Compose a template for one scene the way a run would: first style guide, the characters present."""
    scene = (
        SceneRead.model_validate(get_owned(session, Scene, project_id, scene_id), from_attributes=True)
        if scene_id
        else None
    )
    guide_row = session.exec(
        select(StyleGuide).where(StyleGuide.project_id == project_id).order_by(col(StyleGuide.created_at))
    ).first()
    guide = StyleGuideRead.model_validate(guide_row.model_dump()) if guide_row else None
    rows = prompt_characters(session, project_id, scene.continuity if scene else {})
    chars = [CharacterRead.model_validate(c.model_dump()) for c in rows]
    values = None
    if scene is not None:
        values = ledger_values(ledger_state.scene_state(session, project_id, scene.id), {}, chars)
    return compose(text, stage=stage, scene=scene, guide=guide, characters=chars, values=values)


def ledger_values(
    state: ledger_state.DerivedState | None, params: Mapping[str, Any], chars: Sequence[CharacterRead]
) -> dict[str, str]:
    """The ledger's placeholder values, {characters} with each one's current outfit, marks and held objects:
    one function for the preview and the run, so both compose the same text."""
    if state is None:
        return {}
    values = ledger_state.prompt_values(state, params)
    if chars:
        values['characters'] = ledger_characters(chars, state)
    return values


def ledger_characters(chars: Sequence[CharacterRead], state: ledger_state.DerivedState) -> str:
    """{characters} with each one's current outfit, marks and held objects from the ledger after the bible."""
    out = []
    for c in chars:
        notes = ledger_state.character_notes(state, c.name)
        bible = c.bible.strip().rstrip('.') or 'see reference images'
        out.append(f'{c.name} ({bible}; {notes})' if notes else f'{c.name} ({bible})')
    return '; '.join(out)


def prompt_characters(
    session: Session, project_id: str, continuity: Mapping[str, Any], ids: Sequence[str] | None = None
) -> list[Character]:
    """The characters a prompt describes: the chosen ones, else those present in the scene, in name order; one
    function for the preview and the run, so both compose the same text."""
    rows = session.exec(select(Character).where(Character.project_id == project_id).order_by(col(Character.name)))
    if ids is not None:
        return [c for c in rows if c.id in set(ids)]
    present = {n.lower() for n in continuity.get('characters', [])}
    return [c for c in rows if c.name.lower() in present]


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
    values: Mapping[str, str] | None = None,
) -> str:
    """Fill a stage template with the style guide, scene, continuity and character bibles.

    `values` (the continuity ledger's, services/references/ledger_state.prompt_values) replace the ones taken from
    the scene's own continuity."""
    params = params or {}
    cont = scene.continuity if scene else {}
    filled = {
        'style_guide': describe_style(guide),
        'scene': f'{scene.name}: {scene.description.rstrip(".")}'.strip(': ') if scene else '',
        'continuity': describe_continuity(scene.continuity if scene else {}, params),
        'characters': describe_characters(characters),
        'time': params.get('time') or (scene.continuity.get('time') if scene else '') or 'day',
        'weather': params.get('weather') or (scene.continuity.get('weather') if scene else '') or 'clear',
        'stage': stage.value,
        'location': '',
        'props': ', '.join(cont.get('props', [])),
        'outfits': '',
        'marks': '',
        'held': '',
    }
    filled |= {k: v for k, v in (values or {}).items() if k in filled}
    text = _drop_empty_labels(check_template(template), filled).format(**filled)
    return re.sub(r'\s+', ' ', text).replace(' .', '.').strip()


_LABELLED = re.compile(r"(?:(?<=^)|(?<=[.!?;]\s)|(?<=\n))[A-Z][\w' ]{0,30}:\s*\{(\w+)\}[.;]?")


def _drop_empty_labels(template: str, values: Mapping[str, str]) -> str:
    """'Characters: {characters}.' with no characters goes away whole, so no prompt carries an empty label."""
    return _LABELLED.sub(lambda m: '' if not values.get(m.group(1), '').strip() else m.group(0), template)


def delete_template(session: Session, project_id: str, name: str) -> int:
    """Remove a template with all its versions (a replace import does this); runs fall back to the stage default."""
    rows = session.exec(
        select(PromptTemplate).where(PromptTemplate.project_id == project_id, PromptTemplate.name == name)
    ).all()
    for row in rows:
        session.delete(row)
    audit.record(session, project_id=project_id, action='prompt_template.delete', payload={'name': name})
    return len(rows)
