"""The real studio as a subprocess on a free port (tests/live_studio.py), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_studio import Studio, free_port, start_studio, stop_studio

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
