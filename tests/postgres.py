"""A throw-away PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temp dir on a free port.

Debian's `postgresql` package gives the binaries (`make install-test` installs it). initdb refuses to run as root,
so as root the cluster is made and run by the `postgres` user in a folder handed to it. Nothing is skipped: when
the server cannot start, the error says why."""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

USER = 'kroma'
TEMPLATE = 'kroma_template'


class PostgresUnavailable(RuntimeError):
    """The cluster could not be made or started; the message names the reason and the fix."""


def bin_dir() -> Path:
    """The newest installed server's binaries (pg_config may be the client's only)."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which('initdb')
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailable(
        'No PostgreSQL server binaries (initdb) found: run `make install-test` (apt-get install -y postgresql).'
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class PostgresCluster:
    """One server for a whole test session; each test gets its own database cloned from a migrated template."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix='kroma-pg-'))
        self.as_postgres = os.geteuid() == 0
        self._names = itertools.count(1)
        self._template_ready = False

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ['runuser', '-u', 'postgres', '--', *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if done.returncode != 0:
            raise PostgresUnavailable(f'{args[0]} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}')
        return done

    def start(self) -> PostgresCluster:
        if self.as_postgres:
            shutil.chown(self.dir, 'postgres')
        data = self.dir / 'data'
        self._run('initdb', '-D', str(data), '-U', USER, '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync')
        options = f'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300'
        options += ' -c synchronous_commit=off -c full_page_writes=off'
        try:
            self._run('pg_ctl', '-D', str(data), '-o', options, '-l', str(self.dir / 'server.log'), '-w', 'start')
        except PostgresUnavailable as e:
            log = (
                (self.dir / 'server.log').read_text(errors='replace')[-2000:]
                if (self.dir / 'server.log').exists()
                else ''
            )
            raise PostgresUnavailable(f'{e}\n{log}') from None
        return self

    def stop(self) -> None:
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            self._run('pg_ctl', '-D', str(self.dir / 'data'), '-m', 'immediate', 'stop')
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = 'postgres') -> str:
        return f'postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}'

    def execute(self, sql: str) -> None:
        engine = create_engine(self.url(), isolation_level='AUTOCOMMIT')
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()

    def new_database(self, *, migrated: bool = True) -> str:
        """A fresh database: a copy of the migrated template (made once), or empty; returns its URL."""
        name = f'kroma_{next(self._names)}'
        if migrated and not self._template_ready:
            from app.migrate import upgrade

            self.execute(f'CREATE DATABASE {TEMPLATE}')
            upgrade(self.url(TEMPLATE))
            self._template_ready = True
        self.execute(f'CREATE DATABASE {name}' + (f' TEMPLATE {TEMPLATE}' if migrated else ''))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit('/', 1)[1]
        with contextlib.suppress(Exception):
            self.execute(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')

    def wait_ready(self, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.execute('SELECT 1')
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
