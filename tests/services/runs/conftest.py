"""A demo project in a temporary data dir, ready for runs."""

from __future__ import annotations

import pytest

from services import projects
from services.assets import AssetStore
from services.demo import ensure_demo


@pytest.fixture
def store(data_dir) -> AssetStore:
    return AssetStore(data_dir)


@pytest.fixture
def demo(sessions, store):  # noqa: ANN201
    ensure_demo(sessions, store)
    with sessions() as s:
        return projects.get_project(s, 'demo')
