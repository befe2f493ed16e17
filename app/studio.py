"""`kroma studio`: one NiceGUI process serving the journey pages, the API and the background scheduler."""

from __future__ import annotations

import logging
import secrets as pysecrets

from nicegui import app as nicegui_app
from nicegui import ui

from app.api import register_api
from app.backup_schedule import add_backup_job
from app.guard import RequestGuard
from app.jobs import add_workers, new_scheduler
from app.native import prepare_native
from app.settings import Settings
from app.wiring import build_deps, guard_limits
from pages import register_all
from services.files import ASSETS_DIR
from services.projects.demo import ensure_demo
from services.security.login import check_bind

log = logging.getLogger(__name__)


def run_studio(settings: Settings) -> None:
    """Build everything once, then hand the loop to NiceGUI (browser or native window)."""
    login_password = settings.login_password.get_secret_value() if settings.login_password else None
    check_bind(settings.host, login_password)
    native_kwargs = prepare_native(nicegui_app) if settings.native else {}
    scheduler = new_scheduler(jobstore_url=settings.db_url) if settings.scheduler_enabled else None
    deps = build_deps(settings, scheduler=scheduler)
    if settings.demo:
        ensure_demo(deps.sessions, deps.store)
    if scheduler is not None:
        add_workers(scheduler, deps)
        add_backup_job(scheduler, deps, settings.db_url)
        nicegui_app.on_startup(scheduler.start)
        nicegui_app.on_shutdown(lambda: scheduler.shutdown(wait=False))
    register_all(deps)
    register_api(nicegui_app, deps)
    nicegui_app.add_middleware(RequestGuard, limits=guard_limits(settings))  # outermost: before login and routes
    nicegui_app.add_static_files('/static', str(ASSETS_DIR))
    storage_secret = settings.storage_secret.get_secret_value() if settings.storage_secret else pysecrets.token_hex(16)
    log.info('Kroma Studio on http://%s:%s (data dir %s)', settings.host, settings.port, deps.data_dir)
    ui.run(
        host=settings.host,
        port=settings.port,
        title='Kroma Studio',
        reload=False,
        show=False,
        storage_secret=storage_secret,
        favicon='🎨',
        dark=None,
        **native_kwargs,
    )
