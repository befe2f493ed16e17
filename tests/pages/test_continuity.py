"""Continuity in the studio: record a change on the ledger page, see each scene's state and its sources, diff a
character's bible versions in one click, pin a reference, and see ledger flags and older bibles in review."""

from __future__ import annotations

import asyncio

from nicegui.testing import User
from sqlmodel import select

from models.base import Stage
from models.continuity import ContinuityEventCreate
from models.references import CharacterUpdate, Scene
from pages import register_all
from services.errors import parse
from services.projects import projects
from services.projects.demo import ensure_demo
from services.references import characters, ledger
from services.review import decisions as review
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from tests.pages.test_references import settle

RAINCOAT = 'chapter 1, scene 2 (Café table): Grace outfit = raincoat'


async def open_demo(user: User, deps):
    ensure_demo(deps.sessions, deps.store)
    register_all(deps)
    await user.open('/projects/demo')
    with deps.sessions() as s:
        return projects.get_project(s, 'demo')


async def test_record_a_change_and_the_scene_page_shows_the_state_and_its_source(user: User, deps) -> None:
    demo = await open_demo(user, deps)
    with deps.sessions() as s:
        cafe = ledger.resolve_scene(s, demo.id, '1.2')
    await user.open('/references/continuity')
    await user.should_see(marker='no-events')
    user.find('ledger-scene').elements.pop().value = cafe.id
    user.find('ledger-field').elements.pop().value = 'weather'
    user.find('ledger-value-input').type('rain')
    user.find('ledger-note').type('the storm breaks')
    user.find('add-event').click()
    await user.should_see('Recorded: chapter 1, scene 2 (Café table): weather = rain')
    await user.should_see(marker='ledger-event')
    user.find('ledger-field').elements.pop().value = 'outfit'
    user.find('ledger-value-input').type('raincoat')
    user.find('add-event').click()
    await user.should_see('outfit belongs to a character: say whose.')
    assert len(user.find('ledger-event').elements) == 1
    await user.open('/references/scenes')
    await user.should_see('Ledger · chapter 1, scene 2 (Café table)')
    await user.should_see('weather: rain')
    await user.should_see('← chapter 1, scene 2 (Café table): weather = rain — the storm breaks')
    await user.should_see("← chapter 1, scene 1 (Launch pad): the scene's own time of day")
    await user.should_see("← Grace's bible: first outfit")
    await user.open('/references/continuity')
    user.find('remove-event').click()
    await user.should_see(marker='no-events')
    await settle()


async def test_edit_the_bible_then_diff_versions_in_one_click_and_pin_a_reference(user: User, deps) -> None:
    demo = await open_demo(user, deps)
    with deps.sessions() as s:
        grace = characters.find_character(s, demo.id, 'Grace')
    await user.open(f'/references/characters/{grace.id}')
    await user.should_see('v1')
    user.find('edit-bible').clear().type('Retired captain with a cane.')
    user.find('edit-outfit-colours').type('raincoat: #F2C200')
    user.find('save-character').click()
    await user.should_see('Character saved (bible v2)')
    await user.should_see(marker='version-diff')
    user.find('version-diff').click()
    await user.should_see('v1 → v2')
    await user.should_see('Retired captain with a cane.')
    await user.should_see('raincoat: #f2c200')
    with deps.sessions() as s:
        saved = characters.get_character(s, demo.id, grace.id)
    assert saved.version == 2 and saved.outfit_palettes == {'raincoat': ['#f2c200']}
    user.find('pin-ref').click()  # the first reference (the list is rebuilt after it): always sent, first
    await user.should_see('v3')
    with deps.sessions() as s:
        assert sorted(r.choice for r in characters.list_references(s, demo.id, grace.id)) == ['auto', 'pin']
    await settle()


def drain(deps) -> None:
    asyncio.run(RunExecutor(sessions=deps.sessions, store=deps.store, qa=CandidateQA(deps.store)).drain())


async def test_review_flags_the_outfit_with_its_entry_and_names_an_older_bible(user: User, deps) -> None:
    demo = await open_demo(user, deps)
    with deps.sessions() as s:
        cafe = s.exec(select(Scene).where(Scene.project_id == demo.id, Scene.name == 'Café table')).one().id
        event = parse(ContinuityEventCreate, scene='1.2', character='Grace', field='outfit', value='raincoat')
        ledger.add_event(s, demo.id, event)
        grace = characters.find_character(s, demo.id, 'Grace')
        characters.update_character(s, demo.id, grace.id, CharacterUpdate(outfit_palettes={'raincoat': ['#f2c200']}))
        style = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run', scene_ids=[cafe])).run_id
    await asyncio.to_thread(drain, deps)
    with deps.sessions() as s:
        (job,) = review.run_review(s, demo.id, style)
        review.decide(s, demo.id, job.candidates[0].id, 'approve')
        placed = runs.start(s, demo, RunRequest(stage=Stage.character, candidates=1, mode='run', scene_ids=[cafe]))
    await asyncio.to_thread(drain, deps)
    with deps.sessions() as s:
        characters.update_character(s, demo.id, grace.id, CharacterUpdate(bible='Now with a cane.'))
    await user.open(f'/review/{placed.run_id}')
    await user.should_see(marker='ledger-flag')
    await user.should_see(f'outfit of Grace contradicts the ledger — {RAINCOAT}')
    await user.should_see("made with Grace's bible v2; it is now v3")
    await settle()


async def test_the_plan_shows_which_references_were_chosen_and_why(user: User, deps) -> None:
    demo = await open_demo(user, deps)
    with deps.sessions() as s:
        cafe = s.exec(select(Scene).where(Scene.project_id == demo.id, Scene.name == 'Café table')).one().id
        style = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run', scene_ids=[cafe])).run_id
    await asyncio.to_thread(drain, deps)
    with deps.sessions() as s:
        (job,) = review.run_review(s, demo.id, style)
        review.decide(s, demo.id, job.candidates[0].id, 'approve')
    await user.open('/runs')
    user.find('run-stage').elements.pop().value = 'character'
    user.find('show-plan').click()
    await user.should_see('References: 2 of 2 chosen')
    await user.should_see('Grace: front, head, current outfit "uniform" (medium wants front and three-quarter views)')
    assert len(user.find('plan-pick').elements) == 2
    await settle()
