"""The real studio as a subprocess on a free port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / 'artifacts'
CHROMIUM_FLAGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
]


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


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    s = start_studio(tmp_path / 'home', free_port())
    yield s
    stop_studio(s)


@pytest.fixture
def browser_page():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    executable = shutil.which('chromium')
    assert executable, "Debian's chromium is not installed (the README's test command installs it)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={'width': 1400, 'height': 900})
        page.set_default_timeout(20_000)
        yield page
        browser.close()
