"""The budget on PostgreSQL, where workers on several machines admit their paid calls each in its own transaction."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from models.base import Stage
from models.runs import CostEvent
from services.runs import budget
from services.runs import control as runs
from services.runs.plan import RunRequest
from tests.services.runs.test_budget import set_budget


@pytest.mark.parametrize('database', ['postgresql'], indirect=True)
def test_paid_calls_admitted_at_once_from_many_connections_never_pass_the_budget(sessions, demo) -> None:
    """Workers on several machines each admit their calls in their own transaction: under the project's row lock the
    total spent is exact, so of 24 calls racing for a budget of 10 exactly 10 are sent and 14 refused."""
    with sessions() as s:
        run_id = runs.start(s, demo, RunRequest(stage=Stage.style, candidates=1, mode='run')).run_id
    set_budget(sessions, 10.0)

    def admit(i: int) -> bool:
        event = CostEvent(project_id=demo.id, run_id=run_id, amount_usd=1.0, meta={'state': 'sent'})
        with sessions() as s:
            return budget.admit_locked(s, demo.id, run_id, 1.0, [event]) is None

    with ThreadPoolExecutor(8) as pool:
        sent = list(pool.map(admit, range(24)))
    with sessions() as s:
        assert budget.spent(s, demo.id) == pytest.approx(10.0)
    assert sent.count(True) == 10
