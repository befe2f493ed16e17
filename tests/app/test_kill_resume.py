"""R01: kill -9 a process mid-run against an OpenAI-compatible server; another process reclaims its jobs once the
lease runs out (no restart), keeps every finished candidate and never asks the provider for it again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import select

from models.base import ProviderKind, WorkState
from models.db import make_engine, session_factory
from models.provider import ProviderAccountCreate
from models.runs import Candidate, CostEvent, Job
from services.files import sha256_file
from services.projects.assets import AssetStore
from services.projects.demo import ensure_demo
from services.providers import accounts as provider_accounts
from services.runs import queue as run_queue
from services.runs import status as run_status
from services.runs.executor import RunExecutor
from services.security.secrets import SecretStore, load_keyring
from tests.fakes.openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]


def test_kill_during_run_then_resume(tmp_path) -> None:
    home = tmp_path / 'home'
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'NICEGUI'))} | {'KROMA_HOME': str(home)}
    env['KROMA_RUN_LEASE_S'] = '2'  # the killed worker's claim runs out 2 s after its last renewal
    subprocess.run([sys.executable, '-m', 'app.cli', 'demo'], env=env, cwd=ROOT, check=True, capture_output=True)
    engine = make_engine(f'sqlite:///{home / "kroma.db"}')
    sessions, store = session_factory(engine), AssetStore(home)
    secrets = SecretStore(load_keyring(env_key=None, key_file=home / 'master.key', previous=None))
    ensure_demo(sessions, store)
    with FakeOpenAIServer(latency_s=0.6) as server:
        with sessions() as s:
            provider_accounts.create_account(
                s,
                ProviderAccountCreate(
                    name='fake',
                    kind=ProviderKind.openai,
                    base_url=server.base_url,
                    model='gpt-image-2',
                    options={'concurrency': 1, 'quality': 'low', 'max_n': 1},  # a call per candidate
                    api_key='sk-test-good',
                ),
                secrets=secrets,
            )
        cmd = [
            sys.executable,
            '-m',
            'app.cli',
            'run',
            'demo',
            '--provider',
            'fake',
            '--candidates',
            '3',
            '--mode',
            'run',
            '--confirm-spend',
        ]
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        run_id = proc.stdout.readline().strip()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with sessions() as s:
                done = s.exec(
                    select(Candidate).where(Candidate.run_id == run_id, Candidate.status == WorkState.done)
                ).all()
            if len(done) >= 3:
                break
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        time.sleep(1.0)  # a call in flight at the kill is answered (and logged) by the server, never read by anyone
        with sessions() as s:
            before = {
                c.id: (c.asset_id, c.qa_summary['sha256'])
                for c in s.exec(select(Candidate).where(Candidate.run_id == run_id, Candidate.status == WorkState.done))
            }
            requests_before = len(server.image_requests())
            assert 3 <= len(before) < 9
            project_id = run_queue.get_run_any(s, run_id).project_id
            assert run_status.run_progress(s, project_id, run_id).run.status == WorkState.running
        time.sleep(2.5)  # its lease runs out; this process is another worker, not a restart of the dead one
        other = RunExecutor(sessions=sessions, store=store, secrets=secrets, lease_s=2)
        asyncio.run(other.drain(run_id=run_id))
        with sessions() as s:
            lost = s.exec(select(Candidate).where(Candidate.run_id == run_id, Candidate.status == WorkState.failed))
            lost = list(lost)
            assert all('in flight when worker' in c.error for c in lost) and len(lost) <= 1
            if lost:  # the call in flight at the kill is not paid twice unless the artist asks: Retry failed
                run_queue.requeue(s, project_id, run_id, failed_only=True)
        asyncio.run(other.drain(run_id=run_id))
        with sessions() as s:
            cands = s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()
            assert all(c.status == WorkState.done for c in cands) and len(cands) == 9
            for c in cands:
                if c.id in before:
                    assert (c.asset_id, c.qa_summary['sha256']) == before[c.id]
            project = run_status.run_progress(s, project_id, run_id)
            assert project.run.status == WorkState.done
        # one call at most may have been in flight at the kill (concurrency 1); no finished candidate was asked again
        assert len(server.image_requests()) - requests_before == 9 - len(before)
        assert requests_before - len(before) <= 1
        with sessions() as s:  # every call the server saw has a cost event; the one lost at the kill "maybe billed"
            states = sorted(c.meta['state'] for c in s.exec(select(CostEvent).where(CostEvent.run_id == run_id)))
        lost = requests_before - len(before)  # a crash between writing the event and sending counts it too
        assert states.count('billed') == 9 and lost <= states.count('maybe billed') <= 1 and len(states) <= 10
    engine.dispose()
    for c in cands:
        path = next(home.glob(f'projects/demo/assets/*/{before.get(c.id, (None, c.qa_summary["sha256"]))[1]}.png'))
        assert sha256_file(path) == c.qa_summary['sha256']


def test_resume_right_after_the_cli_running_the_run_was_killed(tmp_path) -> None:
    """#16: `kroma run resume RUN_ID --wait` works on the first try after a kill -9 of the `kroma run` that held jobs
    (its process is gone from this machine, so its 30 s lease need not be waited out) and finishes every candidate."""
    home = tmp_path / 'home'
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'NICEGUI'))} | {'KROMA_HOME': str(home)}
    subprocess.run([sys.executable, '-m', 'app.cli', 'demo'], env=env, cwd=ROOT, check=True, capture_output=True)
    engine = make_engine(f'sqlite:///{home / "kroma.db"}')
    sessions = session_factory(engine)
    secrets = SecretStore(load_keyring(env_key=None, key_file=home / 'master.key', previous=None))
    with FakeOpenAIServer(latency_s=0.5) as server:
        with sessions() as s:
            provider_accounts.create_account(
                s,
                ProviderAccountCreate(
                    name='fake', kind=ProviderKind.openai, base_url=server.base_url, model='gpt-image-2',
                    options={'concurrency': 1, 'quality': 'low', 'max_n': 1}, api_key='sk-test-good',
                ),
                secrets=secrets,
            )  # fmt: skip
        cmd = [sys.executable, '-m', 'app.cli', 'run', 'demo', '--provider', 'fake', '--candidates', '2',
               '--mode', 'run', '--confirm-spend']  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        run_id = proc.stdout.readline().strip()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(server.image_requests()) < 2:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with sessions() as s:
            jobs = [j.status for j in s.exec(select(Job).where(Job.run_id == run_id))]
        assert WorkState.running in jobs, f'the killed process must still hold jobs: {jobs}'
        resumed = subprocess.run(
            [sys.executable, '-m', 'app.cli', 'run', 'resume', run_id, '--wait'],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert resumed.returncode in (0, 1), resumed.stderr
        assert 'still running' not in resumed.stdout + resumed.stderr
        with sessions() as s:
            states = [c.status for c in s.exec(select(Candidate).where(Candidate.run_id == run_id))]
        # every candidate finished, except at most the one whose call was in flight at the kill (never paid twice)
        assert states.count(WorkState.done) >= len(states) - 1 and len(states) == 6
        assert resumed.returncode == (0 if states.count(WorkState.done) == len(states) else 1)
    engine.dispose()
