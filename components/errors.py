"""UI error model: typed errors become a notification with the plain message; anything else a generic one."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from nicegui import ui

from services.errors import KromaError

log = logging.getLogger(__name__)


def show_error(err: KromaError) -> None:
    log.warning('%s (%s/%s)', err.user_message, err.kind, err.code)
    ui.notify(err.user_message, type='negative', multi_line=True, close_button=True)


def notify_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an event handler so a KromaError is shown, never raised into NiceGUI as a stack trace."""
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            except KromaError as e:
                show_error(e)
                return None

        return async_wrapper

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except KromaError as e:
            show_error(e)
            return None

    return wrapper
