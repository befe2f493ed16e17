"""Bootstrap import (J03), per section: compare the answer with the project, then (unless a dry run) write it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from models.references import (
    CharacterCreate,
    CharacterUpdate,
    PromptTemplateCreate,
    ReferenceSetCreate,
    ReferenceSetItemCreate,
    ReferenceSetRead,
    ReferenceSetUpdate,
    SceneCreate,
    SceneUpdate,
    StyleGuideCreate,
    StyleGuideUpdate,
)
from services.bootstrap.schema import ReferenceSetIn, SceneIn
from services.errors import parse
from services.references import characters, reference_sets, scenes, style_guides
from services.references import prompt_templates as prompts

Fields = dict[str, Any]
CONTINUITY_KEYS = ('time', 'weather', 'props', 'characters', 'framing')
SHOWN = {'reference_asset_id': 'reference_image'}


@dataclass(frozen=True)
class Change:
    """One entity's fate: create, update (with the fields that change), unchanged, delete, or missing (read-only)."""

    name: str
    action: str
    fields: tuple[str, ...] = ()


@dataclass
class SectionReport:
    section: str
    mode: str
    changes: list[Change] = field(default_factory=list)

    def names(self, action: str) -> list[str]:
        return [c.name for c in self.changes if c.action == action]

    def counts(self) -> dict[str, int]:
        return {a: len(self.names(a)) for a in ('create', 'update', 'unchanged', 'delete', 'missing')}


@dataclass(frozen=True)
class Section:
    """How one section is read from the project, turned into comparable fields and written back.

    to_create / to_update turn wanted fields into the services' own input models while planning, so a dry run
    already refuses what the write would refuse; create / update then write those models.
    """

    name: str
    read: Callable[[Session, str], list[tuple[str, str, Fields]]]
    wanted: Callable[[Any, Callable[[str, str], str | None]], Fields]
    given: Callable[[Any], set[str]]
    to_create: Callable[[str, Fields], Any]
    to_update: Callable[[str, Fields, Fields], Any]
    create: Callable[[Session, str, Any], object]
    update: Callable[[Session, str, str, Any], object]
    delete: Callable[[Session, str, str], object]
    key: Callable[[Any], str] = lambda item: item.name
    renames: bool = True  # a name written in other case renames the entity (not for keys that are not names)


def norm_continuity(cont: dict[str, Any]) -> Fields:
    """Only the known keys, and only when set, so {} and {"props": []} compare equal."""
    return {k: cont[k] for k in CONTINUITY_KEYS if cont.get(k)}


def _set_given(item: BaseModel, names: tuple[str, ...]) -> set[str]:
    """Merge touches only the fields the answer wrote out; an omitted field keeps its value."""
    return {'reference_asset_id' if n == 'reference_image' else n for n in item.model_fields_set} & set(names)


GUIDE_FIELDS = ('rules', 'do_text', 'dont_text', 'palette')
CHAR_FIELDS = ('bible', 'palette', 'outfits', 'outfit_palettes')
SCENE_FIELDS = ('description', 'chapter', 'continuity', 'reference_asset_id')
SET_FIELDS = ('description', 'items')
TEMPLATE_FIELDS = ('stage', 'text')


def _scene_wanted(item: SceneIn, resolve: Callable[[str, str], str | None]) -> Fields:
    ref = resolve(item.reference_image, 'reference_image') if item.reference_image else None
    return {
        'description': item.description,
        'chapter': item.chapter,
        'continuity': norm_continuity(item.continuity.model_dump()),
        'reference_asset_id': ref,
    }


def _set_wanted(item: ReferenceSetIn, resolve: Callable[[str, str], str | None]) -> Fields:
    items = [
        [resolve(it.image, f'items[{i}].image') if it.image else None, it.label, it.text]
        for i, it in enumerate(item.items)
    ]
    return {'description': item.description, 'items': items}


def _set_items(row: ReferenceSetRead) -> list[list[Any]]:
    return [[i.asset_id, i.label, i.content_text] for i in row.items]


def _item_models(items: list[list[Any]]) -> list[ReferenceSetItemCreate]:
    return [parse(ReferenceSetItemCreate, asset_id=a, label=label, content_text=text) for a, label, text in items]


SetChange = tuple[ReferenceSetUpdate, list[ReferenceSetItemCreate] | None]


def _set_to_update(_: str, patch: Fields, __: Fields) -> SetChange:
    fields = {k: v for k, v in patch.items() if k in ('name', 'description')}
    return parse(ReferenceSetUpdate, fields), _item_models(patch['items']) if 'items' in patch else None


def _set_create(s: Session, pid: str, data: tuple[ReferenceSetCreate, list[ReferenceSetItemCreate]]) -> object:
    created = reference_sets.create_set(s, pid, data[0])
    return reference_sets.replace_items(s, pid, created.id, data[1])


def _set_update(s: Session, pid: str, row_id: str, data: SetChange) -> object:
    fields, items = data
    if fields.model_fields_set:
        reference_sets.update_set(s, pid, row_id, fields)
    if items is not None:
        reference_sets.replace_items(s, pid, row_id, items)
    return None


SECTIONS: dict[str, Section] = {
    'style_guides': Section(
        'style_guides',
        read=lambda s, pid: [
            (g.id, g.name, g.model_dump(include=set(GUIDE_FIELDS))) for g in style_guides.list_style_guides(s, pid)
        ],
        wanted=lambda item, _: item.model_dump(include=set(GUIDE_FIELDS)),
        given=lambda item: _set_given(item, GUIDE_FIELDS),
        to_create=lambda name, f: parse(StyleGuideCreate, f, name=name),
        to_update=lambda _, patch, __: parse(StyleGuideUpdate, patch),
        create=style_guides.create_style_guide,
        update=style_guides.update_style_guide,
        delete=style_guides.delete_style_guide,
    ),
    'characters': Section(
        'characters',
        read=lambda s, pid: [
            (c.id, c.name, c.model_dump(include=set(CHAR_FIELDS))) for c in characters.list_characters(s, pid)
        ],
        wanted=lambda item, _: item.model_dump(include=set(CHAR_FIELDS)),
        given=lambda item: _set_given(item, CHAR_FIELDS),
        to_create=lambda name, f: parse(CharacterCreate, f, name=name),
        to_update=lambda _, patch, __: parse(CharacterUpdate, patch),
        create=characters.create_character,
        update=characters.update_character,
        delete=characters.delete_character,
    ),
    'scenes': Section(
        'scenes',
        read=lambda s, pid: [
            (
                sc.id,
                sc.name,
                {
                    'description': sc.description,
                    'chapter': sc.chapter,
                    'continuity': norm_continuity(sc.continuity),
                    'reference_asset_id': sc.reference_asset_id,
                },
            )
            for sc in scenes.list_scenes(s, pid)
        ],
        wanted=_scene_wanted,
        given=lambda item: _set_given(item, SCENE_FIELDS),
        to_create=lambda name, f: parse(SceneCreate, f, name=name),
        to_update=lambda _, patch, __: parse(SceneUpdate, patch),
        create=scenes.create_scene,
        update=scenes.update_scene,
        delete=scenes.delete_scene,
    ),
    'reference_sets': Section(
        'reference_sets',
        read=lambda s, pid: [
            (r.id, r.name, {'description': r.description, 'items': _set_items(r)})
            for r in reference_sets.list_sets(s, pid)
        ],
        wanted=_set_wanted,
        given=lambda item: _set_given(item, SET_FIELDS),
        to_create=lambda name, f: (
            parse(ReferenceSetCreate, name=name, description=f['description']),
            _item_models(f['items']),
        ),
        to_update=_set_to_update,
        create=_set_create,
        update=_set_update,
        delete=reference_sets.delete_set,
    ),
    'prompt_templates': Section(
        'prompt_templates',
        read=lambda s, pid: [
            (t.name, t.name, {'stage': t.stage.value, 'text': t.text}) for t in prompts.list_templates(s, pid)
        ],
        wanted=lambda item, _: {'stage': item.stage.value, 'text': item.text},
        given=lambda item: {'stage', 'text'},
        to_create=lambda name, f: parse(PromptTemplateCreate, f, name=name),
        to_update=lambda name, patch, old: parse(PromptTemplateCreate, {**old, **patch}, name=name),
        create=prompts.save_template,
        update=lambda s, pid, _, data: prompts.save_template(s, pid, data),
        delete=prompts.delete_template,
        key=lambda item: item.key,
    ),
}


def plan_section(
    session: Session,
    project_id: str,
    section: Section,
    items: list[Any],
    mode: str,
    resolve: Callable[[str, str], str | None],
) -> tuple[SectionReport, list[Callable[[], object]]]:
    """Compare without writing; the returned steps write the changes when called (deletes first)."""
    report = SectionReport(section.name, mode)
    current = {name.lower(): (row_id, name, fields) for row_id, name, fields in section.read(session, project_id)}
    deletes: list[Callable[[], object]] = []
    writes: list[Callable[[], object]] = []
    wanted_keys = set()
    for i, item in enumerate(items):
        name = section.key(item)
        wanted_keys.add(name.lower())
        fields = section.wanted(item, lambda ref, path, i=i: resolve(ref, f'{section.name}[{i}].{path}'))
        if name.lower() not in current:
            report.changes.append(Change(name, 'create'))
            data = section.to_create(name, fields)
            writes.append(lambda data=data: section.create(session, project_id, data))
            continue
        row_id, old_name, old = current[name.lower()]
        compared = set(fields) if mode == 'replace' else section.given(item)
        patch = {k: fields[k] for k in sorted(compared) if fields[k] != old.get(k)}
        if name != old_name and section.renames and section.name != 'prompt_templates':
            patch = {'name': name, **patch}
        if patch:
            report.changes.append(Change(old_name, 'update', tuple(SHOWN.get(k, k) for k in patch)))
            data = section.to_update(row_id, patch, old)
            writes.append(lambda row_id=row_id, data=data: section.update(session, project_id, row_id, data))
        else:
            report.changes.append(Change(old_name, 'unchanged'))
    for key, (row_id, old_name, _) in sorted(current.items()):
        if key in wanted_keys:
            continue
        if mode == 'replace':
            report.changes.append(Change(old_name, 'delete'))
            deletes.append(lambda row_id=row_id: section.delete(session, project_id, row_id))
        else:
            report.changes.append(Change(old_name, 'unchanged'))
    return report, deletes + writes
