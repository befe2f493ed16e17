"""An instruction's lock is a lease: renewed while its handler runs, so a worker on another machine (which cannot
ask whether the process lives) takes it over only once the holder stopped renewing it."""

from __future__ import annotations

import threading
import time

import pytest

from models.base import InstructionState
from services.copilot import instructions

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL

LEASE_S = 0.6


def queued(sessions, project_id: str) -> str:
    with sessions() as s:
        card = instructions.propose(s, project_id, type='slow', objective='take a while', payload={})
        instructions.confirm(s, project_id, card.id)
    return card.id


def test_a_live_worker_keeps_a_long_instruction_and_a_silent_one_loses_it(sessions, demo) -> None:
    first = queued(sessions, demo.id)
    seen: list[list[str]] = []

    def slow(_sessions, _project, _payload) -> dict:  # noqa: ANN001
        time.sleep(LEASE_S * 2.5)
        return {'message': 'finished'}

    def other_machine() -> None:
        time.sleep(LEASE_S * 1.6)  # well past the lease, had it not been renewed
        with sessions() as s:
            seen.append(instructions.recover_stale(s, lock_timeout_s=LEASE_S))

    watcher = threading.Thread(target=other_machine)
    watcher.start()
    assert instructions.work_once(sessions, {'slow': slow}, worker='a:1:x:b', lock_timeout_s=LEASE_S) == first
    watcher.join()
    assert seen == [[]]
    with sessions() as s:
        assert instructions.get_instruction(s, demo.id, first).state == 'done'

    second = queued(sessions, demo.id)
    with sessions() as s:
        assert instructions.claim_next(s, 'gone-machine:7:y:b').id == second  # then it died: nobody renews
    time.sleep(LEASE_S + 0.2)
    with sessions() as s:
        assert instructions.recover_stale(s, lock_timeout_s=LEASE_S) == [second]
        again = instructions.get_instruction(s, demo.id, second)
    assert again.state == InstructionState.queued and 'over the 1 s limit' in again.last_error
