"""Backups (§8): snapshot history, Back up now with live progress, verify, restore into an empty folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from nicegui import run, ui

from components.backup_views import RestoreDialog, config_help, history_view, key_notice, verify_view
from components.errors import notify_errors
from components.theme import current_project, frame
from pages.common import picked_project, project_slugs
from services.backups.config import NO_BUCKET, SnapshotView, backup_history, backup_service, human_size, scope_targets
from services.backups.object_store import S3Target
from services.backups.service import BackupService
from services.deps import Deps
from services.errors import Invalid, KromaError

T = TypeVar('T')


def register(deps: Deps) -> None:
    db_path = deps.backup.db_path or deps.data_dir / 'kroma.db'

    def service(target: S3Target) -> BackupService:
        return backup_service(target, data_dir=deps.data_dir, db_path=db_path)

    @ui.page('/backups')
    def backups_page() -> None:
        slugs = project_slugs(deps)
        project = picked_project(deps) if current_project() in slugs else None
        with frame('Backups', project_slugs=slugs):
            ui.label('Backups').classes('text-2xl font-semibold')
            key_notice(deps.key_file)
            with deps.sessions() as s:
                found, problem = scope_targets(s, defaults=deps.backup, project=project, secrets=deps.secrets)
            if not found:
                config_help(problem or NO_BUCKET)
                return
            if problem:
                ui.label(problem).classes('text-warning').mark('backup-problem')
            state: dict[str, Any] = {'fraction': 0.0, 'message': '', 'busy': False}
            items: list[SnapshotView] = []
            names = {'all': 'All projects', **({project.slug: f'Only {project.name}'} if project else {})}
            with ui.row().classes('items-center gap-4'):
                scope = ui.toggle({k: names[k] for k in found}, value=next(iter(found)), on_change=lambda: load())
                scope.mark('backup-scope').set_visibility(len(found) > 1)
                now_button = ui.button('Back up now', icon='cloud_upload', on_click=lambda: back_up()).mark(
                    'backup-now'
                )
            where = ui.label().classes('text-sm text-gray-600').mark('backup-target')
            bar = ui.linear_progress(value=0, show_value=False).mark('backup-progress')
            status = ui.label().classes('text-sm').mark('backup-progress-label')

            def progress(fraction: float, message: str) -> None:  # called from the worker thread: plain state only
                state.update(fraction=fraction, message=message)

            def tick() -> None:
                for b in (bar, restore.bar):
                    b.set_visibility(state['busy'])
                    b.set_value(state['fraction'])
                status.set_text(state['message'])

            async def work(message: str, fn: Callable[[], T]) -> T:
                """Slow S3 work runs in a thread while the timer shows its progress; a failure clears the message."""
                state.update(fraction=0.0, message=message, busy=True)
                history.refresh()
                try:
                    return await run.io_bound(fn)
                except KromaError:
                    state['message'] = ''
                    raise
                finally:
                    state['busy'] = False
                    history.refresh()

            async def load() -> None:
                target = found[scope.value]
                where.set_text(f's3://{target.bucket}/{target.prefix} on {target.endpoint_url or "AWS S3"}')
                try:
                    listed = await run.io_bound(lambda: service(target).list_snapshots())
                except KromaError as e:
                    listed = []
                    state['message'] = e.user_message
                with deps.sessions() as s:
                    items[:] = backup_history(s, listed)
                history.refresh()

            @notify_errors
            async def back_up() -> None:
                chosen, slug_ = scope.value, None if scope.value == 'all' else scope.value
                now_button.disable()
                try:
                    snap = await work('Starting backup', lambda: service(found[chosen]).snapshot(
                        deps.sessions, project_slug=slug_, on_progress=progress
                    ))  # fmt: skip
                finally:
                    now_button.enable()
                    await load()
                ui.notify(f'Backup complete: {snap.file_count} files, {human_size(snap.uploaded_bytes)} uploaded.')

            async def verify(item: SnapshotView) -> None:
                with verify_box:  # the clicked button lives in the history, which refreshes (and dies) meanwhile
                    await check(item)

            @notify_errors
            async def check(item: SnapshotView) -> None:
                target = found[scope.value]
                result = await work(
                    f'Verifying {item.name}…', lambda: service(target).verify(item.key, session_factory=deps.sessions)
                )
                state['message'] = ''
                verify_box.clear()
                with verify_box:
                    verify_view(item.name, result)
                ok = result['ok']
                ui.notify('Snapshot ok' if ok else 'Snapshot failed verification', type='positive' if ok else 'warning')
                await load()

            def ask_restore(item: SnapshotView) -> None:
                picked['item'] = item
                restore.open_for(item.name)

            @notify_errors
            async def do_restore() -> None:
                item: SnapshotView = picked['item']
                raw = (restore.folder.value or '').strip()
                if not raw or not Path(raw).expanduser().is_absolute():
                    raise Invalid('Enter the full path of a new or empty folder to restore into.')
                dest, target = Path(raw).expanduser(), found[scope.value]
                result = await work(
                    f'Restoring {item.name}',
                    lambda: service(target).restore(
                        item.key, dest, on_progress=progress, session_factory=deps.sessions
                    ),
                )
                restore.close()
                ui.notify(
                    f'Restored {result["files"]} files and the database into {dest}. Start the studio with '
                    f'KROMA_HOME={dest} and your master key.',
                    type='positive',
                    multi_line=True,
                )

            @ui.refreshable
            def history() -> None:
                history_view(items, on_verify=verify, on_restore=ask_restore, busy=state['busy'])

            ui.label('Snapshots').classes('text-lg font-semibold mt-4')
            history()
            verify_box = ui.column()
            picked: dict[str, SnapshotView] = {}
            restore = RestoreDialog(do_restore)
            ui.timer(0.2, tick)
            ui.timer(0.05, load, once=True)
