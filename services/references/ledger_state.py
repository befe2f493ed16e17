"""Each scene's continuity state, derived in story order from the scenes' own continuity and the ledger's events.

A scene starts from what the story carried to it, then its own continuity (time, weather, props) applies, then
the events written at it; panel events come after, in panel order, and everything carries on to the next scene.
Every value keeps its source: the event that set it, the scene's own continuity, or the character's bible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from models.base import Stage
from models.continuity import CHARACTER_FIELDS, FIELD_LABELS, LIST_FIELDS, SCENE_FIELDS, ContinuityEventRead
from models.references import Character, Scene
from services.crud import get_owned
from services.references import ledger


def where_of(chapter: int | None, position: int, scene: str) -> str:
    """'chapter 1, scene 2 (Café table)', the way an artist names a place in the story."""
    return (f'chapter {chapter}, ' if chapter is not None else '') + f'scene {position} ({scene})'


@dataclass(frozen=True)
class Source:
    """Where a value comes from: kind 'event' (with its id), 'scene' (its own continuity) or 'character' (bible)."""

    kind: str
    label: str
    event_id: str | None = None
    note: str = ''


@dataclass(frozen=True)
class StateValue:
    value: str | list[str] | None
    source: Source | None = None

    @property
    def text(self) -> str:
        return ', '.join(self.value) if isinstance(self.value, list) else (self.value or '')


@dataclass
class DerivedState:
    """What must hold in one scene (or panel): scene fields and each character's outfit, marks and held objects."""

    scene_id: str
    scene: str
    chapter: int | None
    position: int
    panel: int | None = None
    present: list[str] = field(default_factory=list)
    framing: str | None = None
    fields: dict[str, StateValue] = field(default_factory=dict)
    characters: dict[str, dict[str, StateValue]] = field(default_factory=dict)

    def value(self, name: str) -> str | list[str] | None:
        v = self.fields.get(name)
        return v.value if v else None

    def outfit(self, character: str) -> str | None:
        v = self.characters.get(character, {}).get('outfit')
        return v.value if v and isinstance(v.value, str) else None

    @property
    def where(self) -> str:
        return where_of(self.chapter, self.position, self.scene) + (f', panel {self.panel}' if self.panel else '')

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON for job params, the API and the CLI; QA reads the sources back from it."""

        def plain(v: StateValue) -> dict[str, Any]:
            return {'value': v.value, 'source': asdict(v.source) if v.source else None}

        return {
            'scene_id': self.scene_id,
            'scene': self.scene,
            'chapter': self.chapter,
            'position': self.position,
            'panel': self.panel,
            'where': self.where,
            'present': list(self.present),
            'framing': self.framing,
            'fields': {k: plain(v) for k, v in self.fields.items() if v.value not in (None, [])},
            'characters': {
                name: {k: plain(v) for k, v in vals.items() if v.value not in (None, [])}
                for name, vals in self.characters.items()
            },
        }


class _Walker:
    """The running state while the story is walked scene by scene."""

    def __init__(self, chars: Sequence[Character]) -> None:
        self.scene: dict[str, StateValue] = {}
        self.chars: dict[str, dict[str, StateValue]] = {}
        for c in chars:
            base = {}
            if c.outfits:
                base['outfit'] = StateValue(c.outfits[0], Source('character', f"{c.name}'s bible: first outfit"))
            self.chars[c.id] = base

    def apply(self, target: dict[str, StateValue], name: str, op: str, values: list[str], src: Source) -> None:
        old = target.get(name)
        if name not in LIST_FIELDS:
            target[name] = StateValue(values[0] if op == 'set' and values else None, src)
            return
        have = list(old.value) if old and isinstance(old.value, list) else []
        if op == 'set':
            have = list(values)
        elif op == 'add':
            have += [v for v in values if v not in have]
        elif op == 'remove':
            have = [v for v in have if v not in values]
        else:
            have = []
        target[name] = StateValue(have, src)

    def event(self, e: ContinuityEventRead) -> None:
        src = Source('event', e.label, e.id, e.note)
        target = self.chars.setdefault(e.character_id, {}) if e.character_id else self.scene
        self.apply(target, e.field, e.op, e.values, src)

    def base(self, sc: Scene, where: str) -> None:
        for name in ('time', 'weather', 'props'):
            if sc.continuity.get(name):
                value = sc.continuity[name]
                src = Source('scene', f"{where}: the scene's own {FIELD_LABELS[name]}")
                self.apply(self.scene, name, 'set', value if isinstance(value, list) else [value], src)

    def snapshot(self, sc: Scene, position: int, names: dict[str, str], panel: int | None) -> DerivedState:
        present = list(sc.continuity.get('characters', []))
        state = DerivedState(
            sc.id, sc.name, sc.chapter, position, panel, present, sc.continuity.get('framing'), dict(self.scene)
        )
        by_name = {n.lower(): i for i, n in names.items()}
        for name in present:
            cid = by_name.get(name.lower())
            state.characters[names.get(cid, name)] = dict(self.chars.get(cid, {})) if cid else {}
        return state


def _walk(session: Session, project_id: str, stop: tuple[str, int | None] | None = None) -> dict[str, DerivedState]:
    """Scene states in story order; with stop=(scene_id, panel) the walk ends at that panel of that scene."""
    scenes = ledger.story_order(session, project_id)
    place = ledger.positions(scenes)
    chars = session.exec(
        select(Character).where(Character.project_id == project_id).order_by(col(Character.name))
    ).all()
    names = {c.id: c.name for c in chars}
    events: dict[str, list[ContinuityEventRead]] = {}
    for e in ledger.list_events(session, project_id):
        events.setdefault(e.scene_id, []).append(e)
    walker, out = _Walker(chars), {}
    for sc in scenes:
        here = events.get(sc.id, [])
        walker.base(sc, where_of(sc.chapter, place[sc.id], sc.name))
        for e in (e for e in here if e.panel is None):
            walker.event(e)
        out[sc.id] = walker.snapshot(sc, place[sc.id], names, None)
        for e in (e for e in here if e.panel is not None):
            if stop and stop[0] == sc.id and stop[1] is not None and e.panel > stop[1]:
                break
            walker.event(e)
        if stop and stop[0] == sc.id:
            if stop[1] is not None:
                out[sc.id] = walker.snapshot(sc, place[sc.id], names, stop[1])
            break
    return out


def scene_state(session: Session, project_id: str, scene_id: str, panel: int | None = None) -> DerivedState:
    """The state that must hold in a scene (or from one of its panels on), each value with its source."""
    get_owned(session, Scene, project_id, scene_id)
    return _walk(session, project_id, (scene_id, panel))[scene_id]


def all_states(session: Session, project_id: str) -> dict[str, DerivedState]:
    """Every scene's state in one walk (the planner and the scenes page need them all)."""
    return _walk(session, project_id)


def stage_target(state: DerivedState | None, stage: Stage | str) -> str | None:
    """What the time or weather stage should render for this scene by default: the ledger's value, if any."""
    if state is None:
        return None
    name = getattr(stage, 'value', stage)
    if name in ('time', 'weather'):
        value = state.value(name)
        return value if isinstance(value, str) else None
    return None


def _character_bits(vals: Mapping[str, StateValue]) -> list[str]:
    return [f'{FIELD_LABELS[f]}: {vals[f].text}' for f in CHARACTER_FIELDS if f in vals and vals[f].text]


def describe(state: DerivedState, params: Mapping[str, Any] | None = None) -> str:
    """The {continuity} text: scene fields, then each present character with outfit, marks and what they hold."""
    params = params or {}
    bits = []
    for name in SCENE_FIELDS:
        value = params.get(name) if name in ('time', 'weather') and params.get(name) else state.fields.get(name)
        text = value if isinstance(value, str) else (value.text if value else '')
        if text:
            bits.append(f'{FIELD_LABELS[name]} {text}' if name != 'props' else f'props: {text}')
    people = []
    for name in state.present:
        extra = _character_bits(state.characters.get(name, {}))
        people.append(f'{name} ({"; ".join(extra)})' if extra else name)
    if people:
        bits.append('characters present: ' + ', '.join(people))
    return ('Continuity: ' + '; '.join(bits) + '.') if bits else ''


def _per_character(state: DerivedState, name: str) -> str:
    return '; '.join(
        f'{who}: {vals[name].text}' for who, vals in state.characters.items() if name in vals and vals[name].text
    )


def prompt_values(state: DerivedState, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The ledger's placeholders for prompt composition; an explicit time or weather of the run wins."""
    params = params or {}
    return {
        'continuity': describe(state, params),
        'time': params.get('time') or stage_target(state, 'time') or 'day',
        'weather': params.get('weather') or stage_target(state, 'weather') or 'clear',
        'location': state.fields['location'].text if 'location' in state.fields else '',
        'props': state.fields['props'].text if 'props' in state.fields else '',
        'outfits': _per_character(state, 'outfit'),
        'marks': _per_character(state, 'marks'),
        'held': _per_character(state, 'held'),
    }


def character_notes(state: DerivedState, name: str) -> str:
    """What the character stage adds to a character's bible: current outfit, marks, held objects."""
    return '; '.join(_character_bits(state.characters.get(name, {})))
