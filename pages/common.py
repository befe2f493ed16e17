"""What most pages open with: the header's project picker and the current project, or a hint to pick one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from nicegui import ui

from components.theme import current_project, frame
from models.project import ProjectRead
from services import projects
from services.deps import Deps
from services.errors import NotFound


def project_slugs(deps: Deps) -> list[str]:
    """The header picker offers the active projects only."""
    with deps.sessions() as s:
        return [r.project.slug for r in projects.list_projects(s)]


def picked_project(deps: Deps) -> ProjectRead | None:
    """The picker keeps only a slug, which may name a project deleted since; that counts as no pick."""
    slug = current_project()
    if not slug:
        return None
    with suppress(NotFound), deps.sessions() as s:
        return projects.get_project(s, slug)
    return None


def project_or_hint(deps: Deps) -> ProjectRead | None:
    """A page that needs a project says how to get one instead of failing."""
    project = picked_project(deps)
    if project is None:
        ui.label('Pick a project at the top right first.').classes('text-gray-600').mark('pick-project')
    return project


@contextmanager
def project_frame(deps: Deps, title: str) -> Iterator[ProjectRead | None]:
    """The frame with the picker; yields the current project, or None after the hint (then the page stops)."""
    with frame(title, project_slugs=project_slugs(deps)):
        yield project_or_hint(deps)
