"""`kroma studio --native`: the studio in a desktop window (NiceGUI native mode, pywebview with its Qt backend)."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from services.errors import KromaError

log = logging.getLogger(__name__)

PIP_COMMAND = "pip install 'kroma-studio[native]'"
# What the PyQt6 / Qt WebEngine wheels need from a Debian or Ubuntu system (Qt's xcb platform plugin and Chromium).
APT_PACKAGES = (
    'libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 '
    'libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 '
    'libxcb-xkb1 libnss3 libxcomposite1 libxdamage1 libxrandr2 libxtst6 libxkbfile1 libudev1 libasound2t64'
)
APT_COMMAND = f'sudo apt-get install -y {APT_PACKAGES}'
MODULES = ('webview', 'qtpy', 'PyQt6', 'PyQt6.QtWebEngineWidgets')
WINDOW_SIZE = (1440, 900)
CHROMIUM_FLAGS, NO_SANDBOX = 'QTWEBENGINE_CHROMIUM_FLAGS', '--no-sandbox'


class NativeUnavailable(KromaError):
    """The desktop window cannot open here; the message says exactly what to install."""

    status, kind, code = 500, 'infra', 'native_unavailable'


def missing_modules(find_spec: Callable[[str], Any] = importlib.util.find_spec) -> list[str]:
    """The Python modules of kroma[native] that cannot be found (a missing parent package counts as missing)."""
    missing = []
    for name in MODULES:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def check_native(
    *,
    find_spec: Callable[[str], Any] = importlib.util.find_spec,
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
) -> None:
    """Fail before the server starts, with the exact commands, instead of NiceGUI's late one-line error."""
    missing = missing_modules(find_spec)
    if missing:
        raise NativeUnavailable(
            f'--native needs the optional desktop-window packages ({", ".join(missing)} not found). '
            f'Install them with `{PIP_COMMAND}`'
            + (f'; on Debian/Ubuntu Qt also needs: `{APT_COMMAND}`' if platform.startswith('linux') else '')
            + '. Or leave out --native and open the studio in a browser.'
        )
    if platform.startswith('linux') and not (environ.get('DISPLAY') or environ.get('WAYLAND_DISPLAY')):
        raise NativeUnavailable(
            '--native needs a desktop session (neither DISPLAY nor WAYLAND_DISPLAY is set). '
            'Run it on the desktop, under `xvfb-run -a kroma studio --native` for a headless check, '
            'or leave out --native and open the studio in a browser.'
        )


def sandbox_flags(environ: Mapping[str, str], euid: int) -> str | None:
    """Chromium inside Qt WebEngine refuses to start as root with its sandbox on; the new flags, or None if fine."""
    flags = environ.get(CHROMIUM_FLAGS, '')
    if euid != 0 or NO_SANDBOX in flags.split():
        return None
    return f'{flags} {NO_SANDBOX}'.strip()


def prepare_native(app: Any) -> dict[str, Any]:
    """Check, pick pywebview's Qt backend, and return the extra ui.run() arguments for the window."""
    check_native()
    app.native.start_args['gui'] = 'qt'
    flags = sandbox_flags(os.environ, os.geteuid() if hasattr(os, 'geteuid') else -1)
    if flags is not None:  # the window process is spawned later and inherits this environment
        os.environ[CHROMIUM_FLAGS] = flags
        log.warning("running as root: the window's web engine runs without its sandbox (%s)", NO_SANDBOX)
    log.info('opening the studio in a native window (pywebview, Qt)')
    return {'native': True, 'window_size': WINDOW_SIZE}
