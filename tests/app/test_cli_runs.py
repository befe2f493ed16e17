"""`kroma run` against a temporary KROMA_HOME: failures say why in the output and in run.json."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from tests.fakes.comfyui_server import FakeComfyUIServer
from tests.fakes.openai_server import FakeOpenAIServer

Kroma = Callable[..., Result]


@pytest.fixture
def kroma(home: Path) -> Kroma:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        get_settings.cache_clear()
        return runner.invoke(cli, list(args), input=stdin)

    assert invoke('demo').exit_code == 0
    return invoke


def run_log(home: Path, run_id: str) -> dict:
    return json.loads(next(home.glob(f'projects/demo/runs/{run_id}/run.json')).read_text())


def test_a_wrong_master_key_is_told_in_the_output_and_the_log(
    kroma: Kroma, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer() as server:
        add = ['provider', 'add', 'paid', '--kind', 'openai', '--base-url', server.base_url, '--key-stdin']
        assert kroma(*add, stdin='sk-test-good').exit_code == 0
        monkeypatch.setenv('KROMA_MASTER_KEY', base64.urlsafe_b64encode(os.urandom(32)).decode())
        result = kroma('run', 'demo', '--provider', 'paid', '--candidates', '1', '--mode', 'run', '--confirm-spend')
        assert server.image_requests() == []
    assert result.exit_code == 1, result.output
    run_id = result.stdout.splitlines()[0]
    assert 'Launch pad: failed: Secret openai/account:' in result.stdout
    assert 'which is not configured' in result.stdout and 'KROMA_MASTER_KEY_PREVIOUS' in result.stdout
    log = run_log(home, run_id)
    assert log['run']['status'] == 'failed' and all('not configured' in j['error'] for j in log['jobs'])


def test_a_free_provider_runs_without_confirming_spend(kroma: Kroma, home: Path) -> None:
    with FakeComfyUIServer(latency_s=0.05) as server:
        add = ['provider', 'add', 'gpu', '--kind', 'comfyui', '--base-url', server.base_url]
        assert kroma(*add, '--model', 'sdxl_comic.safetensors').exit_code == 0
        result = kroma('run', 'demo', '--provider', 'gpu', '--candidates', '2', '--mode', 'run', '--wait')
        uploads = [r for r in server.requests if r.path == '/upload/image']
    assert result.exit_code == 0, result.output
    assert 'total $0.00' in result.stdout and 'done 6/6' in result.stdout
    assert len(uploads) == 3  # the three scenes, once each; the unused style references stay home
    assert run_log(home, result.stdout.splitlines()[0])['run']['status'] == 'done'


def test_cancel_rewrites_the_log(kroma: Kroma, home: Path) -> None:
    from app.wiring import build_deps
    from models.base import Stage
    from services.projects import projects
    from services.runs import control as runs
    from services.runs.plan import RunRequest

    deps = build_deps(get_settings())
    with deps.sessions() as s:
        demo = projects.get_project(s, 'demo')
        run_id = runs.start(
            s, demo, RunRequest(stage=Stage.style, mode='run'), project_root=deps.store.root(demo)
        ).run_id
    deps.engine.dispose()
    assert run_log(home, run_id)['run']['status'] == 'queued'
    result = kroma('run', 'cancel', run_id)
    assert result.exit_code == 0, result.output
    assert run_log(home, run_id)['run']['status'] == 'canceled'  # never left `queued` after its run ended
