"""An account's concurrency limit held in the database, so it holds across workers (here: pools with their own ids,
as two processes would have), and a dead worker's slot frees itself when its lease runs out."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.providers.base import ConcurrencyGate
from services.runs import slots

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


def test_the_limit_holds_across_workers_and_a_freed_slot_is_taken_again(sessions) -> None:
    a = slots.SlotPool(sessions, 'host-a:1:x:boot', lease_s=30).for_account('acct', 2)
    b = slots.SlotPool(sessions, 'host-b:2:y:boot', lease_s=30).for_account('acct', 2)

    async def scenario() -> None:
        first = await a.acquire()
        await b.acquire()
        third = asyncio.create_task(b.acquire())
        await asyncio.sleep(0.3)
        assert not third.done()  # both slots are taken, by two different workers
        await a.release(first)
        await asyncio.wait_for(third, 5)

    asyncio.run(scenario())
    with sessions() as s:
        assert slots.in_use(s, 'acct') == 2


def test_a_dead_workers_slot_frees_itself_and_a_live_one_keeps_it(sessions) -> None:
    dead = slots.SlotPool(sessions, 'gone:1:x:boot', lease_s=0.5)
    live = slots.SlotPool(sessions, 'here:2:y:boot', lease_s=0.5)
    assert asyncio.run(dead.for_account('acct', 1).acquire())  # then the process is killed: nobody renews it
    other = live.for_account('acct', 1)
    assert other._try('probe') is False
    time.sleep(0.6)
    assert other._try('mine') is True  # the lease ran out: the slot is free for any worker
    time.sleep(0.3)
    with sessions() as s:
        assert slots.renew(s, live.worker, 0.5) == 1  # the heartbeat of a live worker
    time.sleep(0.3)
    assert dead.for_account('acct', 1)._try('late') is False
    assert live.release_all() == 1


def test_gates_of_two_workers_never_exceed_the_accounts_limit(sessions) -> None:
    """Two workers, each allowed 3 calls at once, share an account limited to 2: never more than 2 in flight."""
    in_flight, peak = 0, 0

    def gate_for(worker: str) -> ConcurrencyGate:
        gate = ConcurrencyGate(2)
        gate.local_cap = 3
        gate.shared = slots.SlotPool(sessions, worker, lease_s=30).for_account('acct', gate.limit)
        return gate

    async def call(gate: ConcurrencyGate) -> None:
        nonlocal in_flight, peak
        async with gate.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1

    async def scenario() -> None:
        gates = [gate_for('w1:1:a:b'), gate_for('w2:2:b:b')]
        await asyncio.gather(*(call(gates[i % 2]) for i in range(12)))

    asyncio.run(scenario())
    assert peak == 2
    with sessions() as s:
        assert slots.in_use(s, 'acct') == 0


def test_the_slots_of_a_process_of_this_machine_that_is_gone_are_freed_at_once(sessions) -> None:
    """A killed `kroma run` held the account's only slot: a resume on the same machine need not wait out its lease
    (#16's shortcut for jobs, for slots too); a live process's slot and another machine's are left to their leases."""
    import socket
    import subprocess
    import sys

    from services.runs import holders

    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    here = f'{socket.gethostname()}:{{}}:nonce:{holders.boot_id()}'
    workers = {
        'gone': here.format(dead.pid),
        'alive': here.format(1),
        'elsewhere': f'other-host:{dead.pid}:nonce:{holders.boot_id()}',
    }
    for name, worker in workers.items():
        assert asyncio.run(slots.SlotPool(sessions, worker, lease_s=30).for_account(name, 1).acquire())
    with sessions() as s:
        assert slots.free_gone_here(s) == 1
    with sessions() as s:
        assert [slots.in_use(s, name) for name in workers] == [0, 1, 1]


class CountingSlots:
    """The database's slots of one worker, counting the round trips a gate makes to them."""

    def __init__(self, sessions) -> None:  # noqa: ANN001
        self.inner = slots.SlotPool(sessions, 'w:1:a:b', lease_s=30).for_account('acct', 4)
        self.taken = self.freed = 0

    async def acquire(self) -> str:
        self.taken += 1
        return await self.inner.acquire()

    async def release(self, token: str) -> None:
        self.freed += 1
        await self.inner.release(token)


def test_a_slot_goes_straight_to_the_call_waiting_here_and_back_when_nobody_waits(sessions) -> None:
    """Six calls, two at once: each that ends while another waits hands its slot over (two round trips saved);
    the last two give theirs back, and after a waiting call gives up nothing stays taken."""
    gate = ConcurrencyGate(4)
    gate.local_cap = 2
    gate.shared = counting = CountingSlots(sessions)

    async def call(hold: float) -> None:
        async with gate.slot():
            await asyncio.sleep(hold)

    async def scenario() -> None:
        await asyncio.gather(*(call(0.05) for _ in range(6)))
        assert (counting.taken, gate.handed, counting.freed) == (2, 4, 2)
        first = asyncio.create_task(call(0.2))
        second = asyncio.create_task(call(0.2))
        waiting = asyncio.create_task(call(0.0))
        await asyncio.sleep(0.1)
        waiting.cancel()  # gave up before its turn: the slots kept for it must not stay taken
        await asyncio.gather(first, second, return_exceptions=True)

    asyncio.run(scenario())
    with sessions() as s:
        assert slots.in_use(s, 'acct') == 0
