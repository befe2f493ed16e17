"""Engine and session factory: SQLite in WAL mode with foreign keys and a busy timeout, or PostgreSQL (shared studio)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

import models  # noqa: F401  (registers every table)

SessionFactory = Callable[[], AbstractContextManager[Session]]


def make_engine(url: str) -> Engine:
    """One engine per process; SQLite gets the pragmas that make concurrent readers and writers safe, PostgreSQL a
    pool as wide as the worker threads that may write at once (and a check that a pooled connection still lives)."""
    is_sqlite = url.startswith('sqlite')
    if not is_sqlite:
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30, pool_timeout=60)
    engine = create_engine(url, connect_args={'check_same_thread': False, 'timeout': 30})
    if is_sqlite:

        @event.listens_for(engine, 'connect')
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute('PRAGMA journal_mode=WAL')
            cur.execute('PRAGMA foreign_keys=ON')
            cur.execute('PRAGMA busy_timeout=30000')
            cur.execute('PRAGMA synchronous=NORMAL')
            cur.close()

    return engine


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A SAVEPOINT that really nests: pysqlite emits BEGIN only before DML, so a SAVEPOINT issued first would open
    the transaction itself and its RELEASE would commit everything; a write transaction is begun explicitly first."""
    conn = session.connection()
    dbapi = conn.connection.dbapi_connection
    if conn.dialect.name == 'sqlite' and dbapi is not None and not dbapi.in_transaction:
        conn.exec_driver_sql('BEGIN IMMEDIATE')
    with session.begin_nested():
        yield


def create_all(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)


def session_factory(engine: Engine) -> SessionFactory:
    """A session per unit of work that commits on success and rolls back on error; the caller owns it."""

    @contextmanager
    def _session() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    return _session
