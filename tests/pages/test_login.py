"""Studio login: every page behind /login when a password is set, none otherwise; binding beyond loopback needs it."""

from __future__ import annotations

import httpx
import pytest
from nicegui import app, ui
from nicegui.testing import User

from app.api import register_api
from pages import login
from pages.login import safe_target
from services.errors import PolicyRefused
from services.security.login import LoginRequired, PasswordCheck, check_bind, hash_password, verify_password


def private_page() -> None:
    @ui.page('/private')
    def page() -> None:
        ui.label('Secret content')


async def test_every_page_needs_the_password(user: User, deps) -> None:
    private_page()
    login.register(deps, login_password='correct horse')
    await user.open('/private')
    await user.should_see(marker='login-password')
    await user.should_not_see('Secret content')
    user.find('login-password').type('wrong')
    user.find('login-submit').click()
    await user.should_see('Wrong password.')
    user.find('login-password').type('correct horse')
    user.find('login-submit').click()
    await user.should_see('Secret content')
    await user.open('/private')  # the session stays signed in
    await user.should_see('Secret content')
    await user.open('/logout')
    await user.should_see(marker='login-password')
    await user.open('/private')
    await user.should_not_see('Secret content')


async def test_the_api_keeps_its_own_auth_behind_a_login(user: User, deps) -> None:
    login.register(deps, login_password='pw')
    register_api(app, deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        assert (await client.get('/health')).status_code == 200
        r = await client.get('/api/projects')
        assert r.status_code == 401 and r.json()['error_code'] == 'unauthorized'
        r = await client.get('/media/demo/x')
        assert r.status_code == 303 and r.headers['location'].startswith('/login?redirect_to=%2Fmedia')


async def test_no_password_no_login(user: User, deps) -> None:
    private_page()
    login.register(deps, login_password=None)
    await user.open('/private')
    await user.should_see('Secret content')


def test_redirect_targets_stay_on_the_studio() -> None:
    assert safe_target('/runs?x=1') == '/runs?x=1'
    for bad in ('https://evil.example', '//evil.example', '/\\evil', '', None, '/login?redirect_to=/x'):
        assert safe_target(bad) == '/'


def test_binding_beyond_loopback_needs_a_password() -> None:
    check_bind('127.0.0.1', None)
    check_bind('::1', '')
    check_bind('localhost', None)
    check_bind('0.0.0.0', 'secret')
    for host in ('0.0.0.0', '192.168.1.5', '::'):
        with pytest.raises(LoginRequired, match='KROMA_LOGIN_PASSWORD'):
            check_bind(host, '  ')


def test_passwords_are_hashed_and_guessing_is_slowed() -> None:
    stored = hash_password('s3cret')
    assert stored.startswith('scrypt$') and 's3cret' not in stored
    assert verify_password('s3cret', stored) and not verify_password('S3cret', stored)
    now = [1000.0]
    check = PasswordCheck(stored, clock=lambda: now[0])  # a pre-hashed setting works too
    for _ in range(5):
        assert check.check('nope') is False
    with pytest.raises(PolicyRefused, match='Too many wrong passwords'):
        check.check('s3cret')
    now[0] += 31
    assert check.check('s3cret') is True
