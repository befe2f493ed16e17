"""`kroma studio --native`: a clear message when pywebview is missing; a real window under Xvfb when it is present."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.native import APT_COMMAND, PIP_COMMAND, NativeUnavailable, check_native, missing_modules

HAS_WEBVIEW = not missing_modules()


def test_missing_packages_name_the_exact_commands() -> None:
    def nothing(name: str) -> None:
        return None

    with pytest.raises(NativeUnavailable) as e:
        check_native(find_spec=nothing, platform='linux', environ={'DISPLAY': ':0'})
    assert PIP_COMMAND in e.value.user_message and APT_COMMAND in e.value.user_message
    assert 'libxcb-cursor0' in APT_COMMAND and 'kroma-studio[native]' in PIP_COMMAND
    with pytest.raises(NativeUnavailable, match='DISPLAY'):
        check_native(find_spec=lambda name: object(), platform='linux', environ={})
    check_native(find_spec=lambda name: object(), platform='linux', environ={'WAYLAND_DISPLAY': 'wayland-0'})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_native_window(tmp_path: Path) -> None:
    """Without pywebview: the clear error. With it: the studio opens its window under Xvfb and stays up."""
    if not HAS_WEBVIEW:
        with pytest.raises(NativeUnavailable) as e:
            check_native()
        assert PIP_COMMAND in e.value.user_message
        return
    kroma = Path(sys.executable).with_name('kroma')
    display = os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')
    xvfb = shutil.which('xvfb-run')
    if not display and not xvfb:
        pytest.fail('pywebview is installed but there is no display and no xvfb-run: apt-get install -y xvfb')
    assert importlib.util.find_spec('PyQt6') is not None
    port = free_port()
    env = {
        **os.environ,
        'KROMA_HOME': str(tmp_path / 'home'),
        'KROMA_SCHEDULER_ENABLED': 'false',
        'KROMA_DEMO': 'false',
    }
    cmd = [str(kroma), 'studio', '--native', '--port', str(port)]
    proc = subprocess.Popen(([xvfb, '-a'] if not display else []) + cmd, env=env, cwd=tmp_path)  # type: ignore[list-item]
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            assert proc.poll() is None, 'the studio exited: the native window failed to open'
            try:
                if httpx.get(f'http://127.0.0.1:{port}/', timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail('the studio did not serve its first page within 40 s')
        time.sleep(5)  # NiceGUI ends the server when the window process dies, so still running means the window is up
        assert proc.poll() is None, 'the window process died after start'
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
