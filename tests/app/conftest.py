"""App fixtures: a throwaway KROMA_HOME that the real settings, CLI and wiring read."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import get_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir as KROMA_HOME, no key or database from the shell; the CLI's logging setup is undone after."""
    home = tmp_path / 'home'
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv('KROMA_HOME', str(home))
    for var in ('KROMA_MASTER_KEY', 'KROMA_MASTER_KEY_FILE', 'KROMA_MASTER_KEY_PREVIOUS', 'KROMA_DATABASE_URL'):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield home
    get_settings.cache_clear()
    for h in root.handlers:
        if h not in handlers:
            h.close()
    root.handlers[:] = handlers
    root.setLevel(level)
