"""R02: keys planted through the Setup page and the CLI, then used, appear in no byte on disk and in no log record."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import typer
from click.testing import Result
from nicegui.testing import User
from PIL import Image
from typer.testing import CliRunner

from app import cli_common, cli_providers
from app.logging import configure_logging
from app.settings import Settings
from app.wiring import build_deps
from models.base import Stage
from pages import setup
from services.deps import Deps
from services.projects import projects
from services.projects.demo import ensure_demo
from services.providers import accounts as provider_accounts
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from tests.fakes.openai_server import FakeOpenAIServer

PAGE_KEY = 'sk-LEAKCANARY-page-9f3K2mQ7xV5tR8wZ'
CLI_KEY = 'sk-LEAKCANARY-cli-4hJ6nB1cL0pD2sY7'


@pytest.fixture
def home(home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Path:
    """The shared KROMA_HOME; every log record (DEBUG and up) goes to the data dir's log file and to caplog."""
    root = logging.getLogger()

    def verbose_logging(data_dir: Path, _level: str = 'INFO') -> None:
        configure_logging(data_dir, 'DEBUG')
        # The console handler would outlive CliRunner's captured stderr; the file handler is what we inspect.
        root.handlers[:] = [h for h in root.handlers if isinstance(h, logging.FileHandler)] + [caplog.handler]

    monkeypatch.setattr(cli_common, 'configure_logging', verbose_logging)
    verbose_logging(home)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger='PIL')  # chunk-by-chunk PNG parsing: slow, and never near a key
    return home


async def kroma(*args: str, stdin: str | None = None) -> Result:
    """The real CLI, in a thread because its commands run their own event loop."""
    cli = typer.Typer()
    cli_providers.register(cli)
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    assert PAGE_KEY not in result.output and CLI_KEY not in result.output
    return result


async def plant_and_test_through_the_page(user: User, deps: Deps, base_url: str) -> None:
    setup.register(deps)
    await user.open('/setup')
    user.find('add-account').click()
    user.find('account-name').type('page-openai')
    user.find('account-base-url').type(base_url)
    user.find('account-key-input').type(PAGE_KEY)
    user.find('account-save').click()
    await user.should_see(marker='test-page-openai')
    user.find('test-page-openai').click()
    await user.should_see('Key accepted')


def run_through_the_queue(deps: Deps) -> Path:
    """A real paid run on the demo project with the CLI-planted key: candidates, QA, run log and cost events."""
    with deps.sessions() as s:
        project = projects.get_project(s, 'demo')
        account = provider_accounts.find_by_name(s, 'cli-openai')
        req = RunRequest(stage=Stage.style, candidates=1, account_id=account.id, mode='run', confirm_spend=True)
        started = runs.start(s, project, req, secrets=deps.secrets)
    executor = RunExecutor(sessions=deps.sessions, store=deps.store, secrets=deps.secrets, qa=CandidateQA(deps.store))
    asyncio.run(executor.drain(run_id=started.run_id))
    (log_file,) = deps.data_dir.rglob(f'runs/{started.run_id}/run.json')
    return log_file


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    return [
        f'{p.relative_to(root)}' for p in root.rglob('*') if p.is_file() and any(n in p.read_bytes() for n in needles)
    ]


async def test_keys_appear_in_no_file_and_no_log_record(
    user: User, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deps = build_deps(Settings())
    ensure_demo(deps.sessions, deps.store)
    with FakeOpenAIServer(valid_keys=(PAGE_KEY, CLI_KEY)) as fake:
        await plant_and_test_through_the_page(user, deps, fake.base_url)
        add = ['provider', 'add', 'cli-openai', '--kind', 'openai', '--base-url', fake.base_url, '--key-stdin']
        await kroma(*add, stdin=CLI_KEY + '\n')
        await kroma('provider', 'test', 'cli-openai')
        await kroma('provider', 'list')
        scene = home.parent / 'scene.png'
        Image.new('RGB', (160, 120), (30, 60, 90)).save(scene)
        out = home / 'exports' / 'one-off'
        gen = ['--prompt', 'night harbour', '--image', str(scene), '--size', '1024x1024', '--out', str(out)]
        made = await kroma('generate', '--provider', 'page-openai', *gen)
        run_log = await asyncio.to_thread(run_through_the_queue, deps)
        await kroma('secrets', 'rotate')
        assert {r.auth_ok for r in fake.requests} == {True}
        assert {r.path for r in fake.requests} >= {'/v1/models/gpt-image-2', '/v1/images/edits'}

    with deps.engine.connect() as c:
        c.exec_driver_sql('PRAGMA wal_checkpoint(TRUNCATE)')
    on_disk = {p.relative_to(home).as_posix() for p in home.rglob('*') if p.is_file()}
    assert {'kroma.db', 'logs/kroma.log', 'master.key'} <= on_disk
    assert Path(made.stdout.strip()).is_file() and run_log.is_file()
    assert 'Key replaced for provider account cli-openai' in (home / 'logs' / 'kroma.log').read_text()
    needles = [k.encode() for k in (PAGE_KEY, CLI_KEY)] + [k.encode('utf-16-le') for k in (PAGE_KEY, CLI_KEY)]
    assert files_containing(home, needles) == []

    formatter = logging.Formatter('%(name)s %(message)s')
    records = [formatter.format(r) for r in caplog.records]
    assert any('connection test for page-openai' in r for r in records)
    assert [r for r in records if PAGE_KEY in r or CLI_KEY in r or 'LEAKCANARY' in r] == []
    deps.engine.dispose()
