"""A start button with a progress bar and a status line for slow work that runs in a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from nicegui import run, ui

T = TypeVar('T')


class ThreadProgress:
    """The worker thread only writes plain state; a timer on the UI loop copies it into the elements."""

    def __init__(self, label: str, icon: str, *, mark: str) -> None:
        self._state: dict[str, Any] = {'fraction': 0.0, 'message': ''}
        self.button = ui.button(label, icon=icon).mark(f'{mark}-run')
        self._bar = ui.linear_progress(value=0, show_value=False).props('size=12px rounded').mark(f'{mark}-progress')
        self._status = ui.label().classes('text-sm text-gray-600').mark(f'{mark}-status')
        ui.timer(0.2, self._tick)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call fn(*args, on_progress=...) in a thread; the button stays disabled until it returns or fails."""
        self._state.update(fraction=0.0, message='Starting…')
        self.button.disable()
        try:
            return await run.io_bound(fn, *args, on_progress=self._on_progress)
        finally:
            self.button.enable()
            self._tick()

    def _on_progress(self, fraction: float, message: str) -> None:
        self._state.update(fraction=fraction, message=message)

    def _tick(self) -> None:
        self._bar.set_value(self._state['fraction'])
        self._status.set_text(self._state['message'])
