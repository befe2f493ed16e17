"""Audit log (/audit): who changed what and when, from the pages, the API, the CLI and the jobs; filter and page."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

from nicegui import ui

from components.errors import notify_errors
from components.theme import frame
from services.deps import Deps
from services.errors import Invalid
from services.projects import projects
from services.security import audit
from services.security.audit import AuditEventRead, AuditQuery

PAGE_SIZE = 100
ALL = '__all__'
COLUMNS = [
    {'name': 'when', 'label': 'When (UTC)', 'field': 'when', 'align': 'left'},
    {'name': 'project', 'label': 'Project', 'field': 'project', 'align': 'left'},
    {'name': 'actor', 'label': 'Who', 'field': 'actor', 'align': 'left'},
    {'name': 'action', 'label': 'What', 'field': 'action', 'align': 'left'},
    {'name': 'details', 'label': 'Details', 'field': 'details', 'align': 'left', 'classes': 'font-mono text-xs'},
]


def day(text: str | None, *, end: bool) -> datetime | None:
    """A YYYY-MM-DD filter covers the whole day (UTC), so 'from' and 'to' the same day shows that day."""
    text = (text or '').strip()
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time.max if end else time.min, tzinfo=UTC)
    except ValueError as e:
        raise Invalid(f'"{text}" is not a date like 2026-01-31.', code='invalid_date') from e


def row(e: AuditEventRead) -> dict[str, Any]:
    details = json.dumps(e.payload, default=str, ensure_ascii=False)
    return {
        'id': e.id,
        'when': e.created_at.strftime('%Y-%m-%d %H:%M:%S'),
        'project': e.project_slug or '—',
        'actor': e.actor,
        'action': e.action,
        'details': details if len(details) <= 160 else details[:157] + '…',
    }


def render_events(events: list[AuditEventRead], total: int) -> None:
    """The result table and how much of the match it shows."""
    ui.label(f'{total} event(s) match; showing {len(events)}.').classes('text-sm text-gray-600').mark('audit-count')
    ui.table(columns=COLUMNS, rows=[row(e) for e in events], row_key='id').classes('w-full').props(
        'dense flat wrap-cells'
    ).mark('audit-table')


def register(deps: Deps) -> None:
    @ui.page('/audit')
    def audit_page() -> None:
        with deps.sessions() as s:
            slugs = {r.project.slug: r.project.id for r in projects.list_projects(s, include_archived=True)}
        with frame('Audit log', project_slugs=list(slugs)):
            ui.label('Audit log').classes('text-2xl font-semibold')
            ui.label('Every change, with who made it: studio (pages), token:<id> (API), cli, or a job.').classes(
                'text-sm text-gray-600'
            )
            state: dict[str, Any] = {'query': AuditQuery(limit=PAGE_SIZE)}
            with ui.row().classes('items-end gap-4 flex-wrap'):
                project = ui.select({ALL: 'All projects', **{k: k for k in slugs}}, value=ALL, label='Project')
                project.classes('w-48').mark('audit-project')
                actor = ui.input('Who (starts with)', placeholder='token:, studio, cli').classes('w-44')
                actor.mark('audit-actor')
                action = ui.input('What (starts with)', placeholder='character., run.start').classes('w-48')
                action.mark('audit-action')
                since = ui.input('From', placeholder='YYYY-MM-DD').classes('w-36').mark('audit-since')
                until = ui.input('To', placeholder='YYYY-MM-DD').classes('w-36').mark('audit-until')
                ui.button('Filter', icon='filter_list', on_click=lambda: apply()).mark('audit-filter')

            def query(limit: int = PAGE_SIZE) -> AuditQuery:
                return AuditQuery(
                    project_id=None if project.value == ALL else slugs[project.value],
                    actor=actor.value or None,
                    action=action.value or None,
                    since=day(since.value, end=False),
                    until=day(until.value, end=True),
                    limit=limit,
                )

            @ui.refreshable
            def results() -> None:
                """Shows the filters as they were when applied (a refresh may run a moment later)."""
                q: AuditQuery = state['query']
                with deps.sessions() as s:
                    events, total = audit.search_events(s, q)
                render_events(events, total)
                if total > len(events) and q.limit < 1000:
                    ui.button('Show more', on_click=more).props('flat').mark('audit-more')

            @notify_errors
            def apply() -> None:
                state['query'] = query()  # a bad date is reported here and the table stays as it was
                results.refresh()

            def more() -> None:
                state['query'] = replace(state['query'], limit=min(1000, state['query'].limit + PAGE_SIZE))
                results.refresh()

            results()
