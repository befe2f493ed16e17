"""Studio login: the configured password is held only as a scrypt hash and checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable

from services.errors import KromaError, PolicyRefused
from services.security.tokens import is_loopback

log = logging.getLogger(__name__)

SCHEME = 'scrypt'
N, R, P = 2**14, 8, 1
MAX_FAILURES = 5
LOCKOUT_S = 30.0


class LoginRequired(KromaError):
    """The studio would be reachable from other machines without a password."""

    status, kind, code = 400, 'policy', 'login_required_for_bind'


def _scrypt(password: str, salt: bytes, n: int = N, r: int = R, p: int = P) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * 1024 * 1024, dklen=32)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A self-describing hash, so KROMA_LOGIN_PASSWORD can hold it instead of the plaintext."""
    salt = salt or secrets.token_bytes(16)
    return f'{SCHEME}${N}${R}${P}${salt.hex()}${_scrypt(password, salt).hex()}'


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split('$')
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        return int(parts[1]), int(parts[2]), int(parts[3]), bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return None


def verify_password(password: str, stored: str) -> bool:
    """Hash the attempt with the stored parameters and compare digests in constant time."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), digest)


class PasswordCheck:
    """The studio's one password; a burst of failures locks attempts out for a while to slow guessing."""

    def __init__(self, configured: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        configured = configured.strip()
        if not configured:
            raise ValueError('an empty login password cannot be checked')
        self._stored = configured if _parse(configured) else hash_password(configured)
        self._clock = clock
        self._failures: list[float] = []
        self._lock = threading.Lock()

    def locked_for(self) -> float:
        """Seconds until attempts are accepted again (0 when they are)."""
        with self._lock:
            now = self._clock()
            self._failures = [t for t in self._failures if now - t < LOCKOUT_S]
            if len(self._failures) < MAX_FAILURES:
                return 0.0
            return max(0.0, LOCKOUT_S - (now - self._failures[-MAX_FAILURES]))

    def check(self, attempt: str) -> bool:
        """Blocking (scrypt): call it from a worker thread, never on the event loop."""
        wait = self.locked_for()
        if wait > 0:
            raise PolicyRefused(f'Too many wrong passwords; try again in {wait:.0f} s.', code='login_locked')
        ok = verify_password(attempt or '', self._stored)
        if not ok:
            with self._lock:
                self._failures.append(self._clock())
            log.warning('studio login failed')
        return ok


def check_bind(host: str, login_password: str | None) -> None:
    """Binding beyond loopback exposes every page to the network, so it needs a login password."""
    if is_loopback(host) or (login_password or '').strip():
        return
    raise LoginRequired(
        f'Refusing to listen on {host}: other machines could open the studio without logging in. '
        'Set KROMA_LOGIN_PASSWORD (the password, or a hash from `python -c "from services.security.login import '
        "hash_password; print(hash_password('…'))\"`) or bind to 127.0.0.1."
    )
