"""Page tests: the real pages registered against a temporary data dir, driven by NiceGUI's simulated user."""

from __future__ import annotations

import pytest

from services.assets import AssetStore
from services.deps import Deps


@pytest.fixture
def deps(sessions, data_dir) -> Deps:
    return Deps(data_dir=data_dir, sessions=sessions, store=AssetStore(data_dir))
