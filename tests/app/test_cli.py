"""The real `kroma` command in a subprocess: input over a limit is one plain `error:` line and exit 1, no traceback
(then the same app in-process, which answers the same way a second faster)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from app.wiring import build_deps
from services.projects import projects

ROOT = Path(__file__).resolve().parents[2]


def kroma(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, '-c', 'from app.cli import main; main()', *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_an_over_long_name_is_one_line_and_exit_1(home: Path) -> None:
    done = kroma('project', 'create', 'saga', '--name', 'x' * 10_000)
    assert (done.returncode, done.stdout) == (1, '')
    assert done.stderr == 'error: Name: at most 200 characters (got 10,000).\n'
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        return runner.invoke(cli, list(args))

    done = invoke('provider', 'add', 'y' * 101, '--kind', 'local')
    assert (done.exit_code, done.stderr) == (1, 'error: Account name: at most 100 characters (got 101).\n')
    done = invoke('project', 'create', 'saga', '--name', 'Saga', '--budget', '-5')
    assert done.stderr == 'error: Budget (USD): must be a number from 0 to 1,000,000 (got -5).\n'
    get_settings.cache_clear()
    with build_deps(get_settings()).sessions() as s:
        assert projects.list_projects(s, include_archived=True) == []
    done = invoke('project', 'create', 'saga', '--name', 'Saga')
    assert (done.exit_code, done.stdout.strip()) == (0, 'created saga')
