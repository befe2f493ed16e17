"""The /audit page: every change with who, what, when and project; filters by project, actor, action and date."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from nicegui import ui
from nicegui.testing import User

from models.project import ProjectCreate
from models.references import CharacterCreate
from pages import audit as audit_page
from services.projects import projects
from services.references import characters
from services.security import audit


def seed(deps) -> None:  # noqa: ANN001
    with deps.sessions() as s:
        saga = projects.create_project(s, ProjectCreate(slug='saga', name='Saga'), data_dir=deps.data_dir)  # audited
        other = projects.create_project(s, ProjectCreate(slug='other', name='Other'), data_dir=deps.data_dir)
        characters.create_character(s, saga.id, CharacterCreate(name='Mara'))  # the service records it as 'studio'
        audit.record(s, project_id=saga.id, actor='token:abc123', action='run.start', payload={'run_id': 'r1'})
        audit.record(s, project_id=other.id, actor='cli', action='token.create', payload={'prefix': 'kroma_1234'})


def shown(user: User) -> list[tuple[str, str, str]]:
    table = user.find('audit-table').elements.pop()
    assert isinstance(table, ui.table)
    return sorted((r['project'], r['actor'], r['action']) for r in table.rows)


async def expect(user: User, rows: list[tuple[str, str, str]]) -> None:
    """Table rows are data, not text, so wait for them directly."""
    for _ in range(40):
        if shown(user) == rows:
            return
        await asyncio.sleep(0.05)
    assert shown(user) == rows


async def test_filters(user: User, deps) -> None:
    seed(deps)
    audit_page.register(deps)
    await user.open('/audit')
    await user.should_see('5 event(s) match')
    assert shown(user) == [
        ('other', 'cli', 'token.create'),
        ('other', 'studio', 'project.create'),
        ('saga', 'studio', 'character.create'),
        ('saga', 'studio', 'project.create'),
        ('saga', 'token:abc123', 'run.start'),
    ]
    user.find('audit-actor').type('token:')
    user.find('audit-filter').click()
    await expect(user, [('saga', 'token:abc123', 'run.start')])
    user.find('audit-actor').clear()
    user.find('audit-action').type('character.')
    user.find('audit-filter').click()
    await expect(user, [('saga', 'studio', 'character.create')])
    user.find('audit-action').clear()
    with user.client:  # type: ignore[union-attr]
        user.find('audit-project').elements.pop().value = 'other'
    user.find('audit-filter').click()
    await expect(user, [('other', 'cli', 'token.create'), ('other', 'studio', 'project.create')])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    user.find('audit-since').type(tomorrow)
    user.find('audit-filter').click()
    await user.should_see('0 event(s) match')
    user.find('audit-since').clear().type('yesterday')
    user.find('audit-filter').click()
    await user.should_see('is not a date like')
    await asyncio.sleep(0.1)  # let NiceGUI's outbox flush the last update: cancelling it mid-wake stalls teardown
