"""Shared fixtures: a real SQLite file and data dir per test, no module-level state."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from app.settings import get_settings
from models.db import SessionFactory, create_all, make_engine, session_factory
from services.projects.assets import AssetStore
from services.projects.demo import ensure_demo
from tests.postgres import PostgresCluster


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / 'kroma-home'
    d.mkdir()
    return d


BOTH_DATABASES = 'both_databases'


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', f'{BOTH_DATABASES}: runs once on SQLite and once on a real PostgreSQL')


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked both_databases that use the database get a SQLite and a PostgreSQL variant."""
    if 'database' in metafunc.fixturenames and metafunc.definition.get_closest_marker(BOTH_DATABASES):
        metafunc.parametrize('database', ['sqlite', 'postgresql'], indirect=True)


@pytest.fixture(scope='session')
def pg_cluster() -> Iterator[PostgresCluster]:
    """One throw-away PostgreSQL server per test session; a start-up failure fails the tests with its reason."""
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """Which engine the test runs on: SQLite unless the test is marked both_databases."""
    return getattr(request, 'param', 'sqlite')


@pytest.fixture
def db_url(database: str, data_dir: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQLite file in the data dir, or a fresh migrated PostgreSQL database dropped after the test."""
    if database == 'sqlite':
        yield f'sqlite:///{data_dir / "kroma.db"}'
        return
    cluster: PostgresCluster = request.getfixturevalue('pg_cluster')
    url = cluster.new_database()
    yield url
    cluster.drop_database(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    if eng.dialect.name == 'sqlite':
        create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> SessionFactory:
    """Unit-of-work factory: `with sessions() as s:` commits on success."""
    return session_factory(engine)


@pytest.fixture
def store(data_dir: Path) -> AssetStore:
    """The project file store over the test's data dir."""
    return AssetStore(data_dir)


@pytest.fixture(scope='module')
def demo_template(tmp_path_factory) -> Path:
    """The demo universe is built once per module and copied per test: same data, a fraction of the time."""
    root = tmp_path_factory.mktemp('demo-template')
    engine = make_engine(f'sqlite:///{root / "kroma.db"}')
    create_all(engine)
    ensure_demo(session_factory(engine), AssetStore(root))
    engine.dispose()
    return root


@pytest.fixture
def demo_data_dir(tmp_path: Path, demo_template: Path) -> Path:
    """A module starts every test from the demo by overriding `data_dir` with this one."""
    home = tmp_path / 'kroma-home'
    shutil.copytree(demo_template, home)
    return home


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
