"""A shared studio on one machine, for the multi-process test and the benchmark: a PostgreSQL database, project
files on a moto S3 server, the OpenAI stand-in, and `kroma worker` processes each with a data dir of its own (as
separate machines would have). Only the database, the bucket and the master key are shared."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import select

from app.settings import Settings
from app.wiring import build_deps
from models.base import AssetKind, ProviderKind
from models.provider import ProviderAccountCreate
from models.references import Scene, SceneCreate
from services.deps import Deps
from services.projects import projects
from services.projects.demo import ensure_demo
from services.providers import accounts as provider_accounts
from services.references import scenes

ROOT = Path(__file__).resolve().parents[1]
MASTER_KEY = base64.urlsafe_b64encode(
    b'k' * 32
).decode()  # every machine of a shared studio needs the same key to read the stored API keys
BUCKET = 'shared-studio'


@dataclass
class Studio:
    """The settings every machine shares, and where each machine keeps its own files."""

    db_url: str
    base: Path
    s3_endpoint: str | None = None
    lease_s: float = 3.0
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith('KROMA_')}
        env |= {
            'KROMA_HOME': str(self.base / name),
            'KROMA_DATABASE_URL': self.db_url,
            'KROMA_MASTER_KEY': MASTER_KEY,
            'KROMA_RUN_LEASE_S': str(self.lease_s),
            'KROMA_DEMO': 'false',
            'KROMA_LOG_LEVEL': 'WARNING',
            'PYTHONUNBUFFERED': '1',
        }
        if self.s3_endpoint:
            env |= {
                'KROMA_FILES_URL': f's3://{BUCKET}/studio',
                'KROMA_FILES_S3_ENDPOINT_URL': self.s3_endpoint,
                'AWS_ACCESS_KEY_ID': 'test',
                'AWS_SECRET_ACCESS_KEY': 'test',
            }
        return env | self.extra_env

    def deps(self, name: str = 'studio') -> Deps:
        """This process as one machine of the studio (the one that queues runs and reads progress)."""
        env = self.env(name)
        keys = {k[len('KROMA_') :].lower(): v for k, v in env.items() if k.startswith('KROMA_')}
        for var in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'):
            if var in env:
                os.environ[var] = env[var]
        return build_deps(Settings(_env_file=None, **keys))


def prepare(deps: Deps, *, scenes_total: int, base_url: str, concurrency: int) -> str:
    """The demo universe with enough scenes, and a paid OpenAI account (one image per call); returns its id."""
    ensure_demo(deps.sessions, deps.store)
    with deps.sessions() as s:
        project = projects.get_project(s, 'demo')
        existing = s.exec(select(Scene).where(Scene.project_id == project.id)).all()
        for i in range(len(existing), scenes_total):
            source = existing[i % len(existing)]
            image = deps.store.path_of(project, _asset(s, source.reference_asset_id)).read_bytes()
            asset, _ = deps.store.ingest(s, project, image, name=f'extra-{i}.png', kind=AssetKind.scene, dedupe=False)
            data = SceneCreate(name=f'Extra {i}', description=source.description, reference_asset_id=asset.id)
            scenes.create_scene(s, project.id, data)
        account = provider_accounts.create_account(
            s,
            ProviderAccountCreate(
                name='openai-shared',
                kind=ProviderKind.openai,
                base_url=base_url,
                model='gpt-image-2',
                options={'concurrency': concurrency, 'quality': 'low', 'max_n': 1},
                api_key='sk-test-good',
            ),
            secrets=deps.secrets,
        )
        row = projects.get_row(s, 'demo')
        row.budget_usd, row.batch_limit = 1000.0, 500
        s.add(row)
    return account.id


def _asset(session, asset_id):  # noqa: ANN001, ANN202
    from models.assets import Asset

    return session.get(Asset, asset_id)


class WorkerProcess:
    """`kroma worker` in a subprocess of its own; its id is read from the line it prints when ready."""

    def __init__(self, studio: Studio, name: str, *args: str) -> None:
        command = [sys.executable, '-c', 'from app.cli import main; main()', 'worker', *args]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=studio.env(name), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.id = ''
        self.stderr: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            if line.startswith('ready: worker '):
                self.id = line.split()[2]
                self._ready.set()

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def wait_ready(self, timeout_s: float = 60) -> str:
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f'worker did not start: {self.proc.poll()=} {" | ".join(self.stderr[-10:])}')
        return self.id

    def kill(self) -> None:
        """kill -9: no goodbye, its leases and slots simply stop being renewed."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def workers(studio: Studio, count: int, *args: str) -> Iterator[WorkerProcess]:
    procs = [WorkerProcess(studio, f'worker-{i + 1}', *args) for i in range(count)]
    for p in procs:
        p.wait_ready()
    return iter(procs)
