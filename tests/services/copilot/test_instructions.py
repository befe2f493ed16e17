"""The instruction queue: confirm → a real run, cancel → nothing, dead workers recovered, every transition an event."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from models.base import InstructionState, WorkState, utcnow
from models.ops import Instruction
from models.project import ProjectUpdate
from models.runs import Run
from services.copilot import chat as copilot
from services.copilot import instructions
from services.copilot.handlers import handler_table
from services.deps import Deps, StudioOptions
from services.errors import Conflict
from services.projects import projects
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.holders import boot_id
from services.security.master_keys import KeyRing, MasterKey, generate_key
from services.security.secrets import SecretStore
from tests.fakes.agent_server import FakeAgentServer

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


DEAD = f'{socket.gethostname()}:999999:x:{boot_id()}'


@pytest.fixture
def data_dir(demo_data_dir: Path) -> Path:
    """Every test here starts from a fresh copy of the demo universe."""
    return demo_data_dir


def ask(sessions, project, text: str) -> instructions.InstructionView:
    with sessions() as s:
        chat = copilot.create_session(s, project.id)
        card = copilot.post_message(s, project, chat.id, text).instruction
    assert card is not None
    return card


def studio_table(sessions, store) -> dict:  # noqa: ANN001
    """The handler table the studio's worker uses, over this test's database and files."""
    return handler_table(Deps(store.data_dir, sessions, store))


def agent_deps(sessions, store, agent_url: str, secrets=None) -> Deps:  # noqa: ANN001
    return Deps(store.data_dir, sessions, store, secrets=secrets, options=StudioOptions(agent_url=agent_url))


def confirm(sessions, project, card) -> None:
    with sessions() as s:
        instructions.confirm(s, project.id, card.id)


def state(sessions, project, card) -> tuple[instructions.InstructionView, list[str]]:
    with sessions() as s:
        now = instructions.get_instruction(s, project.id, card.id)
        return now, [e.event for e in instructions.list_events(s, project.id, card.id)]


def test_confirm_runs_the_instruction_through_the_run_engine(sessions, store, demo) -> None:
    card = ask(sessions, demo, 'style lock scenes 1 to 3 with 2 candidates')
    confirm(sessions, demo, card)
    assert instructions.work_once(sessions, studio_table(sessions, store)) == card.id
    done, events = state(sessions, demo, card)
    assert done.state == 'done' and events == ['created', 'proposed', 'confirmed', 'started', 'result']
    run_id = done.result['run_id']
    with sessions() as s:
        assert s.get(Run, run_id).status == WorkState.queued
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=run_id))
    with sessions() as s:
        run = s.get(Run, run_id)
        assert run.status == WorkState.done and run.settings_snapshot['request']['candidates'] == 2
    check = ask(sessions, demo, 'check the style candidates')
    confirm(sessions, demo, check)
    instructions.work_once(sessions, studio_table(sessions, store))
    qa, _ = state(sessions, demo, check)
    assert qa.state == 'done' and qa.result['run_id'] == run_id and qa.result['checked'] == 6
    assert sum(qa.result['verdicts'].values()) == 6


def test_cancel_means_nothing_runs(sessions, store, demo) -> None:
    card = ask(sessions, demo, 'style lock scene 2')
    with sessions() as s:
        instructions.cancel(s, demo.id, card.id)
    assert instructions.work_once(sessions, studio_table(sessions, store)) is None
    canceled, events = state(sessions, demo, card)
    assert canceled.state == 'canceled' and events[-1] == 'canceled'
    with sessions() as s:
        assert s.exec(select(Run)).all() == []
        with pytest.raises(Conflict):
            instructions.confirm(s, demo.id, card.id)


def test_an_unconfirmed_card_is_never_claimed(sessions, demo) -> None:
    ask(sessions, demo, 'back up')
    with sessions() as s:
        assert instructions.claim_next(s, 'w1') is None


def test_the_spend_guard_refusal_fails_the_instruction_with_its_reason(sessions, store, demo) -> None:
    card = ask(sessions, demo, 'style lock all scenes')
    with sessions() as s:
        projects.update_project(s, 'demo', ProjectUpdate(batch_limit=2))
    confirm(sessions, demo, card)
    instructions.work_once(sessions, studio_table(sessions, store))
    failed, events = state(sessions, demo, card)
    assert failed.state == 'failed' and 'over the batch limit of 2' in failed.last_error
    assert events[-1] == 'error'
    with sessions() as s:
        assert s.exec(select(Run)).all() == []


def test_a_dead_worker_is_retried_then_failed_with_the_reason(sessions, demo) -> None:
    card = ask(sessions, demo, 'back up')
    confirm(sessions, demo, card)
    with sessions() as s:
        assert instructions.claim_next(s, DEAD).locked_by == DEAD
        assert instructions.claim_next(s, 'someone-else') is None  # the lock holds
    with sessions() as s:
        assert instructions.recover_stale(s) == [card.id]
    retried, events = state(sessions, demo, card)
    assert retried.state == 'queued' and events[-1] == 'retry_scheduled'
    assert 'process 999999 is not running' in retried.last_error
    with sessions() as s:
        row = s.get(Instruction, card.id)
        row.attempts = row.max_attempts - 1
        s.add(row)
    with sessions() as s:
        instructions.claim_next(s, f'{socket.gethostname()}:{os.getpid()}:live:{boot_id()}')
    with sessions() as s:  # a live worker on this host keeps its lock, however long it takes
        assert instructions.recover_stale(s, now=utcnow() + timedelta(hours=1)) == []
        row = s.get(Instruction, card.id)
        row.locked_by = 'render-box-2:4242:w'
        s.add(row)
    with sessions() as s:  # another host's lock is only trusted until the timeout
        assert instructions.recover_stale(s) == []
        assert instructions.recover_stale(s, now=utcnow() + timedelta(seconds=301)) == [card.id]
    failed, events = state(sessions, demo, card)
    assert failed.state == 'failed' and 'over the 300 s limit' in failed.last_error and events[-1] == 'error'
    with sessions() as s:
        assert 'No attempts left (3 of 3)' in instructions.list_events(s, demo.id, card.id)[-1].message


def test_a_late_result_after_cancel_is_ignored(sessions, demo) -> None:
    card = ask(sessions, demo, 'back up')
    confirm(sessions, demo, card)
    with sessions() as s:
        instructions.claim_next(s, 'w1:1:a')
    with sessions() as s:
        instructions.cancel(s, demo.id, card.id)
    with sessions() as s:
        instructions.complete(s, card.id, 'w1:1:a', {'message': 'late'})
    assert state(sessions, demo, card)[0].state == 'canceled'


def test_a_run_queued_by_a_canceled_instruction_is_canceled(sessions, store, demo) -> None:
    card = ask(sessions, demo, 'style lock scene 1 with 1 candidate')
    confirm(sessions, demo, card)

    def cancel_meanwhile(sessions, project, payload):  # noqa: ANN001, ANN202
        result = studio_table(sessions, store)['pipeline_run'](sessions, project, payload)
        with sessions() as s:
            instructions.cancel(s, project.id, card.id)
        return result

    instructions.work_once(sessions, {'pipeline_run': cancel_meanwhile})
    canceled, events = state(sessions, demo, card)
    assert canceled.state == 'canceled' and events[-1] == 'run_canceled'
    with sessions() as s:
        assert s.exec(select(Run)).one().status == WorkState.canceled


def test_unknown_kinds_and_agentless_custom_fail_clearly(sessions, store, demo) -> None:
    card = ask(sessions, demo, 'ask the agent to write the back-cover blurb')
    confirm(sessions, demo, card)
    instructions.work_once(sessions, {})
    failed, _ = state(sessions, demo, card)
    assert failed.state == 'failed' and 'No handler' in failed.last_error
    with sessions() as s:
        instructions.confirm(s, demo.id, card.id)
    instructions.work_once(sessions, studio_table(sessions, store))
    failed, _ = state(sessions, demo, card)
    assert failed.state == 'failed' and 'needs an agent' in failed.last_error


def test_custom_goes_to_the_agent_with_token_and_retries(sessions, store, demo) -> None:
    secrets = SecretStore(KeyRing(current=MasterKey.from_bytes(generate_key())))
    with sessions() as s:
        secrets.put(s, scope='global', provider='agent', name='token', value='agent-token-123')
    with FakeAgentServer() as agent:
        table = handler_table(agent_deps(sessions, store, agent.url, secrets), agent_backoff_s=0.01)
        card = ask(sessions, demo, 'ask the agent to write the back-cover blurb')
        confirm(sessions, demo, card)
        agent.fail_next(502)
        instructions.work_once(sessions, table)
        sent = agent.requests
    done, _ = state(sessions, demo, card)
    assert done.state == 'done' and done.result['agent_status'] == 'done'
    assert [r.status for r in sent] == [502, 200] and all(r.auth_ok for r in sent)
    assert sent[-1].json['objective'] == 'write the back-cover blurb' and sent[-1].json['instruction_id'] == card.id


def test_an_unreachable_agent_is_retried_later_then_fails(sessions, store, demo) -> None:
    table = handler_table(agent_deps(sessions, store, 'http://127.0.0.1:9/instructions'), agent_backoff_s=0.01)
    card = ask(sessions, demo, 'ask the agent to tidy the captions')
    confirm(sessions, demo, card)
    instructions.work_once(sessions, table)
    retry, events = state(sessions, demo, card)
    assert retry.state == InstructionState.queued and events[-1] == 'retry_scheduled'
    assert 'Cannot reach host' in retry.last_error
    with sessions() as s:
        assert instructions.claim_next(s, 'w') is None  # backing off
