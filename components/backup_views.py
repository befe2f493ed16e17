"""Backups page parts: the master-key notice, how to configure S3, the snapshot history and verify results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nicegui import ui

from services.backups.config import SnapshotView, human_size

STATUS_COLOURS = {'complete': 'positive', 'running': 'info', 'failed': 'negative', 'unreadable': 'warning'}


def key_notice(key_file: Path | None) -> ui.element:
    """Backups never hold the master key, so the page must say where it is and that it needs its own copy."""
    with ui.card().classes('w-full bg-amber-50 gap-1') as card:
        ui.label(
            'The master key is never uploaded. Keep a copy somewhere safe, apart from the backups: '
            'without it a restored studio cannot decrypt its stored provider keys.'
        ).classes('font-semibold')
        where = str(key_file) if key_file else 'from KROMA_MASTER_KEY'
        ui.label(f'Master key: {where}').classes('font-mono text-sm').mark('master-key-location')
    return card


def config_help(problem: str) -> ui.element:
    """No bucket means no buttons: explain exactly which settings make backups work."""
    with ui.card().classes('w-full gap-1').mark('backup-config-help') as card:
        ui.label(problem).classes('font-semibold')
        for line in (
            'KROMA_BACKUP_S3_BUCKET: the bucket (required); KROMA_BACKUP_S3_PREFIX: the key prefix (default kroma)',
            'KROMA_BACKUP_S3_ENDPOINT_URL and KROMA_BACKUP_S3_REGION: for MinIO, R2, B2 or any S3-compatible server',
            'KROMA_BACKUP_CRON: when the nightly backup runs (default 0 3 * * *)',
            'Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or an AWS profile, or encrypted secrets '
            '(provider s3, names access_key_id and secret_access_key, scope global or the project)',
            'A project can use its own bucket, prefix, endpoint and region in its storage settings.',
        ):
            ui.label(line).classes('text-sm text-gray-700')
    return card


def history_view(
    items: list[SnapshotView],
    *,
    on_verify: Callable[[SnapshotView], Any],
    on_restore: Callable[[SnapshotView], Any],
    busy: bool = False,
) -> ui.element:
    """Newest first; only snapshots the bucket holds get Verify and Restore (a failed run has nothing to restore)."""
    with ui.column().classes('w-full gap-1') as root:
        if not items:
            ui.label('No snapshots yet: press Back up now.').classes('text-gray-600').mark('no-snapshots')
        for item in items:
            with ui.row().classes('items-center gap-3 w-full').mark('snapshot-row'):
                ui.badge(item.status, color=STATUS_COLOURS.get(item.status, 'grey')).mark('snapshot-status')
                when = f'{item.created_at:%Y-%m-%d %H:%M} UTC' if item.created_at else 'unknown time'
                ui.label(when).classes('w-40')
                ui.label(item.scope).classes('w-32 text-gray-600')
                ui.label(f'{item.file_count} files · {human_size(item.size_bytes)}').classes('w-40')
                ui.label(f'{item.duration_s:.1f} s' if item.duration_s is not None else '–').classes('w-16')
                if item.verified_at:
                    ui.icon('verified', color='positive').tooltip(f'verified {item.verified_at:%Y-%m-%d %H:%M}')
                if item.error:
                    ui.label(item.error).classes('text-negative text-sm')
                if item.key:
                    ui.space()
                    verify = ui.button('Verify', icon='rule', on_click=lambda _, i=item: on_verify(i))
                    verify.props('outline dense').mark('verify-button').set_enabled(not busy)
                    restore = ui.button('Restore to…', icon='restore', on_click=lambda _, i=item: on_restore(i))
                    restore.props('outline dense').mark('restore-button').set_enabled(not busy)
    return root


def verify_view(name: str, result: dict[str, Any]) -> ui.element:
    """Ok, or exactly which files are missing or damaged, so the user knows what a restore would lack."""
    with ui.column().classes('gap-0').mark('verify-result') as root:
        if result['ok']:
            ui.label(f'{name}: ok, {result["checked"]} files checked').classes('text-positive')
        else:
            ui.label(f'{name}: verification failed').classes('text-negative font-semibold')
            for path in result['missing']:
                ui.label(f'missing: {path}').classes('text-sm font-mono')
            for path in result['mismatched']:
                ui.label(f'mismatched: {path}').classes('text-sm font-mono')
    return root


class RestoreDialog:
    """Asks where to restore one snapshot; the folder must be new or empty, so nothing is ever overwritten."""

    def __init__(self, on_restore: Callable[[], Any]) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[36rem]'):
            self.title = ui.label().classes('text-lg font-semibold')
            ui.label('Restore rebuilds a data dir in a new or empty folder and never overwrites anything.')
            self.folder = ui.input('Folder to restore into', placeholder='/path/to/new-kroma-home').classes('w-full')
            self.folder.mark('restore-dir')
            self.bar = ui.linear_progress(value=0, show_value=False)
            with ui.row():
                ui.button('Restore', icon='restore', on_click=on_restore).mark('restore-confirm')
                ui.button('Cancel', on_click=self.dialog.close).props('flat')

    def open_for(self, name: str) -> None:
        self.title.set_text(f'Restore {name}')
        self.dialog.open()

    def close(self) -> None:
        self.dialog.close()
