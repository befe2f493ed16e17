"""Copilot chat on the demo project: sessions, a reply in the same call, cost on the card, never a guessed action."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from models.base import ProviderKind
from models.ops import ChatMessage, Instruction
from models.provider import ProviderAccountCreate
from services.copilot import chat as copilot
from services.copilot import instructions
from services.copilot.handlers import handler_table
from services.deps import Deps
from services.errors import Invalid, NotFound
from services.layout import chapters
from services.providers import accounts as provider_accounts
from services.references import scenes as scenes_svc
from services.review import best
from tests.fakes.chat_server import FakeChatServer
from tests.services.review.test_best import run_stage


@pytest.fixture
def data_dir(demo_data_dir: Path) -> Path:
    """Every test here starts from a fresh copy of the demo universe."""
    return demo_data_dir


@pytest.fixture
def chat_id(sessions, demo) -> str:
    with sessions() as s:
        return copilot.create_session(s, demo.id).id


def post(sessions, demo, chat_id: str, text: str) -> copilot.Posted:
    with sessions() as s:
        return copilot.post_message(s, demo, chat_id, text)


def test_sessions_are_created_renamed_listed_and_keep_history(sessions, demo) -> None:
    with sessions() as s:
        first = copilot.create_session(s, demo.id, title='Chapter 1 runs')
        second = copilot.create_session(s, demo.id)
        copilot.rename_session(s, demo.id, second.id, '  Night   pass ')
    with sessions() as s:
        copilot.add_message(s, demo.id, first.id, 'system', 'Project context loaded.')
        listed = copilot.list_sessions(s, demo.id)
    assert [c.title for c in listed] == ['Chapter 1 runs', 'Night pass']  # the active one first
    assert listed[0].updated_at > first.updated_at
    with sessions() as s:
        assert [m.role for m in copilot.history(s, demo.id, first.id)] == ['system']
        with pytest.raises(Invalid):
            copilot.add_message(s, demo.id, first.id, 'robot', 'hi')
        with pytest.raises(Invalid):
            copilot.rename_session(s, demo.id, first.id, '   ')
        with pytest.raises(NotFound):
            copilot.history(s, 'another-project', first.id)


def test_a_run_request_gets_a_card_with_candidates_and_cost(sessions, demo, chat_id) -> None:
    posted = post(sessions, demo, chat_id, 'style lock scenes 1 to 3 with 2 candidates')
    card = posted.instruction
    assert card is not None and card.type == 'pipeline_run' and card.state == 'pending_confirmation'
    assert card.estimate['candidates'] == 6 and card.estimate['jobs'] == 3
    assert card.cost_estimate_usd == 0.0 and card.estimate['offline'] is True
    assert card.inputs['scenes'] == ['Launch pad', 'Café table', 'Night street']
    assert 'free (offline renderer)' in posted.reply.content and 'Confirm' in posted.reply.content
    assert posted.reply.instruction_id == card.id
    with sessions() as s:
        assert [m.role for m in copilot.history(s, demo.id, chat_id)] == ['user', 'assistant']
        assert copilot.list_sessions(s, demo.id)[0].title == 'style lock scenes 1 to 3 with 2 candidates'


def test_gibberish_gets_suggestions_and_no_instruction(sessions, demo, chat_id) -> None:
    posted = post(sessions, demo, chat_id, 'florp the wibble, quickly')
    assert posted.instruction is None
    assert 'did not understand' in posted.reply.content and 'style lock scenes 1 to 3' in posted.reply.content
    with sessions() as s:
        assert s.exec(select(Instruction)).all() == []
        assert len(s.exec(select(ChatMessage)).all()) == 2


def test_a_blocked_stage_is_explained_not_proposed(sessions, demo, chat_id) -> None:
    posted = post(sessions, demo, chat_id, 'night on scene 1')
    assert posted.instruction is None
    assert 'approve a style candidate first' in posted.reply.content


def test_a_configured_chat_account_is_used_and_its_failure_falls_back(sessions, demo, chat_id) -> None:
    with FakeChatServer(valid_keys=()) as fake:
        with sessions() as s:
            provider_accounts.create_account(
                s,
                ProviderAccountCreate(
                    name='Local LLM',
                    kind=ProviderKind.chat,
                    base_url=fake.base_url,
                    model='fake-chat',
                    options={'retry_base_s': 0.01},
                ),
            )
        fake.answer({'type': 'pipeline_run', 'stage': 'style', 'scenes': ['Café table'], 'candidates': 1})
        by_llm = post(sessions, demo, chat_id, 'give the café a style pass, just one')
        fake.fail_next(503, times=3)
        fallback = post(sessions, demo, chat_id, 'back up')
    assert by_llm.instruction.payload['source'] == 'llm' and by_llm.instruction.estimate['candidates'] == 1
    assert fallback.instruction.type == 'backup' and fallback.instruction.payload['source'] == 'grammar'
    assert 'offline interpreter' in fallback.reply.content


def test_more_candidates_for_a_scene_follow_its_current_stage(sessions, store, demo, chat_id) -> None:
    import asyncio

    from models.base import Stage
    from services.review import decisions as review
    from services.runs import control as runs
    from services.runs.candidate_qa import CandidateQA
    from services.runs.executor import RunExecutor
    from services.runs.plan import RunRequest

    card = post(sessions, demo, chat_id, 'make 3 more candidates for scene 1').instruction
    assert card is not None and card.payload['inputs']['stage'] == 'style'  # nothing generated yet: style
    with sessions() as s:
        first = copilot.vocabulary(s, demo).scenes[0]
        run_id = runs.start(s, demo, RunRequest(Stage.style, scene_ids=[first.id], candidates=1, mode='run')).run_id
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=run_id))
    with sessions() as s:
        (job,) = review.run_review(s, demo.id, run_id)
        review.decide(s, demo.id, job.candidates[0].id, 'approve')
        run_id = runs.start(s, demo, RunRequest(Stage.time, scene_ids=[first.id], candidates=1, mode='run')).run_id
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=run_id))
    card = post(sessions, demo, chat_id, 'make 3 more candidates for scene 1').instruction
    assert card is not None and card.payload['inputs']['stage'] == 'time' and card.payload['inputs']['time'] is None
    assert card.payload['constraints']['candidates'] == 3


def test_lay_out_chapter_1_is_proposed_confirmed_and_done(sessions, store, demo, chat_id) -> None:
    with sessions() as s:
        scene_ids = [sc.id for sc in scenes_svc.list_scenes(s, demo.id)]
    run_stage(sessions, store, demo, scene_ids, candidates=1)
    with sessions() as s:
        approved = best.approve_best(s, demo.id, 'style').approved
    card = post(sessions, demo, chat_id, 'lay out chapter 1').instruction
    assert card is not None and (card.type, card.inputs['chapter']) == ('layout', 1)
    with sessions() as s:
        instructions.confirm(s, demo.id, card.id)
    deps = Deps(data_dir=store.data_dir, sessions=sessions, store=store)
    assert instructions.work_once(sessions, handler_table(deps)) == card.id
    with sessions() as s:
        done = instructions.get_instruction(s, demo.id, card.id)
        (chapter,) = chapters.list_chapters(s, demo.id)
        placed = [p.asset_id for page in chapters.list_pages(s, demo.id, chapter.id) for p in page.panels]
    assert done.state == 'done' and done.result['panels'] == len(approved)
    assert placed == [p.asset_id for p in approved]
