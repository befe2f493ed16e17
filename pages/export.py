"""Export (J08): package one chapter or the whole comic as ZIP, CBZ or PDF with live progress; verify and download."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import FileResponse
from nicegui import app, run, ui

from components.errors import notify_errors
from components.progress import ThreadProgress
from pages.common import project_frame
from services.deps import Deps
from services.errors import KromaError
from services.exports import exporter as exports
from services.exports.exporter import DEFAULT_DPI, Exporter, ExportRequest
from services.exports.packages import verify_package
from services.layout import chapters
from services.projects import projects

FORMATS = {'zip': 'ZIP (pages, sources, manifest)', 'cbz': 'CBZ (comic readers)', 'pdf': 'PDF (print)'}


def register(deps: Deps) -> None:
    """Declare /export and the package download route /export-file/{slug}/{export_id}."""

    exporter = Exporter(deps.sessions, deps.store)

    @app.get('/export-file/{slug}/{export_id}', include_in_schema=False)
    async def download(slug: str, export_id: str) -> FileResponse:
        try:
            with deps.sessions() as s:
                project = projects.get_project(s, slug)
                path = exports.export_path(deps.store, project, exports.get_export(s, project.id, export_id))
        except KromaError as e:
            raise HTTPException(status_code=e.status, detail=e.user_message) from e
        return FileResponse(path, filename=path.name)

    @ui.page('/export')
    def export_page() -> None:
        with project_frame(deps, 'Pages & Export') as project:
            if project is None:
                return
            slug = project.slug
            with deps.sessions() as s:
                chapter_list = [c for c in chapters.list_chapters(s, project.id) if c.pages]
            ui.label(f'Export · {project.name}').classes('text-2xl font-semibold')
            ui.button('Back to pages', icon='menu_book', on_click=lambda: ui.navigate.to('/pages')).props('flat')
            with ui.row().classes('items-end gap-4 flex-wrap'):
                options = {0: 'All chapters'} | {
                    c.number: f'Chapter {c.number}' + (f' · {c.title}' if c.title else '') for c in chapter_list
                }
                chapter = ui.select(options, value=0, label='Chapter').classes('w-64').mark('export-chapter')
                fmt = ui.toggle(FORMATS, value='zip').mark('export-format')
                dpi = ui.number('DPI', value=DEFAULT_DPI, min=36, max=600, precision=0).classes('w-24')
                dpi.mark('export-dpi')
            if not chapter_list:
                ui.label('No pages yet: lay out a chapter on the Pages screen first.').classes('text-gray-500')
            progress = ThreadProgress('Export', 'ios_share', mark='export')

            @notify_errors
            async def start() -> None:
                req = ExportRequest(format=fmt.value, chapter=chapter.value or None, dpi=int(dpi.value or DEFAULT_DPI))
                done = await progress.run(exporter.run, slug, req)
                ui.notify(f'Exported {done.pages} page(s) as {done.format.upper()}', type='positive')
                history.refresh()

            progress.button.on_click(start)

            @notify_errors
            async def verify(export: exports.ExportRead) -> None:
                path = exports.export_path(deps.store, project, export)
                result = await run.io_bound(verify_package, path)
                if result.ok:
                    ui.notify(f'{path.name}: all {result.checked} checksum(s) match', type='positive')
                else:
                    names = ', '.join([*result.mismatches, *result.missing, *result.extra])
                    ui.notify(f'{path.name} failed verification: {names}', type='negative', multi_line=True)

            @ui.refreshable
            def history() -> None:
                with deps.sessions() as s:
                    rows = exports.list_exports(s, project.id)
                ui.label('Earlier exports').classes('text-lg font-semibold mt-4')
                for e in rows:
                    with ui.row().classes('items-center gap-3').mark('export-row'):
                        ui.badge(e.format.upper())
                        ui.label(f'{e.created_at:%Y-%m-%d %H:%M} · {e.pages} page(s) · {e.size_bytes / 1e6:.1f} MB')
                        ui.label(f'sha256 {e.sha256[:16]}…').classes('text-xs text-gray-500 font-mono')
                        ui.link('Download', f'/export-file/{slug}/{e.id}', new_tab=True).mark('export-download')
                        ui.button('Verify', on_click=lambda _, e=e: verify(e)).props('flat dense').mark('export-verify')

            history()
