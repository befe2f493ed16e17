"""The continuity ledger as a bootstrap section: events as data, matched by scene, panel, character and field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from models.continuity import ContinuityEventCreate
from services.bootstrap.diff import Fields, Section, _set_given
from services.errors import parse
from services.references import characters, ledger, scenes

IDENTITY = ('scene', 'panel', 'character', 'field')
EVENT_FIELDS = (*IDENTITY, 'op', 'value', 'note')


def event_key(scene: str, panel: int | None, character: str | None, field: str) -> str:
    """'Café table · panel 2 · Grace · outfit': one event per place, subject and field in an answer."""
    return ' · '.join(p for p in (scene, f'panel {panel}' if panel else '', character or '', field) if p)


def _fields(
    scene: str, panel: int | None, character: str | None, field: str, op: str, value: list, note: str
) -> Fields:
    """Names compare ignoring case (the lookups do too), so the same event read and written compares equal."""
    who = character.lower() if character else None
    return {
        'scene': scene.lower(),
        'panel': panel,
        'character': who,
        'field': field,
        'op': op,
        'value': value,
        'note': note,
    }


def _read(s: Session, project_id: str) -> list[tuple[str, str, Fields]]:
    out, seen = [], {}
    for e in ledger.list_events(s, project_id):
        key = event_key(e.scene, e.panel, e.character, e.field)
        seen[key.lower()] = seen.get(key.lower(), 0) + 1
        shown = key if seen[key.lower()] == 1 else f'{key} #{seen[key.lower()]}'  # a later one at the same place
        out.append((e.id, shown, _fields(e.scene, e.panel, e.character, e.field, e.op, e.values, e.note)))
    return out


def _wanted(item: ContinuityEventCreate, _: Callable[[str, str], str | None]) -> Fields:
    return _fields(item.scene, item.panel, item.character, item.field, item.op, list(item.value), item.note)


def _update(s: Session, project_id: str, row_id: str, data: Fields) -> object:
    return ledger.update_event(s, project_id, row_id, op=data['op'], values=data['value'], note=data['note'])


SECTION = Section(
    'continuity',
    read=_read,
    wanted=_wanted,
    given=lambda item: _set_given(item, EVENT_FIELDS) | set(IDENTITY),
    to_create=lambda _, f: parse(ContinuityEventCreate, {k: v for k, v in f.items() if k != 'value'}, value=f['value']),
    to_update=lambda _, patch, old: {**old, **patch},
    create=ledger.add_event,
    update=_update,
    delete=ledger.remove_event,
    key=lambda item: event_key(item.scene, item.panel, item.character, item.field),
    renames=False,
)


def missing_references(session: Session, project_id: str, payload: Any) -> list[str]:
    """Events must name scenes and characters that exist or that the same answer creates (checked on a dry run)."""
    if not payload.continuity:
        return []
    scene_names = {s.name.lower() for s in scenes.list_scenes(session, project_id)}
    scene_names |= {s.name.lower() for s in payload.scenes or []}
    char_names = {c.name.lower() for c in characters.list_characters(session, project_id)}
    char_names |= {c.name.lower() for c in payload.characters or []}
    errors = []
    for i, e in enumerate(payload.continuity):
        if e.scene.lower() not in scene_names and not ledger.PLACE.match(e.scene):
            errors.append(f'continuity[{i}].scene: no scene named "{e.scene}" here or in the answer')
        if e.character and e.character.lower() not in char_names:
            errors.append(f'continuity[{i}].character: no character named "{e.character}" here or in the answer')
    return errors
