"""Isolation: no service hands project A another project's rows, for every reference entity, asset and link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import Session, func, select

from models.assets import Asset, AssetLink
from models.base import AssetKind, LinkRelation, Stage
from models.project import ProjectCreate, ProjectRead
from models.references import (
    Character,
    CharacterCreate,
    CharacterReference,
    CharacterReferenceCreate,
    CharacterUpdate,
    PromptTemplate,
    PromptTemplateCreate,
    ReferenceSet,
    ReferenceSetCreate,
    ReferenceSetItem,
    ReferenceSetItemCreate,
    ReferenceSetUpdate,
    Scene,
    SceneCreate,
    SceneUpdate,
    StyleGuide,
    StyleGuideCreate,
    StyleGuideUpdate,
)
from services import crud
from services.bootstrap import importer as bootstrap
from services.errors import Invalid, NotFound
from services.projects import assets, projects
from services.projects.assets import AssetFilter, AssetStore
from services.references import characters, reference_sets, scenes, style_guides
from services.references import prompt_templates as prompts
from tests.services.projects.test_assets import png_bytes


@dataclass
class World:
    """One project's rows: ids of every kind of entity."""

    project: ProjectRead
    character: str
    guide: str
    scene: str
    ref_set: str
    item: str
    asset: str
    child: str
    template: str


def build(s: Session, store: AssetStore, data_dir, slug: str, colour: int) -> World:
    p = projects.create_project(s, ProjectCreate(slug=slug, name=slug), data_dir=data_dir)
    asset, _ = store.ingest(s, p, png_bytes((colour, 0, 0)), name=f'{slug}.png', kind=AssetKind.style)
    child, _ = store.ingest(s, p, png_bytes((colour, 1, 1)), name=f'{slug}-child.png', kind=AssetKind.derived)
    assets.link_assets(s, p.id, asset.id, child.id, LinkRelation.derived_from)
    char = characters.create_character(s, p.id, CharacterCreate(name=f'{slug} hero'))
    characters.add_reference(s, p.id, char.id, CharacterReferenceCreate(asset_id=asset.id, angle='side'))
    guide = style_guides.create_style_guide(s, p.id, StyleGuideCreate(name=f'{slug} ink'))
    scene = scenes.create_scene(s, p.id, SceneCreate(name=f'{slug} quay', reference_asset_id=asset.id))
    ref = reference_sets.create_set(s, p.id, ReferenceSetCreate(name=f'{slug} mood'))
    ref = reference_sets.add_item(s, p.id, ref.id, ReferenceSetItemCreate(asset_id=asset.id))
    prompts.save_template(s, p.id, PromptTemplateCreate(stage=Stage.style, text='{scene}', name=f'{slug} template'))
    return World(p, char.id, guide.id, scene.id, ref.id, ref.items[0].id, asset.id, child.id, f'{slug} template')


@pytest.fixture
def worlds(sessions, data_dir) -> tuple[World, World]:
    store = AssetStore(data_dir)
    with sessions() as s:
        return build(s, store, data_dir, 'alpha', 10), build(s, store, data_dir, 'beta', 200)


def refusals(a: World, b: World, store: AssetStore) -> dict[str, Callable[[Session], Any]]:
    """Every call made in project A's name with one of project B's ids."""
    pid = a.project.id
    return {
        'get character': lambda s: characters.get_character(s, pid, b.character),
        'update character': lambda s: characters.update_character(s, pid, b.character, CharacterUpdate(bible='x')),
        'delete character': lambda s: characters.delete_character(s, pid, b.character),
        'find character': lambda s: characters.find_character(s, pid, 'beta hero'),
        'character refs': lambda s: characters.references(s, pid, b.character),
        'list character refs': lambda s: characters.list_references(s, pid, b.character),
        'ref onto other character': lambda s: characters.add_reference(
            s, pid, b.character, CharacterReferenceCreate(asset_id=a.asset)
        ),
        'other asset as ref': lambda s: characters.add_reference(
            s, pid, a.character, CharacterReferenceCreate(asset_id=b.asset)
        ),
        'remove ref': lambda s: characters.remove_reference(s, pid, b.character, b.asset),
        'upload onto other character': lambda s: characters.upload_references(s, store, a.project, b.character, []),
        'get style guide': lambda s: style_guides.get_style_guide(s, pid, b.guide),
        'update style guide': lambda s: style_guides.update_style_guide(s, pid, b.guide, StyleGuideUpdate(rules='x')),
        'delete style guide': lambda s: style_guides.delete_style_guide(s, pid, b.guide),
        'get scene': lambda s: scenes.get_scene(s, pid, b.scene),
        'update scene': lambda s: scenes.update_scene(s, pid, b.scene, SceneUpdate(description='x')),
        'delete scene': lambda s: scenes.delete_scene(s, pid, b.scene),
        'scene with other asset': lambda s: scenes.update_scene(
            s, pid, a.scene, SceneUpdate(reference_asset_id=b.asset)
        ),
        'new scene with other asset': lambda s: scenes.create_scene(
            s, pid, SceneCreate(name='n', reference_asset_id=b.asset)
        ),
        'get set': lambda s: reference_sets.get_set(s, pid, b.ref_set),
        'rename set': lambda s: reference_sets.update_set(s, pid, b.ref_set, ReferenceSetUpdate(name='x')),
        'delete set': lambda s: reference_sets.delete_set(s, pid, b.ref_set),
        'add to other set': lambda s: reference_sets.add_item(
            s, pid, b.ref_set, ReferenceSetItemCreate(content_text='x')
        ),
        'add other asset': lambda s: reference_sets.add_item(
            s, pid, a.ref_set, ReferenceSetItemCreate(asset_id=b.asset)
        ),
        'remove other item': lambda s: reference_sets.remove_item(s, pid, b.item),
        'move other item': lambda s: reference_sets.move_item(s, pid, b.item, 1),
        'reorder other set': lambda s: reference_sets.reorder_items(s, pid, b.ref_set, [b.item]),
        'preview other scene': lambda s: prompts.preview(s, pid, stage=Stage.style, text='{scene}', scene_id=b.scene),
        'get asset': lambda s: assets.get_asset(s, pid, b.asset),
        'link other asset': lambda s: assets.link_assets(s, pid, a.asset, b.asset, LinkRelation.reference_of),
        'lineage': lambda s: assets.lineage(s, pid, b.asset),
        **{
            f'get_owned {model.__name__}': (lambda s, m=model, i=row_id: crud.get_owned(s, m, pid, i))
            for model, row_id in [
                (Character, b.character),
                (StyleGuide, b.guide),
                (Scene, b.scene),
                (ReferenceSet, b.ref_set),
                (ReferenceSetItem, b.item),
                (Asset, b.asset),
            ]
        },
    }


def test_every_get_and_mutation_refuses_the_other_projects_rows(sessions, data_dir, worlds) -> None:
    a, b = worlds
    for label, call in refusals(a, b, AssetStore(data_dir)).items():
        with pytest.raises(NotFound), sessions() as s:
            call(s)
            pytest.fail(f'{label} reached project beta')
    with sessions() as s:  # and nothing of beta changed
        assert characters.get_character(s, b.project.id, b.character).bible == ''
        assert len(reference_sets.get_set(s, b.project.id, b.ref_set).items) == 1


def test_every_list_omits_the_other_projects_rows(sessions, worlds) -> None:
    a, b = worlds
    pid = a.project.id
    with sessions() as s:
        assert [c.name for c in characters.list_characters(s, pid)] == ['alpha hero']
        assert characters.list_characters(s, pid)[0].reference_asset_ids == [a.asset]
        (guide,) = style_guides.list_style_guides(s, pid)
        assert guide.style_asset_ids == [a.asset]
        assert [sc.name for sc in scenes.list_scenes(s, pid)] == ['alpha quay']
        (ref,) = reference_sets.list_sets(s, pid)
        assert [i.asset_id for i in ref.items] == [a.asset]
        assert [t.name for t in prompts.list_templates(s, pid, all_versions=True)] == ['alpha template']
        assert prompts.template_versions(s, pid, b.template) == []
        assert prompts.delete_template(s, pid, b.template) == 0
        page = assets.list_assets(s, pid, page_size=500)
        assert {x.id for x in page.items} == {a.asset, a.child} and page.total == 2
        assert assets.list_assets(s, pid, AssetFilter(ids=[b.asset, b.child])).total == 0
        assert assets.list_assets(s, pid, AssetFilter(scene_id=b.scene)).total == 0
        assert assets.list_assets(s, pid, AssetFilter(character_id=b.character)).total == 0
        family = assets.lineage(s, pid, a.asset)
        assert [x['asset_id'] for x in family['children']] == [a.child] and family['parents'] == []
        settings = bootstrap.current_settings(s, a.project)
        assert 'beta' not in str(settings)
        assert 'beta' not in bootstrap.build_prompt(s, a.project)
        with pytest.raises(Invalid, match='no image'):
            bootstrap.import_answer(s, a.project, {'reference_sets': [{'name': 'x', 'items': [{'image': 'beta.png'}]}]})
    with sessions() as s:  # beta's rows are all still there
        for model in (CharacterReference, AssetLink, PromptTemplate, ReferenceSetItem):
            assert s.exec(select(func.count()).select_from(model).where(model.project_id == b.project.id)).one() == 1
