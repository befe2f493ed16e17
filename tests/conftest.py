"""Shared fixtures: a real SQLite file and data dir per test, no module-level state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from models.db import SessionFactory, create_all, make_engine, session_factory


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / 'kroma-home'
    d.mkdir()
    return d


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    eng = make_engine(f'sqlite:///{data_dir / "kroma.db"}')
    create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> SessionFactory:
    """Unit-of-work factory: `with sessions() as s:` commits on success."""
    return session_factory(engine)
