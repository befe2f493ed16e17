"""J02 references: unique names ignoring case, ordered reference sets, uploads onto characters, versioned templates."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from models.base import AssetKind, Stage
from models.project import ProjectCreate, ProjectRead
from models.references import (
    Character,
    CharacterCreate,
    CharacterReferenceTags,
    CharacterUpdate,
    PromptTemplateCreate,
    ReferenceSetCreate,
    ReferenceSetItemCreate,
    ReferenceSetUpdate,
    SceneCreate,
    SceneUpdate,
)
from services.errors import Conflict, Invalid, parse
from services.projects import projects
from services.projects.assets import AssetFilter, AssetStore, list_assets
from services.references import characters, reference_sets, scenes
from services.references import prompt_templates as prompts
from services.security import audit
from tests.services.projects.test_assets import huge_png_header, png_bytes

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


@pytest.fixture
def project(sessions, data_dir) -> ProjectRead:
    with sessions() as s:
        return projects.create_project(s, ProjectCreate(slug='refs', name='Refs'), data_dir=data_dir)


def test_hero_and_hero_cannot_both_exist(sessions, project) -> None:
    with sessions() as s:
        characters.create_character(s, project.id, CharacterCreate(name='Hero'))
    with sessions() as s, pytest.raises(Conflict, match='names ignore case'):
        characters.create_character(s, project.id, CharacterCreate(name='hero'))
    with sessions() as s:
        villain = characters.create_character(s, project.id, CharacterCreate(name='Villain'))
    with sessions() as s, pytest.raises(Conflict):
        characters.update_character(s, project.id, villain.id, CharacterUpdate(name='HERO'))
    with pytest.raises(IntegrityError, match='(?i)unique'), sessions() as s:  # the database index, service bypassed
        s.add(Character(project_id=project.id, name='hERO'))
        s.flush()


def test_reference_sets_keep_their_order(sessions, project, data_dir) -> None:
    store = AssetStore(data_dir)
    with sessions() as s:
        a, _ = store.ingest(s, project, png_bytes((1, 2, 3)), name='a.png')
        b, _ = store.ingest(s, project, png_bytes((4, 5, 6)), name='b.png')
        ref = reference_sets.create_set(s, project.id, ReferenceSetCreate(name='Harbour', description='mood'))
        reference_sets.add_item(s, project.id, ref.id, ReferenceSetItemCreate(asset_id=a.id, label='wide'))
        reference_sets.add_item(s, project.id, ref.id, ReferenceSetItemCreate(asset_id=b.id))
        ref = reference_sets.add_item(
            s, project.id, ref.id, ReferenceSetItemCreate(content_text='Fog hides the shore.')
        )
        with pytest.raises(Invalid, match='image or some text'):
            reference_sets.add_item(s, project.id, ref.id, ReferenceSetItemCreate())
    first, second, note = (i.id for i in ref.items)
    with sessions() as s:
        got = reference_sets.move_item(s, project.id, note, -1)
        assert [i.id for i in got.items] == [first, note, second]
        got = reference_sets.move_item(s, project.id, first, -1)  # already first: stays
        assert [i.id for i in got.items] == [first, note, second]
        got = reference_sets.reorder_items(s, project.id, ref.id, [second, first, note])
        assert [i.position for i in got.items] == [0, 1, 2] and got.items[0].original_name == 'b.png'
        with pytest.raises(Invalid, match='every item'):
            reference_sets.reorder_items(s, project.id, ref.id, [second])
        got = reference_sets.remove_item(s, project.id, first)
        assert [i.id for i in got.items] == [second, note]
        other = reference_sets.create_set(s, project.id, ReferenceSetCreate(name='Other'))
        with pytest.raises(Conflict):
            reference_sets.update_set(s, project.id, other.id, ReferenceSetUpdate(name='HARBOUR'))
        reference_sets.update_set(s, project.id, other.id, ReferenceSetUpdate(name='Night', description='dark'))
    with sessions() as s:
        assert [r.name for r in reference_sets.list_sets(s, project.id)] == ['Harbour', 'Night']
        reference_sets.delete_set(s, project.id, other.id)
        assert [r.name for r in reference_sets.list_sets(s, project.id)] == ['Harbour']
        actions = [e['action'] for e in audit.list_events(s, project.id)]
    assert 'reference_set.delete' in actions and 'reference_set.add_item' in actions


def test_upload_straight_onto_a_character(sessions, project, data_dir) -> None:
    store = AssetStore(data_dir)
    files = [
        ('front.png', png_bytes((9, 9, 9))),
        ('notes.png', b'not an image'),
        ('bomb.png', huge_png_header(20000, 20000)),
    ]
    with sessions() as s:
        hero = characters.create_character(s, project.id, CharacterCreate(name='Hero', palette=['#AABBCC']))
        tags = CharacterReferenceTags(angle='three-quarter', outfit='coat')
        results = characters.upload_references(s, store, project, hero.id, files, tags)
    with pytest.raises(Invalid, match='Angle: must be one of'):
        parse(CharacterReferenceTags, angle='top')
    assert [r.status for r in results] == ['accepted', 'refused', 'refused']
    assert 'not a readable' in results[1].reason and 'megapixel' in results[2].reason
    with sessions() as s:
        refs = characters.list_references(s, project.id, hero.id)
        assert [(r.angle, r.outfit) for r in refs] == [('three-quarter', 'coat')]
        page = list_assets(s, project.id, AssetFilter(character_id=hero.id, kind=AssetKind.character))
        assert [a.id for a in page.items] == [refs[0].asset_id]
        assert characters.get_character(s, project.id, hero.id).palette == ['#aabbcc']
        characters.remove_reference(s, project.id, hero.id, refs[0].asset_id)
        assert characters.list_references(s, project.id, hero.id) == []


def test_scene_reference_is_tagged_and_templates_keep_versions(sessions, project, data_dir) -> None:
    store = AssetStore(data_dir)
    with sessions() as s:
        pic, _ = store.ingest(s, project, png_bytes((7, 7, 7)), name='quay.png', kind=AssetKind.scene)
        characters.create_character(s, project.id, CharacterCreate(name='Grace', bible='grey curls'))
        quay = scenes.create_scene(s, project.id, SceneCreate(name='Quay', description='Stone quay.'))
        change = {'reference_asset_id': pic.id, 'continuity': {'time': 'night', 'characters': ['grace']}}
        scenes.update_scene(s, project.id, quay.id, SceneUpdate.model_validate(change))
        prompts.save_template(s, project.id, PromptTemplateCreate(stage=Stage.style, text='Draw {scene}.'))
        again = PromptTemplateCreate(stage=Stage.style, text='Draw {scene} with {characters} at {time}.')
        prompts.save_template(s, project.id, again)
        with pytest.raises(Invalid, match='unknown placeholder'):
            prompts.preview(s, project.id, stage=Stage.style, text='{oops}', scene_id=quay.id)
        text = prompts.preview(
            s, project.id, stage=Stage.style, text='Draw {scene} with {characters} at {time}.', scene_id=quay.id
        )
    assert text == 'Draw Quay: Stone quay with Grace (grey curls) at night.'
    with sessions() as s:
        assert list_assets(s, project.id, AssetFilter(scene_id=quay.id)).items[0].id == pic.id
        versions = prompts.template_versions(s, project.id, 'style default')
        assert [v.version for v in versions] == [2, 1]
        assert prompts.current_template(s, project.id, Stage.style) == versions[0].text


def test_audit_payloads_never_hold_secrets(sessions, project) -> None:
    with sessions() as s:
        audit.record(
            s,
            project_id=project.id,
            actor='cli',
            action='provider.add',
            payload={'name': 'openai', 'api_key': 'sk-123', 'nested': [{'Authorization': 'Bearer x', 'ok': 1}]},
        )
    with sessions() as s:
        (event,) = [e for e in audit.list_events(s, project.id) if e['action'] == 'provider.add']
    assert event['payload'] == {
        'name': 'openai',
        'api_key': '[redacted]',
        'nested': [{'Authorization': '[redacted]', 'ok': 1}],
    }
