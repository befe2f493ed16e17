"""Setup page pieces: account cards, the add/edit form, the key form and the secrets key status."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nicegui import ui

from models.provider import ProviderAccountRead

KINDS = {
    'local': 'Built-in offline renderer',
    'openai': 'OpenAI Images API',
    'comfyui': 'ComfyUI server',
    'removebg': 'remove.bg (background removal)',
    'photoroom': 'PhotoRoom (background removal)',
}
TESTABLE = ('local', 'openai', 'comfyui')
HEALTH_LABELS = {
    'ok': 'ok',
    'auth': 'key rejected',
    'unknown_model': 'unknown model',
    'unreachable': 'unreachable',
    'timeout': 'timeout',
    'tls': 'TLS error',
    'rate_limited': 'rate limited',
    'bad_response': 'bad response',
}
LOCAL_NOTE = (
    'The built-in "local" provider is an offline renderer: real image processing (colour transfer from your style '
    'references, ink lines, flat tones), not an AI model. It needs no key and no network, and the same seed always '
    'gives the same pixels.'
)
Values = dict[str, Any]


def kebab(name: str) -> str:
    """Markers are whitespace-separated, so account names become one kebab token."""
    return re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-') or 'account'


def health_badge(health: dict[str, Any]) -> None:
    """The last health check as a badge plus the exact sentence the provider check produced."""
    if not health:
        ui.badge('not tested', color='grey').mark('account-health')
        return
    code = str(health.get('code') or ('ok' if health.get('ok') else 'failed'))
    ui.badge(HEALTH_LABELS.get(code, code), color='positive' if health.get('ok') else 'negative').mark('account-health')
    checked = str(health.get('checked_at', ''))[:16].replace('T', ' ')
    ui.label(f'{health.get("message", "")} ({checked} UTC)').classes('text-sm text-gray-600').mark('account-health-msg')


def account_card(
    account: ProviderAccountRead,
    *,
    scope: str,
    on_test: Callable[[ProviderAccountRead, ui.button], Any],
    on_edit: Callable[[ProviderAccountRead], Any],
    on_key: Callable[[ProviderAccountRead], Any],
    on_delete: Callable[[ProviderAccountRead], Any],
) -> ui.card:
    """One account: what it points at, its key hint (never the key), its last health and its actions."""
    kind = account.kind.value
    tag = kebab(account.name)
    with ui.card().classes('w-full gap-1').mark('account-card', f'account-{tag}') as card:
        with ui.row().classes('items-center gap-3'):
            ui.label(account.name).classes('text-lg font-semibold')
            ui.badge(kind, color='primary')
            ui.label(scope).classes('text-sm text-gray-600')
            health_badge(account.health)
        details = [
            f'URL {account.base_url}' if account.base_url else '',
            f'model {account.model}' if account.model else '',
        ]
        details += [f'{k}={v}' for k, v in sorted(account.options.items()) if k != 'workflow']
        ui.label(' · '.join(d for d in details if d) or KINDS.get(kind, kind)).classes('text-sm font-mono')
        if kind == 'local':
            ui.label(LOCAL_NOTE).classes('text-sm text-gray-600')
        else:
            key = f'key {account.key_hint}' if account.has_key else 'no key stored'
            ui.label(key).classes('text-sm font-mono').mark('account-key-hint', f'key-hint-{tag}')
        with ui.row().classes('gap-2'):
            if kind in TESTABLE:
                ui.button('Test connection', icon='network_check', on_click=lambda e: on_test(account, e.sender)).mark(
                    'account-test', f'test-{tag}'
                )
            if kind != 'local':
                label = 'Replace key' if account.has_key else 'Enter key'
                ui.button(label, icon='key', on_click=lambda: on_key(account)).props('outline').mark(
                    'account-key', f'key-{tag}'
                )
            ui.button('Edit', icon='edit', on_click=lambda: on_edit(account)).props('outline').mark('account-edit')
            ui.button('Delete', icon='delete', on_click=lambda: on_delete(account)).props(
                'outline color=negative'
            ).mark('account-delete', f'delete-{tag}')
    return card


class AccountForm:
    """Add or edit an account in a dialog; the optional key field is emptied the moment it has been read."""

    def __init__(self, *, scopes: dict[str, str], on_save: Callable[[Values, str | None], Any]) -> None:
        self._on_save = on_save
        self._editing: str | None = None
        with ui.dialog() as self.dialog, ui.card().classes('w-[34rem] gap-2'):
            self.title = ui.label().classes('text-lg font-semibold')
            self.name = ui.input('Name').classes('w-full').mark('account-name')
            self.kind = ui.select(KINDS, value='openai', label='Kind').classes('w-full').mark('account-kind')
            self.scope = ui.select(scopes, value=next(iter(scopes)), label='Used by').classes('w-full')
            self.scope.mark('account-scope')
            self.base_url = ui.input('Base URL (empty = the provider default)').classes('w-full')
            self.base_url.mark('account-base-url')
            self.model = ui.input('Model / checkpoint (empty = the default)').classes('w-full').mark('account-model')
            with ui.row().classes('w-full gap-2'):
                self.concurrency = ui.number('Concurrent calls', min=1, max=32, precision=0).classes('w-36')
                self.timeout = ui.number('Timeout (s)', min=1, max=900).classes('w-36').mark('account-timeout')
            self.key = ui.input('API key (stored encrypted, never shown again; empty = none or keep)', password=True)
            self.key.props('autocomplete=new-password').classes('w-full').mark('account-key-input')
            self.key.bind_visibility_from(self.kind, 'value', lambda k: k != 'local')
            with ui.row():
                ui.button('Save', icon='save', on_click=self._save).mark('account-save')
                ui.button('Cancel', on_click=self.close).props('flat')

    def open_add(self) -> None:
        self._editing = None
        self.title.set_text('Add a provider account')
        for field in (self.name, self.base_url, self.model, self.key):
            field.value = ''
        self.concurrency.value = self.timeout.value = None
        self.kind.enable()
        self.scope.enable()
        self.dialog.open()

    def open_edit(self, account: ProviderAccountRead) -> None:
        self._editing = account.id
        self.title.set_text(f'Edit {account.name}')
        self.name.value, self.base_url.value, self.model.value = account.name, account.base_url, account.model
        self.kind.value = account.kind.value
        self.scope.value = account.project_id if account.project_id in self.scope.options else 'global'
        self.concurrency.value = account.options.get('concurrency')
        self.timeout.value = account.options.get('timeout_s')
        self.key.value = ''
        self.kind.disable()
        self.scope.disable()
        self.dialog.open()

    def close(self) -> None:
        self.key.value = ''
        self.dialog.close()

    def _save(self) -> Any:
        options: Values = {}
        if self.concurrency.value:
            options['concurrency'] = int(self.concurrency.value)
        if self.timeout.value:
            options['timeout_s'] = float(self.timeout.value)
        values = {
            'name': self.name.value or '',
            'kind': self.kind.value,
            'scope': self.scope.value,
            'base_url': self.base_url.value or '',
            'model': self.model.value or '',
            'options': options,
            'key': self.key.value or '',
        }
        self.key.value = ''
        return self._on_save(values, self._editing)


class KeyForm:
    """Enter or replace one account's key (R02) in a password field that is emptied as soon as it is read."""

    def __init__(self, *, on_save: Callable[[str, str], Any]) -> None:
        self._on_save = on_save
        self._account_id = ''
        with ui.dialog() as self.dialog, ui.card().classes('w-[30rem] gap-2'):
            self.title = ui.label().classes('text-lg font-semibold')
            ui.label('The key is encrypted at once; afterwards only its last four characters are shown.').classes(
                'text-sm text-gray-600'
            )
            self.key = ui.input('API key', password=True).props('autocomplete=new-password').classes('w-full')
            self.key.mark('key-input')
            with ui.row():
                ui.button('Save key', icon='save', on_click=self._save).mark('save-key')
                ui.button('Cancel', on_click=self.close).props('flat')

    def open(self, account: ProviderAccountRead) -> None:
        self._account_id = account.id
        self.title.set_text(f'{"Replace" if account.has_key else "Enter"} the key for {account.name}')
        self.key.value = ''
        self.dialog.open()

    def close(self) -> None:
        self.key.value = ''
        self.dialog.close()

    def _save(self) -> Any:
        value, self.key.value = self.key.value or '', ''
        return self._on_save(self._account_id, value)


def secrets_status(status: dict[str, Any] | None, *, key_file: Path | None) -> ui.card:
    """Which master key encrypts the stored keys, how many rows use each key ref, and any plaintext left over."""
    with ui.card().classes('w-full gap-1').mark('secrets-status') as card:
        ui.label('Stored keys').classes('text-lg font-semibold')
        where = str(key_file) if key_file else 'from KROMA_MASTER_KEY'
        ui.label(f'Master key: {where}').classes('font-mono text-sm').mark('master-key-location')
        if status is None:
            ui.label('The secrets store is not configured in this studio.').classes('text-warning')
            return card
        ui.label(f'Current key ref {status["current_key_ref"]}: {status["total"]} stored key(s)').classes('text-sm')
        for ref in status['key_refs']:
            note = 'current' if ref['is_current'] else ('old, configured' if ref['configured'] else 'old, MISSING')
            ui.label(f'{ref["key_ref"]}: {ref["count"]} row(s) ({note})').classes('font-mono text-sm').mark(
                'key-ref-row'
            )
        plain = status['plaintext']
        text = f'{plain} plaintext row(s): run `kroma secrets rotate` to encrypt them' if plain else 'No plaintext rows'
        ui.label(text).classes('text-sm' + (' text-negative' if plain else '')).mark('plaintext-rows')
        if any(not r['is_current'] for r in status['key_refs']):
            ui.label('Some rows use an older key: run `kroma secrets rotate`.').classes('text-sm text-warning')
    return card
