"""Time from `kroma studio` to its first page: a fresh data dir (migrations + demo project) and a second start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def time_start(home: Path) -> float:
    port = free_port()
    env = {**os.environ, 'KROMA_HOME': str(home), 'KROMA_PORT': str(port)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, '-m', 'app.cli', 'studio'],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f'http://127.0.0.1:{port}/', timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                time.sleep(0.05)
            if proc.poll() is not None:
                raise SystemExit('the studio exited before answering')
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix='kroma-start-')) / 'home'
    first = time_start(home)
    second = time_start(home)
    print(f'first start (fresh data dir, demo project made): {first:.2f} s')
    print(f'second start: {second:.2f} s (goal: first page within 3 s)')


if __name__ == '__main__':
    main()
