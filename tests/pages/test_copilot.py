"""The copilot in the UI: ask in words, see the card with its cost, confirm, watch the state change."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nicegui.testing import User
from sqlmodel import select

from models.ops import Instruction
from models.runs import Run
from pages import copilot, dashboard, instructions
from services.copilot import instructions as instructions_svc
from services.copilot.handlers import handler_table


@pytest.fixture
def data_dir(demo_data_dir: Path) -> Path:
    """Every test here starts from a fresh copy of the demo universe."""
    return demo_data_dir


async def open_copilot(user: User, deps) -> None:
    dashboard.register(deps)
    copilot.register(deps)
    instructions.register(deps)
    await user.open('/projects/demo')
    await user.open('/copilot')


async def test_post_see_the_card_confirm_and_watch_it_run(user: User, deps) -> None:
    await open_copilot(user, deps)
    user.find('chat-input').type('style lock scenes 1 to 3 with 2 candidates')
    user.find('chat-send').click()
    await user.should_see(marker='instruction-card', retries=20)
    await user.should_see('6 candidates in 3 job(s) · free (offline renderer)')
    await user.should_see('pending confirmation')
    user.find('instruction-confirm').click()
    await user.should_see('queued')
    await asyncio.to_thread(instructions_svc.work_once, deps.sessions, handler_table(deps))
    await user.should_see('done', retries=30)
    await user.should_see(marker='instruction-run-link')
    with deps.sessions() as s:
        assert len(s.exec(select(Run)).all()) == 1
    await user.open('/instructions')
    await user.should_see('Style lock on scenes 1–3 (Launch pad, Café table, Night street) with 2 candidates each')
    await user.should_see('Timeline (5)')


async def test_gibberish_and_cancel(user: User, deps) -> None:
    await open_copilot(user, deps)
    user.find('chat-input').type('florp the wibble')
    user.find('chat-send').click()
    await user.should_see('I did not understand that', retries=20)
    user.find('chat-input').type('back up')
    user.find('chat-send').click()
    await user.should_see(marker='instruction-card', retries=20)
    user.find('instruction-cancel').click()
    await user.should_see('canceled')
    with deps.sessions() as s:
        assert [i.state.value for i in s.exec(select(Instruction)).all()] == ['canceled']
    user.find('chat-title').type(' (tried)')
    user.find('rename-chat').click()
    await user.should_see('florp the wibble (tried)')
