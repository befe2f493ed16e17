"""J00/R02 in the UI: add an OpenAI account, test its key, replace a bad key, and never see the key again."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from nicegui.testing import User
from sqlmodel import select

from models.ops import AuditEvent
from pages import setup
from services.deps import Deps
from services.projects.assets import AssetStore
from services.providers import accounts as provider_accounts
from services.security.secrets import KeyRing, MasterKey, SecretStore
from tests.fakes.openai_server import FakeOpenAIServer

GOOD = 'sk-kroma-setup-GOOD-7Qx2'
BAD = 'sk-kroma-setup-BAD-Zk41'


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(valid_keys=(GOOD,)) as server:
        yield server


@pytest.fixture
def secret_deps(sessions, data_dir) -> Deps:
    store = SecretStore(KeyRing(MasterKey.from_bytes(b'k' * 32)))
    return Deps(data_dir=data_dir, sessions=sessions, store=AssetStore(data_dir), secrets=store)


def page_payload(user: User) -> str:
    """Everything the browser was given for this page: texts, props and input values."""
    with user as client:
        return json.dumps([el._to_dict() for el in client.elements.values()], default=str, ensure_ascii=False)


def key_values(user: User, marker: str) -> list[str]:
    return [el.value for el in user.find(marker).elements]


async def test_connection_key_rejected_then_replaced(user: User, secret_deps: Deps, fake: FakeOpenAIServer) -> None:
    setup.register(secret_deps)
    await user.open('/setup')
    await user.should_see(marker='local-note', content='offline renderer')
    user.find('add-account').click()
    user.find('account-name').type('openai-main')
    user.find('account-base-url').type(fake.base_url)
    user.find('account-key-input').type(GOOD)
    user.find('account-save').click()
    await user.should_see(marker='account-key-hint', content='••••7Qx2')
    assert key_values(user, 'account-key-input') == ['']

    user.find('account-test').click()
    await user.should_see('Key accepted')
    await user.should_see(marker='account-health', content='ok')

    user.find('account-key').click()
    user.find('key-input').type(BAD)
    user.find('save-key').click()
    await user.should_see(marker='account-key-hint', content='••••Zk41')
    await user.should_see(marker='account-health', content='not tested')
    assert key_values(user, 'key-input') == ['']
    user.notify.messages.clear()
    user.find('account-test').click()
    await user.should_see('rejected the API key')
    await user.should_see(marker='account-health', content='key rejected')

    user.find('account-key').click()
    user.find('key-input').type(GOOD)
    user.find('save-key').click()
    await user.should_see(marker='account-key-hint', content='••••7Qx2')
    await user.should_see(marker='account-health', content='not tested')
    user.notify.messages.clear()
    user.find('account-test').click()
    await user.should_see('Key accepted')
    await user.should_see(marker='account-health', content='ok')
    assert key_values(user, 'key-input') == ['']
    payload = page_payload(user)
    assert GOOD not in payload and BAD not in payload
    assert '••••7Qx2' in payload
    assert [r.auth_ok for r in fake.requests] == [True, False, True]


async def test_unknown_model_and_unreachable_host_are_named(
    user: User, secret_deps: Deps, fake: FakeOpenAIServer
) -> None:
    with secret_deps.sessions() as s:
        provider_accounts.create_account(
            s,
            provider_accounts.ProviderAccountCreate(
                name='typo', kind='openai', base_url=fake.base_url, model='gpt-imag', api_key=GOOD
            ),
            secrets=secret_deps.secrets,
        )
        provider_accounts.create_account(
            s,
            provider_accounts.ProviderAccountCreate(
                name='gone', kind='comfyui', base_url='http://127.0.0.1:9', options={'timeout_s': 2}
            ),
        )
    setup.register(secret_deps)
    await user.open('/setup')
    user.find('test-typo').click()
    await user.should_see("does not know the model 'gpt-imag'")
    user.find('test-gone').click()
    await user.should_see('Cannot reach host 127.0.0.1:9')
    await user.should_see(marker='account-health', content='unreachable')


async def test_edit_delete_and_key_status(user: User, secret_deps: Deps) -> None:
    setup.register(secret_deps)
    await user.open('/setup')
    await user.should_see(marker='master-key-location', content='from KROMA_MASTER_KEY')
    await user.should_see('No plaintext rows')
    user.find('add-account').click()
    user.find('account-name').type('bg')
    user.find('account-kind').elements.pop().value = 'removebg'
    user.find('account-key-input').type('rbg-key-0123456789')
    user.find('account-save').click()
    await user.should_see('••••6789')
    await user.should_see(marker='key-ref-row', content='1 row(s) (current)')

    user.find('account-edit').click()
    user.find('account-name').clear().type('cutouts')
    user.find('account-timeout').elements.pop().value = 30
    user.find('account-save').click()
    await user.should_see('timeout_s=30')
    await user.should_see('cutouts')

    user.find('account-delete').click()
    user.find('confirm-delete').click()
    await user.should_see(marker='no-accounts')
    with secret_deps.sessions() as s:
        assert secret_deps.secrets.status(s)['total'] == 0
        events = s.exec(select(AuditEvent)).all()
    actions = sorted(e.action.removeprefix('provider_account.') for e in events)
    assert actions == ['create', 'delete', 'set_key', 'update']
    assert 'rbg-key-0123456789' not in json.dumps([e.payload for e in events])
