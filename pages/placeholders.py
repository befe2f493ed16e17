"""Journey pages that later releases fill; each says in one line what it will do and has no dead buttons."""

from __future__ import annotations

from nicegui import ui

from components.theme import coming, frame
from services import projects
from services.deps import Deps

PLANNED = {
    '/setup': (
        'Setup',
        'Provider accounts and encrypted keys: add OpenAI or ComfyUI, test the connection; the offline renderer is built in.',
    ),
    '/references': (
        'References',
        'Characters, style guides, scenes, reference sets and prompt templates, with drag-and-drop upload.',
    ),
    '/runs': ('Runs', 'Compose a staged run, see the plan and its cost, then watch candidates arrive live.'),
    '/review': ('Review', 'Compare candidates side by side with their QA badges and approve one winner per scene.'),
    '/postprocess': (
        'Post-process',
        'Background removal, upscale and colour profiles on approved panels, with before/after.',
    ),
    '/pages': ('Pages & Export', 'Lay approved panels out into pages with balloons and export ZIP, CBZ or PDF.'),
    '/utilities': ('Utilities', 'Remove a background, upscale or recolour one image now, without a project.'),
    '/copilot': ('Copilot', 'Ask in words; the copilot proposes an instruction you confirm before anything runs.'),
    '/backups': ('Backups', 'Scheduled S3 snapshots of your projects, verify and restore.'),
    '/settings': ('Settings', 'Project budget, batch limit, QA thresholds and storage.'),
}


def register(deps: Deps, only: set[str] | None = None) -> None:
    for route, (title, text) in PLANNED.items():
        if only is not None and route not in only:
            continue

        def page(title: str = title, text: str = text) -> None:
            with deps.sessions() as s:
                slugs = [r.project.slug for r in projects.list_projects(s)]
            with frame(title, project_slugs=slugs):
                ui.label(title).classes('text-2xl font-semibold')
                coming(text)

        ui.page(route)(page)
