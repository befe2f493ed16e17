"""Service fixtures: the demo project, built in the test's data dir unless the module starts from a copy of it."""

from __future__ import annotations

import pytest

from models.db import SessionFactory
from models.project import ProjectRead
from services.errors import NotFound
from services.projects import projects
from services.projects.assets import AssetStore
from services.projects.demo import ensure_demo


@pytest.fixture
def demo(sessions: SessionFactory, store: AssetStore) -> ProjectRead:
    with sessions() as s:
        try:
            return projects.get_project(s, 'demo')
        except NotFound:
            pass
    ensure_demo(sessions, store)
    with sessions() as s:
        return projects.get_project(s, 'demo')
