"""The audit actor: pages run as 'studio', the CLI as 'cli', API calls as 'token:<id>', scheduled jobs as 'job:<id>'."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from app import cli as kroma_cli
from app import settings as app_settings
from app.api import register_api
from app.instruction_jobs import INSTRUCTION_WORKER, work_instructions
from app.wiring import build_deps
from models.base import ProviderKind, Stage
from models.db import SessionFactory
from models.ops import AuditEvent
from models.project import ProjectRead
from models.provider import ProviderAccountCreate
from services.copilot import chat as copilot
from services.copilot import instructions
from services.deps import Deps
from services.projects import projects
from services.projects.assets import AssetStore
from services.providers import accounts as provider_accounts
from services.references import scenes
from services.review import decisions as review
from services.runs import control as runs
from services.runs.candidate_qa import CandidateQA
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from services.security import audit
from services.security import tokens as auth
from services.security.audit import acting_as, current_actor
from services.security.secrets import SecretStore, load_keyring

SECRET = 'sk-live-0123456789abcdef-do-not-log'


@pytest.fixture
def data_dir(demo_data_dir: Path) -> Path:
    return demo_data_dir


@pytest.fixture
def secrets(data_dir: Path) -> SecretStore:
    return SecretStore(load_keyring(env_key=None, key_file=data_dir / 'master.key', previous=None))


@pytest.fixture
def deps(data_dir: Path, sessions: SessionFactory, secrets: SecretStore) -> Deps:
    return Deps(data_dir=data_dir, sessions=sessions, store=AssetStore(data_dir), secrets=secrets)


@dataclass
class AuditLog:
    """The events one test wrote: the demo's own, written while it was built, are left out."""

    sessions: SessionFactory
    before: frozenset[str] = frozenset()

    def events(self, action: str | None = None) -> list[AuditEvent]:
        """Oldest first."""
        with self.sessions() as s:
            query = select(AuditEvent).order_by(col(AuditEvent.created_at), col(AuditEvent.id))
            if action is not None:
                query = query.where(AuditEvent.action == action)
            return [e for e in s.exec(query).all() if e.id not in self.before]

    def assert_no_secret(self, *values: str) -> None:
        dumped = json.dumps([e.payload for e in self.events()])
        assert not [v for v in values if v in dumped]


@pytest.fixture
def audit_log(sessions: SessionFactory) -> AuditLog:
    with sessions() as s:
        return AuditLog(sessions, frozenset(s.exec(select(AuditEvent.id)).all()))


def first_scene(sessions: SessionFactory, project: ProjectRead) -> str:
    with sessions() as s:
        return scenes.list_scenes(s, project.id)[0].id


def test_the_context_decides_and_is_restored() -> None:
    assert current_actor() == 'studio'
    with acting_as('cli'):
        with acting_as('job:x'):
            assert current_actor() == 'job:x'
        assert current_actor() == 'cli'
    assert current_actor() == 'studio'
    with pytest.raises(ValueError):
        acting_as(' ').__enter__()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh KROMA_HOME for `kroma` itself; the logging the CLI configures is undone after."""
    home = tmp_path / 'cli-home'
    for name in ('KROMA_MASTER_KEY', 'KROMA_MASTER_KEY_FILE', 'KROMA_MASTER_KEY_PREVIOUS', 'KROMA_DATABASE_URL'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('KROMA_HOME', str(home))
    app_settings.get_settings.cache_clear()
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield home
    app_settings.get_settings.cache_clear()
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()


def test_a_project_created_by_the_cli_is_the_clis(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, 'argv', ['kroma', 'project', 'create', 'saga', '--name', 'Saga'])
    with pytest.raises(SystemExit) as done:
        kroma_cli.main()
    assert done.value.code in (0, None)
    assert current_actor() == 'studio'  # main() leaves nothing behind
    deps = build_deps(app_settings.get_settings())
    with deps.sessions() as s:
        saga = projects.get_project(s, 'saga')
    (event,) = AuditLog(deps.sessions).events('project.create')
    assert (event.actor, event.project_id, event.payload['slug']) == ('cli', saga.id, 'saga')


def test_a_run_and_its_review_are_attributed_to_the_studio(
    sessions: SessionFactory, demo: ProjectRead, data_dir: Path, audit_log: AuditLog
) -> None:
    scene_id = first_scene(sessions, demo)
    with acting_as('cli'), acting_as('studio'), sessions() as s:  # the innermost actor wins
        req = RunRequest(stage=Stage.style, scene_ids=[scene_id], candidates=1, mode='run')
        started = runs.start(s, demo, req)
    (event,) = audit_log.events('run.start')
    assert (event.actor, event.project_id) == ('studio', demo.id)
    assert event.payload['run_id'] == started.run_id and event.payload['jobs'] == 1
    assert (event.payload['stage'], event.payload['mode']) == ('style', 'run')

    store = AssetStore(data_dir)
    asyncio.run(RunExecutor(sessions=sessions, store=store, qa=CandidateQA(store)).drain(run_id=started.run_id))
    with sessions() as s:
        (job,) = review.run_review(s, demo.id, started.run_id)
        review.decide(s, demo.id, job.candidates[0].id, 'approve', note='nice')
    (decided,) = audit_log.events('review.approve')
    assert (decided.actor, decided.project_id) == ('studio', demo.id)
    assert decided.payload['candidate_id'] == job.candidates[0].id and decided.payload['run_id'] == started.run_id
    assert {e.actor for e in audit_log.events()} == {'studio'}


def test_a_secret_is_named_in_the_log_but_its_value_never(
    sessions: SessionFactory, demo: ProjectRead, secrets: SecretStore, audit_log: AuditLog
) -> None:
    with sessions() as s:
        stored = secrets.put(s, scope=demo.id, provider='openai', name='api', value=SECRET)
    (put,) = audit_log.events('secret.put')
    assert (put.actor, put.project_id) == ('studio', demo.id)
    assert put.payload == {
        'secret_id': stored.id,
        'scope': demo.id,
        'provider': 'openai',
        'name': 'api',
        'key_ref': secrets.current_key_ref,
    }
    with sessions() as s:  # a provider account's key: one event, the account's own, and no value either
        account = provider_accounts.create_account(
            s, ProviderAccountCreate(name='Paid', kind=ProviderKind.openai), project_id=demo.id, secrets=secrets
        )
        provider_accounts.set_key(s, secrets, account.id, SECRET[::-1])
    assert [e.action for e in audit_log.events()][-2:] == ['provider_account.create', 'provider_account.set_key']
    with sessions() as s:
        secrets.delete(s, stored.id)
    (gone,) = audit_log.events('secret.delete')
    assert gone.payload['name'] == 'api' and gone.project_id == demo.id
    audit_log.assert_no_secret(SECRET, SECRET[::-1])


def test_an_api_call_is_the_tokens(deps: Deps, demo: ProjectRead, audit_log: AuditLog) -> None:
    app = FastAPI()
    register_api(app, deps)
    with deps.sessions() as s:
        issued = auth.create_token(s, project_id=None, expires_at=None, creator=None)
    headers = {'Authorization': f'Bearer {issued.token}'}
    secret = {'provider': 'openai', 'name': 'api', 'value': SECRET}

    async def go() -> list[httpx.Response]:
        """In-process over ASGI, in this very task: an actor left set by a request would show here afterwards."""
        out = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as c:
            for kw in ({'json': secret}, {'json': secret, 'headers': headers}):
                out.append(await c.post('/api/projects/demo/secrets', **kw))
                assert current_actor() == 'studio'
            out.append(await c.post('/api/projects/demo/runs', json={'stage': 'style', 'mode': 'dry'}, headers=headers))
            assert current_actor() == 'studio'
        return out

    refused, put, started = asyncio.run(go())
    assert (refused.status_code, put.status_code, started.status_code) == (401, 201, 201), started.text
    rows = audit_log.events()
    assert [(e.actor, e.action, e.project_id) for e in rows] == [
        (issued.info.actor, 'secret.put', demo.id),
        (issued.info.actor, 'run.start', demo.id),
    ]
    assert issued.info.actor.startswith('token:') and rows[1].payload['run_id'] == started.json()['run_id']
    audit_log.assert_no_secret(SECRET)


def test_a_scheduled_job_is_the_jobs(deps: Deps, demo: ProjectRead, audit_log: AuditLog) -> None:
    with deps.sessions() as s:
        chat = copilot.create_session(s, demo.id)
        card = copilot.post_message(s, demo, chat.id, 'style lock scenes 1 to 3 with 2 candidates').instruction
        assert card is not None
        instructions.confirm(s, demo.id, card.id)
    with ThreadPoolExecutor(1) as pool:  # as APScheduler calls it: a pool thread that starts with no actor of its own
        assert pool.submit(work_instructions, deps).result() == card.id
    assert current_actor() == 'studio'
    by_action = {e.action: e for e in audit_log.events()}
    assert {a: (e.actor, e.project_id) for a, e in by_action.items()} == {
        'chat.create_session': ('studio', demo.id),
        'chat.message': ('studio', demo.id),
        'instruction.confirm': ('studio', demo.id),
        'run.start': (f'job:{INSTRUCTION_WORKER}', demo.id),
    }
    assert by_action['chat.message'].payload['proposed'] is True
    assert by_action['chat.message'].payload['instruction_id'] == card.id
    assert 'style lock' not in json.dumps(by_action['chat.message'].payload)  # ids, never the text


def test_record_without_an_actor_uses_the_context(
    sessions: SessionFactory, demo: ProjectRead, audit_log: AuditLog
) -> None:
    with acting_as('job:backup-nightly'), sessions() as s:
        audit.record(s, project_id=demo.id, action='backup.complete', payload={'api_key': SECRET, 'files': 3})
    (event,) = audit_log.events('backup.complete')
    assert event.actor == 'job:backup-nightly' and event.payload == {'api_key': '[redacted]', 'files': 3}
