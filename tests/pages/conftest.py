"""Page tests: the real pages registered against a temporary data dir, driven by NiceGUI's simulated user."""

from __future__ import annotations

import pytest

from services.deps import Deps
from services.projects.assets import AssetStore


@pytest.fixture
def deps(sessions, data_dir) -> Deps:
    return Deps(data_dir=data_dir, sessions=sessions, store=AssetStore(data_dir))
