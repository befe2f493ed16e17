"""Review in the UI: candidates beside their inputs with badges; the best is pre-selected; approve with a key."""

from __future__ import annotations

import asyncio

from nicegui import ui
from nicegui.events import GenericEventArguments
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction
from sqlmodel import select

from models.assets import Asset
from models.base import ReviewState, Stage
from pages import register_all
from services.projects import projects
from services.projects.demo import ensure_demo
from services.qa.thresholds import QAThresholds
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest


async def test_keyboard_approve_picks_the_preselected_best(user: User, deps) -> None:
    ensure_demo(deps.sessions, deps.store)
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=2, mode='run')).run_id
    await asyncio.to_thread(
        lambda: asyncio.run(RunExecutor(sessions=deps.sessions, store=deps.store, qa=CandidateQA(deps.store)).drain())
    )
    register_all(deps)
    await user.open(f'/review/{run_id}')
    await user.should_see('Launch pad')
    assert len(user.find('candidate-card').elements) == 6
    assert len(user.find('candidate-verdict').elements) == 6
    press(user, 'a')
    await user.should_see('candidate #1 approved')
    with deps.sessions() as s:
        approved = s.exec(select(Asset).where(Asset.status == ReviewState.approved)).all()
    assert len(approved) == 1 and approved[0].immutable
    await user.should_see('APPROVED')
    assert len(user.find('candidate-approved').elements) == 1
    press(user, 'ArrowDown')
    press(user, 'r')
    await user.should_see('candidate #1 rejected')
    await user.should_see(marker='candidate-rejected')
    press(user, 'ArrowRight')
    press(user, 's')
    await user.should_see(marker='candidate-shortlisted')
    assert {len(user.find(f'candidate-{k}').elements) for k in ('approved', 'rejected', 'shortlisted')} == {1}
    assert 'REJECTED' in {e.text for e in user.find('candidate-state').elements}


def press(user: User, key: str) -> None:
    keyboard = next(iter(user.find('review-keys').elements))
    args = {'action': 'keydown', 'key': key, 'code': key, 'location': 0, 'repeat': False}
    args |= {'altKey': False, 'ctrlKey': False, 'metaKey': False, 'shiftKey': False}
    keyboard._handle_key(GenericEventArguments(sender=keyboard, client=keyboard.client, args=args))


async def test_open_full_size_with_zoom_compare_two_and_read_each_score(user: User, deps) -> None:
    ensure_demo(deps.sessions, deps.store)
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
        req = RunRequest(stage=Stage.style, candidates=2, mode='run', scene_ids=None)
        run_id = runs.start(s, demo, req).run_id
    await asyncio.to_thread(
        lambda: asyncio.run(RunExecutor(sessions=deps.sessions, store=deps.store, qa=CandidateQA(deps.store)).drain())
    )
    register_all(deps)
    await user.open(f'/review/{run_id}')
    await user.should_see('Launch pad')
    tips = [t.text for t in user.find(ui.tooltip).elements]
    style_tip = next(t for t in tips if t.startswith("Similarity to the project's style"))
    assert '0–1, higher is closer to the style' in style_tip
    assert f'Threshold: {QAThresholds().style_pass:g}' in style_tip
    assert style_tip.split('. ')[-1].split(':')[0] in ('Pass', 'Warn', 'Fail')
    await user.should_see('What the scores mean')
    opener = sorted(user.find('candidate-open').elements, key=lambda e: e.id)[0]
    UserInteraction(user, {opener}, None).click()
    await user.should_see(marker='lightbox-image')
    image = user.find('lightbox-image').elements.pop()
    assert image.source.startswith('/media/demo/')
    user.find('lightbox-zoom-in').click()
    assert user.find('lightbox-zoom-level').elements.pop().text == '×1.5'
    assert 'width:150%' in ''.join(f'{k}:{v}' for k, v in image.style.items())
    user.find('lightbox-zoom-fit').click()
    assert user.find('lightbox-zoom-level').elements.pop().text == 'fit'
    compare = sorted(user.find('candidate-compare').elements, key=lambda e: e.id)
    UserInteraction(user, {compare[0]}, None).click()
    compare = sorted(user.find('candidate-compare').elements, key=lambda e: e.id)
    UserInteraction(user, {compare[1]}, None).click()
    await user.should_see('Two candidates side by side')
    pair = user.find('compare-pair').elements.pop()
    assert len([e for e in pair.descendants() if isinstance(e, ui.image)]) == 2
