"""`kroma studio --native`: a clear message when pywebview is missing, and the real window opened under Xvfb.

The window test never skips: `make test` installs the native extra, Qt's Debian libraries and Xvfb, so a window that
cannot open is a failure with the reason (the studio's own output) in the message.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageGrab, ImageStat
from Xlib import X, Xatom
from Xlib import display as xdisplay
from Xlib import error as xerror
from Xlib.protocol import event as xevent

from app.native import APT_COMMAND, PIP_COMMAND, NativeUnavailable, check_native, missing_modules, sandbox_flags
from tests.live_studio import free_port

TITLE = 'Kroma Studio'
SCREEN = (1600, 1000)
ARTIFACTS = Path(__file__).resolve().parents[1] / 'artifacts'


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


def test_root_turns_the_web_engine_sandbox_off_once() -> None:
    assert sandbox_flags({}, euid=0) == '--no-sandbox'
    assert sandbox_flags({'QTWEBENGINE_CHROMIUM_FLAGS': '--disable-gpu'}, euid=0) == '--disable-gpu --no-sandbox'
    assert sandbox_flags({'QTWEBENGINE_CHROMIUM_FLAGS': '--no-sandbox'}, euid=0) is None
    assert sandbox_flags({}, euid=1000) is None


@dataclass
class Screen:
    name: str
    conn: xdisplay.Display


@pytest.fixture
def screen() -> Iterator[Screen]:
    """A private Xvfb server; it prints its display number on a pipe once it accepts clients."""
    xvfb = shutil.which('Xvfb')
    if xvfb is None:
        pytest.fail('Xvfb is not installed (make test installs it: apt-get install -y xvfb)')
    read_fd, write_fd = os.pipe()
    size = f'{SCREEN[0]}x{SCREEN[1]}x24'
    cmd = [xvfb, '-displayfd', str(write_fd), '-screen', '0', size, '-nolisten', 'tcp']
    proc = subprocess.Popen(cmd, pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 20)
        number = os.read(read_fd, 32).decode().strip() if ready else ''
        if not number:
            proc.kill()
            pytest.fail(f'Xvfb did not start: {proc.communicate()[1].decode()[-500:]}')
        name = f':{number}'
        conn = xdisplay.Display(name)
        yield Screen(name, conn)
        conn.close()
    finally:
        os.close(read_fd)
        proc.terminate()
        proc.wait(10)


def window_title(conn: xdisplay.Display, window) -> str:
    prop = window.get_full_property(conn.intern_atom('_NET_WM_NAME'), conn.intern_atom('UTF8_STRING'))
    if prop is not None:
        return prop.value.decode('utf-8', 'replace')
    prop = window.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
    return prop.value.decode('latin-1') if prop is not None else ''


def find_window(conn: xdisplay.Display, title: str):
    """A mapped window with this exact title anywhere in the tree (Xvfb has no window manager to ask)."""
    stack = [conn.screen().root]
    while stack:
        window = stack.pop()
        try:
            if window_title(conn, window) == title and window.get_attributes().map_state == X.IsViewable:
                return window
            stack.extend(window.query_tree().children)
        except xerror.XError:
            continue  # a window that went away while we looked
    return None


def window_box(conn: xdisplay.Display, window) -> tuple[int, int, int, int]:
    geometry = window.get_geometry()
    origin = window.translate_coords(conn.screen().root, 0, 0)
    x, y = -origin.x, -origin.y
    return x, y, x + geometry.width, y + geometry.height


def looks_like_the_studio(shot: Image.Image) -> str:
    """'' when the window shows the studio: a coloured header bar and a light navigation column with dark labels."""
    header = shot.crop((0, 0, shot.width, 50)).convert('HSV')
    nav = shot.crop((0, 60, 260, 460)).convert('L')
    hue, sat, val = ImageStat.Stat(header).mean
    if sat < 60 or val < 60:
        return f'no coloured header bar (mean saturation {sat:.0f}, value {val:.0f})'
    light = ImageStat.Stat(nav).mean[0]
    dark = sum(nav.histogram()[:100]) / (nav.width * nav.height)
    if light < 180 or dark < 0.01:
        return f'no navigation labels (mean brightness {light:.0f}, {dark:.1%} dark pixels)'
    return ''


def close_window(conn: xdisplay.Display, window) -> None:
    """What the close button does: WM_DELETE_WINDOW through WM_PROTOCOLS."""
    protocols, delete = conn.intern_atom('WM_PROTOCOLS'), conn.intern_atom('WM_DELETE_WINDOW')
    message = xevent.ClientMessage(window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
    window.send_event(message, event_mask=X.NoEventMask)
    conn.flush()


def test_native_window_opens_shows_the_studio_and_closes(screen: Screen, tmp_path: Path) -> None:
    assert not missing_modules(), f'the native extra is not installed: {missing_modules()} ({PIP_COMMAND})'
    port, log = free_port(), tmp_path / 'studio.log'
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'NICEGUI', 'QTWEBENGINE'))}
    env = {**inherited, 'DISPLAY': screen.name, 'KROMA_HOME': str(tmp_path / 'home')}
    env |= {'KROMA_SCHEDULER_ENABLED': 'false', 'KROMA_DEMO': 'false'}
    kroma = Path(sys.executable).with_name('kroma')
    cmd = [str(kroma), 'studio', '--native', '--port', str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=log.open('w'), stderr=subprocess.STDOUT)

    def reason(what: str) -> str:
        return f'{what}; the studio said:\n{log.read_text()[-3000:]}'

    try:
        window, shot, problem = None, None, 'no window yet'
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, reason(f'the studio exited with {proc.returncode}: the window did not open')
            window = window or find_window(screen.conn, TITLE)
            if window is not None:
                shot = ImageGrab.grab(bbox=window_box(screen.conn, window), xdisplay=screen.name)
                problem = looks_like_the_studio(shot)
                if not problem:
                    break
            time.sleep(0.5)
        if shot is not None:
            ARTIFACTS.mkdir(exist_ok=True)
            shot.save(ARTIFACTS / 'native-window.png')
        assert window is not None, reason(f'no window titled {TITLE!r} appeared within 60 s')
        assert not problem, reason(f'the window does not show the studio: {problem} (see tests/artifacts)')
        assert shot.size[0] >= 1000 and shot.size[1] >= 600, f'the window is only {shot.size}'
        assert httpx.get(f'http://127.0.0.1:{port}/health', timeout=5).json()['ok'] is True
        close_window(screen.conn, window)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(reason('closing the window did not end the studio within 30 s'))
        assert proc.returncode == 0, reason(f'the studio ended with {proc.returncode} after its window closed')
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_blank_or_black_window_is_not_the_studio() -> None:
    assert 'header' in looks_like_the_studio(Image.new('RGB', (1440, 900), 'white'))
    assert 'header' in looks_like_the_studio(Image.new('RGB', (1440, 900), 'black'))
    bar_only = Image.new('RGB', (1440, 900), 'white')
    bar_only.paste((61, 90, 128), (0, 0, 1440, 56))
    assert 'navigation' in looks_like_the_studio(bar_only)
