"""The real studio as a subprocess on a free port: for tests that need its whole HTTP stack (browser, guard)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@dataclass
class Studio:
    url: str
    home: Path
    process: subprocess.Popen
    log: Path


def start_studio(home: Path, port: int, env: dict[str, str] | None = None) -> Studio:
    log = home.parent / f'studio-{port}.log'
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'NICEGUI'))}
    full_env = {**inherited, 'KROMA_HOME': str(home), 'KROMA_PORT': str(port), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, '-m', 'app.cli', 'studio'],
        env=full_env,
        stdout=log.open('w'),
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'studio exited early:\n{log.read_text()[-3000:]}')
        try:
            if httpx.get(url + '/', timeout=2).status_code == 200:
                return Studio(url, home, proc, log)
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f'studio did not answer in 60 s:\n{log.read_text()[-3000:]}')


def stop_studio(studio: Studio) -> None:
    studio.process.terminate()
    try:
        studio.process.wait(10)
    except subprocess.TimeoutExpired:
        studio.process.kill()
