"""Master keys for the secrets store: parsing, fingerprint refs, and the auto-created 0600 key file."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.errors import SecretError

log = logging.getLogger(__name__)

KEY_BYTES = 32
ENV_KEY = 'KROMA_MASTER_KEY'
ENV_KEY_FILE = 'KROMA_MASTER_KEY_FILE'
ENV_PREVIOUS = 'KROMA_MASTER_KEY_PREVIOUS'
_B64_TEXT = re.compile(rb'[A-Za-z0-9+/=_-]+')


def key_ref(key: bytes) -> str:
    """A fingerprint, not a label: the same key always has the same ref, and the ref reveals nothing usable."""
    return hashlib.sha256(key).hexdigest()[:8]


@dataclass(frozen=True)
class MasterKey:
    """One AES-256 key and its ref; the key bytes never appear in a repr or a log line."""

    ref: str
    key: bytes = field(repr=False)

    @classmethod
    def from_bytes(cls, key: bytes) -> MasterKey:
        """Build a key whose ref is derived from its bytes, so refs can never drift from keys."""
        if len(key) != KEY_BYTES:
            raise SecretError(f'A master key must be exactly {KEY_BYTES} bytes.', code='secret_key_invalid')
        return cls(ref=key_ref(key), key=bytes(key))


@dataclass(frozen=True)
class KeyRing:
    """The key new values are written with, plus older keys that may still be needed to read."""

    current: MasterKey
    previous: tuple[MasterKey, ...] = ()

    def find(self, ref: str) -> MasterKey | None:
        """Look a key up by the ref stored with a ciphertext, so decryption never guesses."""
        for k in (self.current, *self.previous):
            if k.ref == ref:
                return k
        return None

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.current.ref, *(k.ref for k in self.previous))


def decode_key(text: str, *, setting: str) -> bytes:
    """Accept standard or urlsafe base64, padded or not; errors name the setting and never echo the value."""
    s = ''.join(text.split())
    if not s:
        raise SecretError(
            f'{setting} is empty; it must be base64 of exactly {KEY_BYTES} bytes.', code='secret_key_invalid'
        )
    s = s.replace('-', '+').replace('_', '/')
    s += '=' * (-len(s) % 4)
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as e:
        raise SecretError(
            f'{setting} is not valid base64; it must be base64 of exactly {KEY_BYTES} bytes.',
            code='secret_key_invalid',
        ) from e
    if len(raw) != KEY_BYTES:
        raise SecretError(
            f'{setting} decodes to {len(raw)} bytes; it must be base64 of exactly {KEY_BYTES} bytes.',
            code='secret_key_invalid',
        )
    return raw


def encode_key(key: bytes) -> str:
    """The text form written to key files and suggested for the environment (urlsafe base64)."""
    return base64.urlsafe_b64encode(key).decode('ascii')


def generate_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _read_key_file(path: Path) -> bytes:
    """Read a key file (base64 text, or 32 raw bytes) and warn when other users could read it."""
    setting = f'{ENV_KEY_FILE} ({path})'
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as e:
        raise SecretError(f'{setting} could not be read: {e.strerror or e}.', code='secret_key_unreadable') from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning('master key file %s is accessible by other users (mode %o); chmod 600 it', path, mode & 0o777)
    if len(data) == KEY_BYTES and not _B64_TEXT.fullmatch(data.strip()):
        # A raw key (e.g. `head -c 32 /dev/urandom`); base64 text of the wrong length still gets the clear error.
        return data
    try:
        text = data.decode('ascii')
    except UnicodeDecodeError as e:
        raise SecretError(
            f'{setting} does not hold a key: expected base64 of exactly {KEY_BYTES} bytes.', code='secret_key_invalid'
        ) from e
    return decode_key(text, setting=setting)


def missing_key_file(key_file: Path, needed: Mapping[str, int]) -> SecretError:
    """The master key file is gone while stored secrets need it: say which key and how to recover."""
    refs = ', '.join(f'{ref} ({n} secret{"s" if n != 1 else ""})' for ref, n in sorted(needed.items()))
    return SecretError(
        f'The master key file {key_file} is missing, but stored secrets are encrypted with key {refs}. Restore that '
        f'file from your backup (or set {ENV_KEY} to that key) and start again. If the key is lost, run '
        '`kroma secrets forget-lost-key --confirm` and enter the keys again with `kroma provider set-key`.',
        code='master_key_missing',
        details={'key_refs': sorted(needed)},
    )


def _fsync_dir(path: Path) -> None:
    """Make the new directory entry durable; best effort where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_new(path: Path, payload: bytes) -> None:
    """Exclusive create at mode 0600: never replaces an existing file, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_key_file(path: Path) -> bytes:
    """Create the key file atomically at mode 0600 without ever clobbering one another process just made."""
    key = generate_key()
    payload = (encode_key(key) + '\n').encode('ascii')
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp')
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_new(tmp, payload)
        try:
            os.link(tmp, path)  # atomic and refuses to replace: if two processes race, the first key wins
        except FileExistsError:
            raise
        except OSError:
            _write_new(path, payload)  # no hard links here: exclusive create still never clobbers a key
    except FileExistsError:
        log.info('master key file %s was created concurrently; using that one', path)
        return _read_key_file(path)
    except OSError as e:
        raise SecretError(
            f'{ENV_KEY_FILE} ({path}) could not be created: {e.strerror or e}.', code='secret_key_unwritable'
        ) from e
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    log.warning('created a new master key at %s (key ref %s); back it up apart from the database', path, key_ref(key))
    return key


def load_keyring(
    *,
    env_key: str | None,
    key_file: Path,
    previous: str | None,
    stored_refs: Callable[[], Mapping[str, int]] | None = None,
) -> KeyRing:
    """Resolve the current key (environment, else key file, else a new key file) and any previous keys.

    `stored_refs` tells which keys the stored secrets need: a missing key file is then replaced only when no stored
    secret needs a key, so lost keys are never papered over by a new one that decrypts nothing."""
    if env_key is not None and env_key.strip():
        current = MasterKey.from_bytes(decode_key(env_key, setting=ENV_KEY))
        source = ENV_KEY
    elif key_file.exists():
        current = MasterKey.from_bytes(_read_key_file(key_file))
        source = str(key_file)
    else:
        if needed := dict(stored_refs() if stored_refs else {}):
            raise missing_key_file(key_file, needed)
        current = MasterKey.from_bytes(_create_key_file(key_file))
        source = str(key_file)
    olds: list[MasterKey] = []
    seen = {current.ref: current.key}
    for i, part in enumerate((previous or '').split(','), start=1):
        if not part.strip():
            continue
        k = MasterKey.from_bytes(decode_key(part, setting=f'{ENV_PREVIOUS} (entry {i})'))
        if k.ref in seen:
            if seen[k.ref] != k.key:
                raise SecretError(
                    f'{ENV_PREVIOUS} (entry {i}) has the same key ref {k.ref} as another configured key; '
                    'generate a new key.',
                    code='secret_key_invalid',
                )
            continue  # the same key listed twice, or the current key also listed as previous
        seen[k.ref] = k.key
        olds.append(k)
    log.info('master key %s loaded from %s with %d previous key(s)', current.ref, source, len(olds))
    return KeyRing(current=current, previous=tuple(olds))
