"""Review in the UI: candidates beside their inputs with badges; the best is pre-selected; approve with a key."""

from __future__ import annotations

import asyncio

from nicegui import ui
from nicegui.events import GenericEventArguments
from nicegui.testing import User
from sqlmodel import select

from models.assets import Asset
from models.base import ReviewState, Stage
from pages import register_all
from services.projects import projects
from services.projects.demo import ensure_demo
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
    keyboard = user.find(ui.keyboard).elements.pop()
    args = {'action': 'keydown', 'key': 'a', 'code': 'KeyA', 'location': 0, 'repeat': False}
    args |= {'altKey': False, 'ctrlKey': False, 'metaKey': False, 'shiftKey': False}
    keyboard._handle_key(GenericEventArguments(sender=keyboard, client=keyboard.client, args=args))
    await user.should_see('candidate #')
    with deps.sessions() as s:
        approved = s.exec(select(Asset).where(Asset.status == ReviewState.approved)).all()
    assert len(approved) == 1 and approved[0].immutable
