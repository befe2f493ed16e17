"""Drag-and-drop upload of many images at once, with one line per file saying what became of it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from nicegui import events, run, ui

from components.errors import notify_errors
from services.projects.assets import UploadResult

log = logging.getLogger(__name__)

ICONS = {
    'accepted': ('check_circle', 'positive'),
    'duplicate': ('content_copy', 'grey'),
    'refused': ('error', 'negative'),
}
Ingest = Callable[[list[tuple[str, bytes]]], Sequence[UploadResult]]


class UploadBox:
    """ingest(files) runs in a worker thread (validation, hashing, thumbnails), never on the event loop."""

    def __init__(
        self,
        ingest: Ingest,
        *,
        label: str = 'Drop images here or click + (PNG, JPEG, WebP; up to 50 MB and 40 MP each)',
        on_done: Callable[[Sequence[UploadResult]], None] | None = None,
        mark: str = 'upload',
    ) -> None:
        self.ingest, self.on_done = ingest, on_done
        self.upload = (
            ui.upload(multiple=True, auto_upload=True, label=label, on_multi_upload=notify_errors(self._on_files))
            .props('flat bordered')
            .classes('w-full max-w-xl')
            .mark(mark)
        )
        self.report = ui.column().classes('gap-0 text-sm').mark(f'{mark}-report')

    async def _on_files(self, e: events.MultiUploadEventArguments) -> None:
        files = [(f.name, await f.read()) for f in e.files]
        self.upload.reset()  # the uploader's own ✓ only means "bytes arrived": it must not stand for a judged file
        self.report.clear()
        with self.report:
            ui.label(f'Checking {len(files)} file(s)…').classes('text-gray-600').mark('upload-checking')
        results = await run.io_bound(self.ingest, files)
        self.show(results)
        if self.on_done:
            self.on_done(results)

    def show(self, results: Sequence[UploadResult]) -> None:
        """One line per file; a refused file says why, and the rest of the batch is already in."""
        counts = {s: sum(r.status == s for r in results) for s in ICONS}
        summary = f'{counts["accepted"]} accepted, {counts["duplicate"]} duplicate, {counts["refused"]} refused'
        log.info('Upload of %d files: %s', len(results), summary)
        ui.notify(summary, type='warning' if counts['refused'] else 'positive')
        self.report.clear()
        with self.report:
            ui.label(summary).classes('font-semibold').mark('upload-summary')
            for r in results:
                icon, colour = ICONS[r.status]
                with ui.row().classes('items-center gap-1').mark('upload-result'):
                    ui.icon(icon, color=colour).classes('text-base')
                    text = {'accepted': 'accepted', 'duplicate': 'duplicate: already in the project'}.get(r.status)
                    ui.label(f'{r.name}: {text or "refused: " + r.reason.removeprefix(f"{r.name}: ")}')
