"""Credentials never ride in a provider's base URL: refused before anything is stored, logged or audited."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import select

from models.base import ProviderKind
from models.ops import AuditEvent
from models.provider import ProviderAccount, ProviderAccountCreate, ProviderAccountUpdate
from services.errors import Invalid
from services.providers import accounts as provider_accounts
from services.security.outbound import credential_in, safe_url

SECRET = 'sk-proj-Zq81xVb40mWl2Rt7Ka9P'
WITH_CREDENTIALS = [
    (f'https://kroma:{SECRET}@api.example.com', 'user:pass@'),
    (f'https://proxy.example.com/{SECRET}/v1', 'token in the path'),
    (f'https://proxy.example.com/v1?api_key={SECRET}', 'api_key=…'),
    ('https://gw.example.com/v1?token=abc', 'token=…'),
    ('https://gw.example.com/keys/3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a/v1', 'token in the path'),
]
FINE = [
    'https://api.openai.com',
    'http://127.0.0.1:8188',
    'https://studio.openai.azure.com/openai/deployments/gpt-image-2',
    'https://gpu.example.com/comfy/5b8f3c2e-1d4a-4e6b-9c7d-0a1b2c3d4e5f',
]


@pytest.mark.parametrize('url, where', WITH_CREDENTIALS)
def test_credentials_in_a_base_url_are_found(url: str, where: str) -> None:
    assert where in credential_in(url)
    assert 'example.com' in safe_url(url) and SECRET not in safe_url(url) and 'abc' not in safe_url(url)


@pytest.mark.parametrize('url', FINE)
def test_ordinary_base_urls_pass(url: str) -> None:
    assert credential_in(url) == '' and safe_url(url) == url


@pytest.mark.parametrize('url, where', WITH_CREDENTIALS)
def test_an_account_with_credentials_in_its_url_is_refused_and_nothing_is_kept(
    sessions, caplog, url: str, where: str
) -> None:
    caplog.set_level(logging.DEBUG)
    with sessions() as s, pytest.raises(Invalid) as refused:
        provider_accounts.create_account(s, ProviderAccountCreate(name='leaky', kind=ProviderKind.openai, base_url=url))
    assert refused.value.code == 'credentials_in_url' and 'API key field' in refused.value.user_message
    assert SECRET not in refused.value.user_message and url not in refused.value.user_message
    with sessions() as s:
        account = provider_accounts.create_account(
            s, ProviderAccountCreate(name='fine', kind=ProviderKind.openai, base_url='https://api.example.com')
        )
    with sessions() as s, pytest.raises(Invalid, match='API key field'):
        provider_accounts.update_account(s, account.id, ProviderAccountUpdate(base_url=url))
    with sessions() as s:
        assert [a.base_url for a in s.exec(select(ProviderAccount)).all()] == ['https://api.example.com']
        assert all(SECRET not in str(e.payload) for e in s.exec(select(AuditEvent)).all())
    assert SECRET not in caplog.text
