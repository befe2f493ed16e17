"""Who holds a claim: a worker id that names its machine and process, and the one question a claim's own machine can
answer at once, "is that process gone?" (elsewhere, a claim's lease is the only judge)."""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path


@functools.cache
def boot_id() -> str:
    """This machine's current boot: two containers may share a host name, never a boot id."""
    try:
        return Path('/proc/sys/kernel/random/boot_id').read_text().strip().replace('-', '')[:12]
    except OSError:
        return uuid.getnode().to_bytes(6, 'big').hex()


def worker_id() -> str:
    """host:pid:nonce:boot, for people reading it and for the local liveness check below."""
    return f'{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{boot_id()}'


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_pid(holder: str | None) -> int | None:
    """The holder's process id when it ran on this very machine and boot; None for anyone else."""
    parts = (holder or '').split(':')
    if len(parts) < 4 or parts[0] != socket.gethostname() or parts[3] != boot_id() or not parts[1].isdigit():
        return None
    return int(parts[1])


def gone_here(holder: str | None, alive: Callable[[int], bool] = pid_alive) -> bool:
    """True only for a holder of this very machine and boot whose process no longer runs; unknown otherwise (False)."""
    pid = local_pid(holder)
    return pid is not None and pid != os.getpid() and not alive(pid)
