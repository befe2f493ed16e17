"""Service fixtures: the demo project, for modules whose data dir is a copy of the demo universe."""

from __future__ import annotations

import pytest

from models.db import SessionFactory
from models.project import ProjectRead
from services import projects


@pytest.fixture
def demo(sessions: SessionFactory) -> ProjectRead:
    with sessions() as s:
        return projects.get_project(s, 'demo')
