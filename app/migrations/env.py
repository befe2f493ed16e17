"""Alembic environment: the SQLModel metadata is the target; APScheduler's job table is not ours to migrate."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from models.db import make_engine

config = context.config
target_metadata = SQLModel.metadata
IGNORED_TABLES = {'apscheduler_jobs'}


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    return not (type_ == 'table' and name in IGNORED_TABLES)


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option('sqlalchemy.url'))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == 'sqlite'
        if sqlite:  # a batch migration rebuilds a table (copy, drop, rename): cascades must not fire on the drop
            connection.exec_driver_sql('PRAGMA foreign_keys=OFF')
            connection.commit()  # end SQLAlchemy's implicit transaction, so Alembic's own commits the migration
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, include_object=include_object
        )
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql('PRAGMA foreign_key_check').fetchall()
            if broken:
                raise RuntimeError(f'migration left {len(broken)} rows with broken references, e.g. {broken[0]}')
            connection.exec_driver_sql('PRAGMA foreign_keys=ON')
            connection.commit()
    engine.dispose()


run_migrations_online()
