"""Every resource's Create/Update model through its service: an over-limit value and an unknown field are refused
with a message naming the field, and the database is exactly as before (compared row by row, every table)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlmodel import Session, SQLModel

from models.db import SessionFactory
from models.layout import ChapterCreate, ChapterUpdate, PageCreate, PageUpdate
from models.project import ProjectCreate, ProjectRead, ProjectUpdate, StorageUpdate
from models.provider import ProviderAccountCreate, ProviderAccountUpdate
from models.references import (
    CharacterCreate,
    CharacterReferenceCreate,
    CharacterUpdate,
    PromptTemplateCreate,
    ReferenceSetCreate,
    ReferenceSetItemCreate,
    ReferenceSetUpdate,
    SceneCreate,
    SceneUpdate,
    StyleGuideCreate,
    StyleGuideUpdate,
)
from services.errors import Invalid, parse
from services.layout import chapters
from services.projects import projects
from services.projects.assets import AssetStore
from services.providers import accounts
from services.references import characters, reference_sets, scenes, style_guides
from services.references import prompt_templates as prompts
from tests.services.projects.test_assets import png_bytes


@dataclass(frozen=True)
class World:
    project: ProjectRead
    data_dir: Path
    asset: str
    character: str
    guide: str
    scene: str
    ref_set: str
    chapter: str
    page: str
    account: str


@pytest.fixture
def world(sessions: SessionFactory, data_dir: Path) -> World:
    with sessions() as s:
        p = projects.create_project(s, ProjectCreate(slug='limits', name='Limits'), data_dir=data_dir)
        asset, _ = AssetStore(data_dir).ingest(s, p, png_bytes((1, 2, 3)), name='a.png')
        chapter = chapters.create_chapter(s, p.id, ChapterCreate())
        return World(
            p,
            data_dir,
            asset.id,
            characters.create_character(s, p.id, CharacterCreate(name='Mara')).id,
            style_guides.create_style_guide(s, p.id, StyleGuideCreate(name='Sepia')).id,
            scenes.create_scene(s, p.id, SceneCreate(name='Quay')).id,
            reference_sets.create_set(s, p.id, ReferenceSetCreate(name='Faces')).id,
            chapter.id,
            chapters.create_page(s, p.id, PageCreate(chapter_id=chapter.id)).id,
            accounts.create_account(s, ProviderAccountCreate(name='Local'), project_id=p.id).id,
        )


Write = Callable[[Session, World, Any], object]
CASES: list[tuple[type[BaseModel], Callable[[World], dict], dict, str, Write]] = [
    (ProjectCreate, lambda w: {'slug': 'second', 'name': 'Second'}, {'name': 'x' * 10_000},
     'Name: at most 200 characters (got 10,000).',
     lambda s, w, m: projects.create_project(s, m, data_dir=w.data_dir)),
    (ProjectUpdate, lambda w: {'name': 'Renamed'}, {'description': 'x' * 5_001},
     'Description: at most 5,000 characters (got 5,001).',
     lambda s, w, m: projects.update_project(s, w.project.slug, m)),
    (StorageUpdate, lambda w: {'s3_region': 'eu-west-1'}, {'s3_region': 'x' * 41},
     'S3 region: at most 40 characters (got 41).',
     lambda s, w, m: projects.update_storage(s, w.project.slug, m, data_dir=w.data_dir)),
    (CharacterCreate, lambda w: {'name': 'Nia'}, {'bible': 'x' * 20_001},
     'Bible: at most 20,000 characters (got 20,001).',
     lambda s, w, m: characters.create_character(s, w.project.id, m)),
    (CharacterUpdate, lambda w: {'bible': 'Tall'}, {'outfits': ['coat'] * 33},
     'Outfits: at most 32 items (got 33).',
     lambda s, w, m: characters.update_character(s, w.project.id, w.character, m)),
    (CharacterReferenceCreate, lambda w: {'asset_id': w.asset}, {'expression': 'x' * 101},
     'Expression: at most 100 characters (got 101).',
     lambda s, w, m: characters.add_reference(s, w.project.id, w.character, m)),
    (StyleGuideCreate, lambda w: {'name': 'Ink'}, {'rules': 'x' * 20_001},
     'Rules: at most 20,000 characters (got 20,001).',
     lambda s, w, m: style_guides.create_style_guide(s, w.project.id, m)),
    (StyleGuideUpdate, lambda w: {'rules': 'Flat'}, {'palette': ['#000000'] * 33},
     'Palette: at most 32 items (got 33).',
     lambda s, w, m: style_guides.update_style_guide(s, w.project.id, w.guide, m)),
    (SceneCreate, lambda w: {'name': 'Pier'}, {'chapter': 100_001},
     'Chapter: must be a whole number from 0 to 100,000 (got 100,001).',
     lambda s, w, m: scenes.create_scene(s, w.project.id, m)),
    (SceneUpdate, lambda w: {'description': 'Wet'}, {'continuity': {'props': ['x' * 201]}},
     'Continuity › Props item 1: at most 200 characters (got 201).',
     lambda s, w, m: scenes.update_scene(s, w.project.id, w.scene, m)),
    (ReferenceSetCreate, lambda w: {'name': 'Moods'}, {'description': 'x' * 5_001},
     'Description: at most 5,000 characters (got 5,001).',
     lambda s, w, m: reference_sets.create_set(s, w.project.id, m)),
    (ReferenceSetUpdate, lambda w: {'name': 'Heads'}, {'name': 'x' * 201},
     'Name: at most 200 characters (got 201).',
     lambda s, w, m: reference_sets.update_set(s, w.project.id, w.ref_set, m)),
    (ReferenceSetItemCreate, lambda w: {'content_text': 'Fog'}, {'label': 'x' * 201},
     'Label: at most 200 characters (got 201).',
     lambda s, w, m: reference_sets.add_item(s, w.project.id, w.ref_set, m)),
    (PromptTemplateCreate, lambda w: {'stage': 'style', 'text': 'Draw {scene}'}, {'text': 'Draw {scene:x>20000000}'},
     'Template text: placeholder {scene:x>20000000} has a format; placeholders are names only, write {scene}.',
     lambda s, w, m: prompts.save_template(s, w.project.id, m)),
    (ChapterCreate, lambda w: {'title': 'Two'}, {'title': 'x' * 201},
     'Title: at most 200 characters (got 201).',
     lambda s, w, m: chapters.create_chapter(s, w.project.id, m)),
    (ChapterUpdate, lambda w: {'writer': 'Ann'}, {'number': 10_000},
     'Chapter number: must be a whole number from 1 to 9,999 (got 10,000).',
     lambda s, w, m: chapters.update_chapter(s, w.project.id, w.chapter, m)),
    (PageCreate, lambda w: {'chapter_id': w.chapter, 'template': 'four'}, {'template': 'x' * 41},
     'Template: at most 40 characters (got 41).',
     lambda s, w, m: chapters.create_page(s, w.project.id, m)),
    (PageUpdate, lambda w: {'template': 'two'}, {'gutter': 'wide'},
     'Gutter (px): must be a whole number.',
     lambda s, w, m: chapters.update_page(s, w.project.id, w.page, m)),
    (ProviderAccountCreate, lambda w: {'name': 'Cloud', 'kind': 'openai'}, {'name': 'x' * 101},
     'Account name: at most 100 characters (got 101).',
     lambda s, w, m: accounts.create_account(s, m, project_id=w.project.id)),
    (ProviderAccountUpdate, lambda w: {'model': 'kroma-local-v2'}, {'base_url': 'http://' + 'x' * 500},
     'Base URL: at most 500 characters (got 507).',
     lambda s, w, m: accounts.update_account(s, w.account, m)),
]  # fmt: skip


def snapshot(sessions: SessionFactory) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, so 'nothing written' is checked rather than assumed."""
    with sessions() as s:
        db = s.connection()
        return {t.name: [dict(r) for r in db.execute(t.select()).mappings()] for t in SQLModel.metadata.sorted_tables}


@pytest.mark.parametrize(('model', 'good', 'over', 'message', 'write'), CASES, ids=[c[0].__name__ for c in CASES])
def test_over_limit_and_unknown_fields_are_refused_and_nothing_is_written(
    sessions: SessionFactory, world: World, model, good, over, message, write
) -> None:
    def attempt(fields: dict[str, Any]) -> None:
        with sessions() as s:
            write(s, world, parse(model, fields))

    before = snapshot(sessions)
    with pytest.raises(Invalid) as err:
        attempt({**good(world), **over})
    assert err.value.user_message == message
    with pytest.raises(Invalid, match=r'^Unknown field "colour"; known fields: ') as err:
        attempt({**good(world), 'colour': 'red'})
    assert err.value.details['field'] == 'colour'
    assert snapshot(sessions) == before
    attempt(good(world))  # the same path with good values writes, so the refusals above are real
    assert snapshot(sessions) != before


def test_balloons_and_crops_are_checked_by_the_page_service(sessions: SessionFactory, world: World) -> None:
    before = snapshot(sessions)
    with sessions() as s, pytest.raises(Invalid, match=r'^Balloon 1 text: at most 1,000 characters \(got 1,001\)\.$'):
        chapters.edit_balloon(s, world.project.id, world.page, 0, None, {'text': 'x' * 1001, 'x': 0.5, 'y': 0.5})
    with sessions() as s, pytest.raises(Invalid, match=r'^Balloon 1: unknown field "colour"'):
        chapters.edit_balloon(s, world.project.id, world.page, 0, None, {'text': 'Hi', 'x': 0, 'y': 0, 'colour': 1})
    with sessions() as s, pytest.raises(Invalid, match=r'^Panel 1 crop zoom: must be a number from 1 to 4 \(got 5\)'):
        chapters.set_crop(s, world.project.id, world.page, 0, {'zoom': 5})
    assert snapshot(sessions) == before
    with sessions() as s:
        page = chapters.edit_balloon(s, world.project.id, world.page, 0, None, {'text': 'Hi', 'x': 0, 'y': 1})
    assert page.panel(0).balloons[0]['text'] == 'Hi'  # type: ignore[union-attr]
