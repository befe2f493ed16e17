"""Studio login (/login, /logout): with a login password configured, every page needs a signed-in browser."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from nicegui import app, run, ui
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware

from components.errors import show_error
from services.deps import Deps
from services.errors import KromaError
from services.security.login import PasswordCheck

log = logging.getLogger(__name__)

# the API has its own bearer tokens; NiceGUI's internals serve only clients of pages that already passed the login
OPEN_PREFIXES = ('/_nicegui', '/api/', '/auth/')
OPEN_PATHS = {'/login', '/health', '/docs', '/openapi.json', '/favicon.ico', '/api', '/auth'}


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def safe_target(target: str | None) -> str:
    """Only a path on this studio: never another site (open redirect) and never back to /login."""
    if not target or not target.startswith('/') or target.startswith('//') or '\\' in target:
        return '/'
    return '/' if target.startswith('/login') else target


class LoginMiddleware(BaseHTTPMiddleware):
    """Sends every page request of a browser that is not signed in to /login, remembering where it was going."""

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if is_open(request.url.path) or app.storage.user.get('authenticated', False):
            return await call_next(request)
        target = request.url.path + (f'?{request.url.query}' if request.url.query else '')
        return RedirectResponse(f'/login?redirect_to={quote(target, safe="")}', status_code=303)


def configured_password(deps: Deps, login_password: str | None) -> str | None:
    """The password handed in by app/, else the one in the studio options (never the environment)."""
    if login_password is not None:
        return login_password.strip() or None
    return deps.options.login_password


def register(deps: Deps, login_password: str | None = None) -> None:
    """Without a password nothing is registered: a loopback studio needs no login."""
    password = configured_password(deps, login_password)
    if password is None:
        return
    check = PasswordCheck(password)
    if not any(m.cls is LoginMiddleware for m in app.user_middleware):
        # appended, not inserted: it must run inside NiceGUI's session and request-tracking middleware
        app.user_middleware.append(Middleware(LoginMiddleware))

    @ui.page('/login', title='Kroma Studio · Sign in')
    def login_page(redirect_to: str = '/') -> RedirectResponse | None:
        target = safe_target(redirect_to)
        if app.storage.user.get('authenticated', False):
            return RedirectResponse(target)

        async def sign_in() -> None:
            try:
                ok = await run.io_bound(check.check, password_input.value or '')
            except KromaError as e:
                show_error(e)
                return
            if not ok:
                password_input.value = ''
                ui.notify('Wrong password.', type='negative')
                return
            app.storage.user['authenticated'] = True
            log.info('studio login')
            ui.navigate.to(target)

        with ui.card().classes('absolute-center w-80 gap-4'):
            ui.label('Kroma Studio').classes('text-xl font-bold')
            password_input = ui.input('Password', password=True, password_toggle_button=True).classes('w-full')
            password_input.mark('login-password').on('keydown.enter', sign_in)
            ui.button('Sign in', icon='login', on_click=sign_in).classes('w-full').mark('login-submit')
        return None

    @ui.page('/logout')
    def logout_page() -> RedirectResponse:
        app.storage.user['authenticated'] = False
        return RedirectResponse('/login', status_code=303)
