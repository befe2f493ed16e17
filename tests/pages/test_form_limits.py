"""Every create/edit form fed its limit + 1: a notification naming the field and its limit, nothing written, no
ERROR in the log (never "Something went wrong")."""

from __future__ import annotations

import logging

import pytest
from nicegui.testing import User
from sqlmodel import SQLModel

from models.project import ProjectCreate
from pages import register_all
from services.projects import projects
from services.projects.demo import ensure_demo

LONG = 'x' * 201
# (page, buttons that open the form, {field marker: value}, submit marker, the message the artist reads)
FORMS = [
    ('/', ['new-project'], {'project-name': LONG, 'project-slug': 'fine'}, 'create-project',
     'Name: at most 200 characters (got 201).'),
    ('/settings', [], {'settings-name': LONG}, 'settings-save', 'Name: at most 200 characters (got 201).'),
    ('/settings', [], {'settings-batch': 501}, 'settings-save',
     'Batch limit (jobs per run): must be a whole number from 1 to 500 (got 501).'),
    ('/settings', [], {'settings-budget': 2_000_000}, 'settings-save',
     'Budget (USD): must be a number from 0 to 1,000,000 (got 2,000,000).'),
    ('/references/characters', ['new-character'], {'character-name': LONG}, 'create-character',
     'Name: at most 200 characters (got 201).'),
    ('/references/style-guides', [], {'new-guide-name': LONG}, 'create-guide', 'Name: at most 200 characters (got 201).'),
    ('/references/scenes', ['new-scene'], {'scene-name': LONG}, 'save-scene', 'Name: at most 200 characters (got 201).'),
    ('/references/scenes', ['new-scene'], {'scene-name': 'Pier', 'scene-chapter': 100_001}, 'save-scene',
     'Chapter: must be a whole number from 0 to 100,000 (got 100,001).'),
    ('/references/sets', [], {'new-set-name': LONG}, 'create-set', 'Name: at most 200 characters (got 201).'),
    ('/references/prompts', [], {'template-name': LONG}, 'save-template', 'Name: at most 200 characters (got 201).'),
    ('/pages', [], {'chapter-title': LONG}, 'chapter-create', 'Title: at most 200 characters (got 201).'),
    ('/runs', [], {'run-candidates': 0}, 'start-run', 'Candidates per scene must be 1–8.'),
    ('/runs', [], {'run-candidates': 1000}, 'show-plan', 'Candidates per scene must be 1–8.'),
]  # fmt: skip


def snapshot(deps) -> dict:  # noqa: ANN001
    with deps.sessions() as s:
        db = s.connection()
        skip = {'auditevent'}
        tables = [t for t in SQLModel.metadata.sorted_tables if t.name not in skip]
        return {t.name: [dict(r) for r in db.execute(t.select()).mappings()] for t in tables}


@pytest.mark.parametrize(('route', 'openers', 'fields', 'submit', 'message'), FORMS)
async def test_a_form_over_its_limit_names_the_field(
    user: User, deps, caplog, route, openers, fields, submit, message
) -> None:
    ensure_demo(deps.sessions, deps.store)
    with deps.sessions() as s:
        projects.create_project(s, ProjectCreate(slug='lim', name='Limits'), data_dir=deps.data_dir)
    register_all(deps)
    await user.open('/projects/demo')
    await user.open(route)
    before = snapshot(deps)
    for opener in openers:
        user.find(opener).click()
    for marker, value in fields.items():
        user.find(marker).elements.pop().value = value
    caplog.set_level(logging.WARNING)
    user.find(submit).click()
    await user.should_see(message)
    assert snapshot(deps) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert 'Something went wrong' not in caplog.text


async def test_the_slug_follows_the_name_until_edited(user: User, deps) -> None:
    register_all(deps)
    await user.open('/')
    user.find('new-project').click()
    user.find('project-name').type('Harbour Tales: Vol. 2!')
    slug = user.find('project-slug').elements.pop()
    assert slug.value == 'harbour-tales-vol-2'
    slug.value = 'harbour'
    user.find('project-name').type(' extra')
    assert slug.value == 'harbour'  # the artist's own slug is kept
    user.find('create-project').click()
    await user.should_see('Project harbour created')
