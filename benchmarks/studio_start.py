"""Time from `kroma studio` to its first page: a fresh data dir (migrations + demo project), then later starts.

Bytecode is compiled first, as `make studio` does (this machine sets PYTHONDONTWRITEBYTECODE, so Python would
otherwise compile every module of the studio from source on every start: about a second).
Run: .venv/bin/python benchmarks/studio_start.py [--repeat 3]"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ('app', 'pages', 'components', 'services', 'models')


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    subprocess.run([sys.executable, '-m', 'compileall', '-q', *PACKAGES], cwd=ROOT, check=True)
    home = Path(tempfile.mkdtemp(prefix='kroma-start-')) / 'home'
    first = time_start(home)
    print(f'first start (fresh data dir, demo project made): {first:.2f} s')
    later = [time_start(home) for _ in range(args.repeat)]
    print(f'later starts: {", ".join(f"{t:.2f}" for t in later)} s')
    print(
        f'later start: median {statistics.median(later):.2f} s, best {min(later):.2f} s (goal: first page within 3 s)'
    )


if __name__ == '__main__':
    main()
