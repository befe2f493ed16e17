"""What a refused input must leave unchanged: every table's row count and every file under the data dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

IGNORED_TABLES = frozenset({'alembic_version', 'apscheduler_jobs'})


@dataclass(frozen=True)
class State:
    rows: dict[str, int]
    files: frozenset[tuple[str, int]]

    def changes_from(self, before: State) -> list[str]:
        """Each difference in words, for the failure message."""
        out = [f'{t}: {before.rows.get(t, 0)} → {n} rows' for t, n in self.rows.items() if before.rows.get(t, 0) != n]
        out += [f'new file {p}' for p, _ in sorted(self.files - before.files)]
        out += [f'file gone or changed {p}' for p, _ in sorted(before.files - self.files)]
        return out


def snapshot(engine: Engine, data_dir: Path, *, ignore_tables: frozenset[str] = frozenset()) -> State:
    tables = [t for t in inspect(engine).get_table_names() if t not in IGNORED_TABLES | ignore_tables]
    with engine.connect() as conn:
        rows = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    files = frozenset(
        (p.relative_to(data_dir).as_posix(), p.stat().st_size)
        for p in data_dir.rglob('*')
        if p.is_file() and not p.name.startswith('kroma.db') and '.thumbs' not in p.parts
    )
    return State(rows, files)
