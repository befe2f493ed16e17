"""An idle worker on another machine starts when a run is queued, not at its next poll: PostgreSQL's NOTIFY wakes
it; on SQLite the wait is the poll (the studio wakes its own worker in-process)."""

from __future__ import annotations

import threading
import time

import pytest

from services.runs.wakeup import RunsListener, notify_runs


@pytest.mark.both_databases
def test_a_queued_run_wakes_an_idle_worker_at_once(engine, database) -> None:  # noqa: ANN001
    stop = threading.Event()
    listener = RunsListener(engine, stop)
    try:
        assert listener.wait(0.05) is False  # nothing queued: the poll interval passes (and the LISTEN is set up)
        woke: list[tuple[bool, float]] = []

        def idle() -> None:
            started = time.monotonic()
            woke.append((listener.wait(5.0), time.monotonic() - started))

        waiter = threading.Thread(target=idle)
        waiter.start()
        time.sleep(0.2)
        notify_runs(engine)  # what the studio, the API and the copilot do after queueing a run
        waiter.join(10)
        heard, waited = woke[0]
        if database == 'postgresql':
            assert heard and waited < 1.0
        else:  # no channel on one machine's SQLite: the worker polls
            assert not heard and waited >= 4.9
    finally:
        listener.close()


def test_a_stop_ends_the_wait_on_sqlite(engine) -> None:  # noqa: ANN001
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    RunsListener(engine, stop).wait(5.0)
    assert time.monotonic() - started < 1.0
