"""Shared CLI plumbing: typed errors become one line on stderr and a non-zero exit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from app.logging import configure_logging
from app.settings import Settings, get_settings
from app.wiring import build_deps
from services.deps import Deps
from services.errors import KromaError


def fail(message: str, code: int = 1) -> None:
    typer.echo(f'error: {message}', err=True)
    raise typer.Exit(code)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Typed errors become one line on stderr and exit code 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KromaError as e:
            fail(e.user_message)

    return wrapper


def deps_for_cli(settings: Settings | None = None, *, allow_new_master_key: bool = False) -> Deps:
    settings = settings or get_settings()
    configure_logging(settings.data_dir, 'WARNING')
    return build_deps(settings, allow_new_master_key=allow_new_master_key)
