"""The studio's instruction worker: confirmed copilot instructions through the one handler table."""

from __future__ import annotations

from services.copilot import instructions
from services.copilot.handlers import handler_table
from services.deps import Deps
from services.security.audit import acting_as

INSTRUCTION_WORKER = 'instruction-worker'
MIN_LOCK_S = 30.0


def lease_s(deps: Deps) -> float:
    """An instruction's lock is a lease renewed while it runs, the same length for the studio and every worker."""
    return max(MIN_LOCK_S, deps.options.run_lease_s)


def work_instructions(deps: Deps) -> str | None:
    """Recover dead locks, then run at most one confirmed copilot instruction through the same services as the pages."""
    with acting_as(f'job:{INSTRUCTION_WORKER}'):
        return instructions.work_once(deps.sessions, handler_table(deps), lock_timeout_s=lease_s(deps))
