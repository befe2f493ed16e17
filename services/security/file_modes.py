"""Private files: the data dir is 0700 and the database and key files 0600, whatever the umask says."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """Create the folder (and its parents) if needed and let only its owner in."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _chmod(path, 0o700)
    return path


def private_file(path: Path, *, create: bool = True) -> Path:
    """Create the file empty at 0600 if it is missing (an empty file is a new SQLite database), else tighten it."""
    if create and not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if path.exists():
        _chmod(path, 0o600)
    return path


def private_database(db_path: Path) -> None:
    """The SQLite file and its WAL companions (SQLite gives those the database file's mode when it makes them)."""
    private_dir(db_path.parent)
    private_file(db_path)
    for suffix in ('-wal', '-shm', '-journal'):
        private_file(db_path.with_name(db_path.name + suffix), create=False)


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError as e:  # not ours to change (a shared mount): say so once, keep going
        log.warning('Could not make %s private (mode %o): %s', path, mode, e.strerror or e)
