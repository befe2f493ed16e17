"""Setup (J00, R02): provider accounts with encrypted keys, a connection test that names the problem, key status."""

from __future__ import annotations

import logging
from typing import Any

from nicegui import ui

from components.errors import notify_errors
from components.provider_forms import LOCAL_NOTE, TESTABLE, AccountForm, KeyForm, Values, account_card, secrets_status
from components.theme import current_project, frame
from models.provider import ProviderAccountCreate, ProviderAccountRead, ProviderAccountUpdate
from pages.common import picked_project, project_slugs
from services.deps import Deps
from services.errors import Invalid, parse
from services.providers import accounts as provider_accounts
from services.providers.registry import build_provider
from services.security.secrets import SecretStore

log = logging.getLogger(__name__)


def register(deps: Deps) -> None:
    @ui.page('/setup')
    def setup_page() -> None:
        slugs = project_slugs(deps)
        project = picked_project(deps) if current_project() in slugs else None
        project_id = project.id if project else None
        scopes = {'global': 'All projects', **({project.id: f'Only {project.name}'} if project else {})}
        with frame('Setup', project_slugs=slugs):
            ui.label('Provider accounts').classes('text-2xl font-semibold')
            ui.label(LOCAL_NOTE).classes('text-gray-600').mark('local-note')

            def store() -> SecretStore:
                if deps.secrets is None:
                    raise Invalid('Keys cannot be stored: this studio has no secrets store configured.')
                return deps.secrets

            @notify_errors
            def save_account(values: Values, account_id: str | None) -> None:
                key = values.pop('key')
                scope = values.pop('scope')
                if account_id:
                    patch = {k: values[k] for k in ('name', 'base_url', 'model', 'options')}
                    update = parse(ProviderAccountUpdate, patch)
                    with deps.sessions() as s:
                        saved = provider_accounts.update_account(
                            s,
                            account_id,
                            update,
                            secrets=deps.secrets,
                            allow_link_local=deps.options.allow_link_local_urls,
                        )
                        if key:
                            saved = provider_accounts.set_key(s, store(), account_id, key)
                else:
                    data = parse(ProviderAccountCreate, values, api_key=key or None)
                    owner = None if scope == 'global' else scope
                    with deps.sessions() as s:
                        saved = provider_accounts.create_account(
                            s,
                            data,
                            project_id=owner,
                            secrets=deps.secrets,
                            allow_link_local=deps.options.allow_link_local_urls,
                        )
                form.close()
                ui.notify(f'Saved {saved.name}' + (f' (key {saved.key_hint})' if key else ''), type='positive')
                refresh()

            @notify_errors
            def save_key(account_id: str, value: str) -> None:
                with deps.sessions() as s:
                    saved = provider_accounts.set_key(s, store(), account_id, value)
                keys.close()
                ui.notify(f'Key saved for {saved.name}: {saved.key_hint}', type='positive')
                refresh()

            @notify_errors
            async def test(account: ProviderAccountRead, button: ui.button) -> None:
                if account.kind.value not in TESTABLE:
                    raise Invalid(f'{account.kind.value} keys are checked on first use; there is no free test call.')
                button.props('loading')
                try:
                    health = await check(account.id)
                finally:
                    if not button.is_deleted:  # a refresh may have rebuilt the card meanwhile
                        button.props(remove='loading')
                ui.notify(health['message'], type='positive' if health['ok'] else 'negative', multi_line=True)
                refresh()

            async def check(account_id: str) -> dict[str, Any]:
                """The key is decrypted into this call's config only; nothing keeps the config afterwards."""
                with deps.sessions() as s:
                    config = provider_accounts.provider_config(s, account_id, secrets=deps.secrets)
                result = await build_provider(config).health()
                health = {'ok': result.ok, 'message': result.message, 'code': result.code}
                health['latency_ms'] = result.latency_ms
                with deps.sessions() as s:
                    provider_accounts.record_health(s, account_id, health)
                log.info('connection test for %s (%s): %s', config.name, config.kind, result.code)
                return health

            @notify_errors
            def delete(account_id: str) -> None:
                with deps.sessions() as s:
                    provider_accounts.delete_account(s, account_id, secrets=deps.secrets)
                confirm.close()
                ui.notify('Account and its stored key deleted')
                refresh()

            def ask_delete(account: ProviderAccountRead) -> None:
                picked['id'] = account.id
                confirm_text.set_text(f'Delete {account.name}? Its stored key is deleted too; this cannot be undone.')
                confirm.open()

            form = AccountForm(scopes=scopes, on_save=save_account)
            keys = KeyForm(on_save=save_key)
            picked: dict[str, str] = {}
            with ui.dialog() as confirm, ui.card():
                confirm_text = ui.label()
                with ui.row():
                    ui.button('Delete', color='negative', on_click=lambda: delete(picked['id'])).mark('confirm-delete')
                    ui.button('Cancel', on_click=confirm.close).props('flat')

            @ui.refreshable
            def accounts() -> None:
                with deps.sessions() as s:
                    rows = provider_accounts.list_accounts(s, project_id=project_id, secrets=deps.secrets)
                if not rows:
                    ui.label('No accounts yet: add one, or run with the built-in offline renderer.').mark('no-accounts')
                for a in rows:
                    scope = 'all projects' if a.project_id is None else f'only {project.name if project else "?"}'
                    account_card(
                        a, scope=scope, on_test=test, on_edit=form.open_edit, on_key=keys.open, on_delete=ask_delete
                    )

            @ui.refreshable
            def key_status() -> None:
                if deps.secrets is None:
                    secrets_status(None, key_file=deps.key_file)
                    return
                with deps.sessions() as s:
                    secrets_status(deps.secrets.status(s), key_file=deps.key_file)

            def refresh() -> None:
                accounts.refresh()
                key_status.refresh()

            ui.button('Add account', icon='add', on_click=form.open_add).mark('add-account')
            accounts()
            key_status()
