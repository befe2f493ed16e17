"""The continuity ledger (J02): change events per scene (and panel), written once, in story order."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, select

from models.continuity import (
    CHARACTER_FIELDS,
    LIST_FIELDS,
    SCENE_FIELDS,
    ContinuityEvent,
    ContinuityEventCreate,
    ContinuityEventRead,
)
from models.references import TIMES, WEATHERS, Character, Scene
from services.errors import Invalid, NotFound
from services.security import audit

PLACE = re.compile(r'^\s*(?:chapter\s*)?(\d+)\s*(?:[.,/:]\s*(?:scene\s*)?|scene\s*)(\d+)\s*$', re.I)
ALLOWED = {'time': TIMES, 'weather': WEATHERS}


def story_key(scene: Scene) -> tuple:
    """Chapter, then the scene's order, then its name: scenes without a chapter come after every chapter."""
    return (scene.chapter is None, scene.chapter or 0, scene.sort_order, scene.name.lower())


def story_order(session: Session, project_id: str) -> list[Scene]:
    """Every scene of the project in the order the story tells them."""
    return sorted(session.exec(select(Scene).where(Scene.project_id == project_id)).all(), key=story_key)


def positions(scenes: Sequence[Scene]) -> dict[str, int]:
    """Each scene's place inside its chapter, 1-based, as an artist counts "chapter 1, scene 2"."""
    out: dict[str, int] = {}
    counts: dict[int | None, int] = {}
    for sc in scenes:
        counts[sc.chapter] = counts.get(sc.chapter, 0) + 1
        out[sc.id] = counts[sc.chapter]
    return out


def resolve_scene(session: Session, project_id: str, ref: str) -> Scene:
    """A scene by id, by name (ignoring case) or by its place, "1.2" / "chapter 1 scene 2"."""
    ref = ref.strip()
    row = session.get(Scene, ref)
    if row is not None and row.project_id == project_id:
        return row
    by_name = session.exec(
        select(Scene).where(Scene.project_id == project_id, func.lower(Scene.name) == ref.lower())
    ).first()
    if by_name is not None:
        return by_name
    if m := PLACE.match(ref):
        chapter, position = int(m.group(1)), int(m.group(2))
        in_chapter = [sc for sc in story_order(session, project_id) if sc.chapter == chapter]
        if 1 <= position <= len(in_chapter):
            return in_chapter[position - 1]
        raise NotFound(f'Chapter {chapter} has {len(in_chapter)} scene(s); there is no scene {position}.')
    raise NotFound(f'No scene "{ref[:80]}" in this project (give its name, its id or chapter.scene like 1.2).')


def _character(session: Session, project_id: str, name: str) -> Character:
    row = session.get(Character, name)
    if row is not None and row.project_id == project_id:
        return row
    row = session.exec(
        select(Character).where(Character.project_id == project_id, func.lower(Character.name) == name.lower())
    ).first()
    if row is None:
        raise NotFound(f'No character named "{name[:80]}" in this project.')
    return row


def check_event(data: ContinuityEventCreate) -> list[str]:
    """The ledger's rules, so a wrong value is refused with the rule rather than stored and ignored."""
    field, op, values = data.field, data.op, data.value
    if field in CHARACTER_FIELDS and not data.character:
        raise Invalid(f'{field} belongs to a character: say whose.', code='ledger_character_required')
    if field in SCENE_FIELDS and data.character:
        raise Invalid(f'{field} belongs to the scene, not to a character.', code='ledger_scene_field')
    if op in ('add', 'remove') and field not in LIST_FIELDS:
        raise Invalid(f'{field} holds one value: use set or clear.', code='ledger_op')
    if op == 'clear':
        return []
    if not values:
        raise Invalid(f'Give a value to {op}.', code='ledger_value_required')
    if field not in LIST_FIELDS and len(values) != 1:
        raise Invalid(f'{field} holds one value, not {len(values)}.', code='ledger_value')
    if field in ALLOWED and values[0] not in ALLOWED[field]:
        raise Invalid(f'{field} must be one of {", ".join(ALLOWED[field])}.', code=f'invalid_{field}')
    return list(dict.fromkeys(values))


def add_event(session: Session, project_id: str, data: ContinuityEventCreate) -> ContinuityEventRead:
    """Record a change; it holds from its scene (and panel) on until another event changes it."""
    values = check_event(data)
    scene = resolve_scene(session, project_id, data.scene)
    char = _character(session, project_id, data.character) if data.character else None
    row = ContinuityEvent(
        project_id=project_id,
        scene_id=scene.id,
        panel=data.panel,
        character_id=char.id if char else None,
        field=data.field,
        op=data.op,
        values=values,
        note=data.note,
    )
    session.add(row)
    session.flush()
    read = _reads(session, project_id, [row])[0]
    audit.record(session, project_id=project_id, action='continuity.add', payload={'id': row.id, 'event': read.label})
    return read


def _owned(session: Session, project_id: str, event_id: str) -> ContinuityEvent:
    row = session.get(ContinuityEvent, event_id)
    if row is None or row.project_id != project_id:
        raise NotFound(f'No continuity event {event_id[:40]} in this project (kroma continuity list shows the ids).')
    return row


def update_event(
    session: Session, project_id: str, event_id: str, *, op: str, values: list[str], note: str
) -> ContinuityEventRead:
    """Change what an event says (the bootstrap import merges this way); where and whose stay."""
    row = _owned(session, project_id, event_id)
    char = session.get(Character, row.character_id) if row.character_id else None
    data = ContinuityEventCreate(
        scene=row.scene_id, panel=row.panel, character=char.name if char else None, field=row.field, op=op, value=values
    )
    row.op, row.values, row.note = op, check_event(data), note
    session.add(row)
    session.flush()
    read = _reads(session, project_id, [row])[0]
    audit.record(
        session, project_id=project_id, action='continuity.update', payload={'id': row.id, 'event': read.label}
    )
    return read


def remove_event(session: Session, project_id: str, event_id: str) -> None:
    row = _owned(session, project_id, event_id)
    label = _reads(session, project_id, [row])[0].label
    session.delete(row)
    audit.record(session, project_id=project_id, action='continuity.remove', payload={'id': event_id, 'event': label})


def get_event(session: Session, project_id: str, event_id: str) -> ContinuityEventRead:
    return _reads(session, project_id, [_owned(session, project_id, event_id)])[0]


def list_events(session: Session, project_id: str, *, scene_id: str | None = None) -> list[ContinuityEventRead]:
    """Every event in story order (scene, then panel, then when it was written), or one scene's."""
    query = select(ContinuityEvent).where(ContinuityEvent.project_id == project_id)
    if scene_id:
        query = query.where(ContinuityEvent.scene_id == scene_id)
    return _reads(session, project_id, list(session.exec(query).all()))


def _reads(session: Session, project_id: str, rows: Sequence[ContinuityEvent]) -> list[ContinuityEventRead]:
    scenes = story_order(session, project_id)
    rank = {sc.id: i for i, sc in enumerate(scenes)}
    by_id = {sc.id: sc for sc in scenes}
    place = positions(scenes)
    names = dict(session.exec(select(Character.id, Character.name).where(Character.project_id == project_id)).all())
    ordered = sorted(rows, key=lambda e: (rank.get(e.scene_id, 1 << 30), e.panel or 0, e.created_at, e.id))
    return [
        ContinuityEventRead(
            id=e.id,
            scene_id=e.scene_id,
            scene=by_id[e.scene_id].name,
            chapter=by_id[e.scene_id].chapter,
            position=place[e.scene_id],
            panel=e.panel,
            character_id=e.character_id,
            character=names.get(e.character_id) if e.character_id else None,
            field=e.field,
            op=e.op,
            values=list(e.values),
            note=e.note,
            created_at=e.created_at,
        )
        for e in ordered
        if e.scene_id in by_id
    ]
