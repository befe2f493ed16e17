"""What paid runs cost and send: the demo's style stage, 3 candidates per scene, against the providers' stand-ins.

Run: .venv/bin/python benchmarks/paid_calls.py

Prints, from the app's own cost events, the spend per approved panel (one approved candidate per scene) against the
OpenAI stand-in when each candidate is its own call (the account allows 1 image per call: how every run was made
before candidates shared calls) and when a scene's candidates share one call (n = 3, the catalogue's max_n is 10).
Also printed: the requests on the wire per run, from the stand-ins' own request logs, for OpenAI and ComfyUI.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import select

from models.base import ProviderKind, Stage
from models.db import create_all, make_engine, session_factory
from models.provider import ProviderAccountCreate
from models.runs import CostEvent, Job
from services.projects import projects
from services.projects.assets import AssetStore
from services.projects.demo import ensure_demo
from services.providers import accounts as provider_accounts
from services.review import decisions as review
from services.runs import control as runs
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from services.security.secrets import KeyRing, MasterKey, SecretStore
from tests.fakes.comfyui_server import FakeComfyUIServer
from tests.fakes.openai_server import FakeOpenAIServer

CANDIDATES = 3
SECRETS = SecretStore(KeyRing(MasterKey.from_bytes(b'p' * 32)))


class Studio:
    """A fresh data dir with the demo project, as a new user has it."""

    def __init__(self) -> None:
        home = Path(tempfile.mkdtemp(prefix='kroma-paid-'))
        engine = make_engine(f'sqlite:///{home / "kroma.db"}')
        create_all(engine)
        self.sessions, self.store = session_factory(engine), AssetStore(home)
        ensure_demo(self.sessions, self.store)
        with self.sessions() as s:
            self.demo = projects.get_project(s, 'demo')

    def account(self, name: str, kind: ProviderKind, base_url: str, **options) -> str:
        with self.sessions() as s:
            key = 'sk-test-good' if kind == ProviderKind.openai else None
            data = ProviderAccountCreate(name=name, kind=kind, base_url=base_url, options=options, api_key=key)
            if kind == ProviderKind.comfyui:
                data.model = 'sdxl_comic.safetensors'
            return provider_accounts.create_account(s, data, secrets=SECRETS).id

    def set_model(self, s, account_id: str, model: str) -> None:  # noqa: ANN001
        from models.provider import ProviderAccount

        row = s.get(ProviderAccount, account_id)
        row.model = model
        s.add(row)

    def style_run(self, account_id: str) -> tuple[str, float]:
        """Start and finish the style stage; returns the run id and its estimate."""
        with self.sessions() as s:
            req = RunRequest(
                stage=Stage.style, candidates=CANDIDATES, account_id=account_id, mode='run', confirm_spend=True
            )
            started = runs.start(s, self.demo, req, secrets=SECRETS)
        asyncio.run(RunExecutor(sessions=self.sessions, store=self.store, secrets=SECRETS).drain(run_id=started.run_id))
        return started.run_id, started.plan.total_cost_usd

    def approve_best(self, run_id: str) -> int:
        """The artist's pick: one approved panel per scene (the best-ranked candidate)."""
        with self.sessions() as s:
            views = review.run_review(s, self.demo.id, run_id)
            picks = [v.best or v.candidates[0] for v in views if v.candidates]
            for pick in picks:
                review.decide(s, self.demo.id, pick.id, 'approve')
        return len(picks)

    def spent(self, run_id: str) -> tuple[float, Counter]:
        with self.sessions() as s:
            events = s.exec(select(CostEvent).where(CostEvent.run_id == run_id)).all()
        return sum(e.amount_usd for e in events), Counter(e.meta.get('state') for e in events)


def openai_spend() -> None:
    studio = Studio()
    with FakeOpenAIServer(latency_s=0.1) as server:
        rows = []
        for label, max_n in (('one call per candidate (before)', 1), ('candidates share a call (after)', 10)):
            account = studio.account(f'openai-{max_n}', ProviderKind.openai, server.base_url, max_n=max_n)
            server.reset_log()
            run_id, estimate = studio.style_run(account)
            calls = server.image_requests()
            panels = studio.approve_best(run_id)
            spent, states = studio.spent(run_id)
            rows.append((label, spent, estimate, panels, calls, states))
    print(f'OpenAI stand-in, demo style stage, {CANDIDATES} candidates per scene (gpt-image-2, quality medium)')
    for label, spent, estimate, panels, calls, states in rows:
        sizes = Counter(r.fields.get('n') for r in calls)
        print(
            f'  {label}: spent ${spent:.3f} (estimate ${estimate:.3f}; cost events {dict(states)}), '
            f'{panels} approved panels -> ${spent / panels:.3f} per approved panel; '
            f'{len(calls)} requests on the wire (n per request: {dict(sizes)})'
        )
    before, after = rows[0][1] / rows[0][3], rows[1][1] / rows[1][3]
    print(f'  spend per approved panel: ${before:.3f} -> ${after:.3f} ({(1 - after / before) * 100:.0f} % less)')


def comfyui_requests() -> None:
    studio = Studio()
    with FakeComfyUIServer(latency_s=0.05) as server:
        account = studio.account('comfy', ProviderKind.comfyui, server.base_url, concurrency=1)
        run_id, _ = studio.style_run(account)
        by_path = Counter('/history/{id}' if r.path.startswith('/history/') else r.path for r in server.requests)
        uploads = [r.images[0]['sha256'] for r in server.requests if r.path == '/upload/image']
    with studio.sessions() as s:
        inputs = {i['sha256'] for j in s.exec(select(Job).where(Job.run_id == run_id)) for i in j.inputs}
    print(f'ComfyUI stand-in, demo style stage, {CANDIDATES} candidates per scene (default img2img workflow)')
    print(
        f'  {sum(by_path.values())} requests on the wire: '
        + ', '.join(f'{path} {n}' for path, n in sorted(by_path.items()))
    )
    print(
        f'  uploads: {len(uploads)} ({len(set(uploads))} distinct) for {len(inputs)} distinct inputs; '
        'the workflow uses only the scene, so the style references stay home'
    )


def comfyui_two_accounts() -> None:
    """Two accounts on one server (say one per checkpoint), a run on each, in one worker pass."""
    studio = Studio()
    with FakeComfyUIServer(latency_s=0.05) as server:
        run_ids = []
        for model in ('sdxl_comic.safetensors', 'v1-5-pruned-emaonly.safetensors'):
            account = studio.account(model, ProviderKind.comfyui, server.base_url, concurrency=1)
            with studio.sessions() as s:
                studio.set_model(s, account, model)
                req = RunRequest(stage=Stage.style, candidates=CANDIDATES, account_id=account, mode='run')
                run_ids.append(runs.start(s, studio.demo, req, secrets=SECRETS).run_id)
        asyncio.run(RunExecutor(sessions=studio.sessions, store=studio.store, secrets=SECRETS).drain())
        uploads = [r.images[0]['sha256'] for r in server.requests if r.path == '/upload/image']
    print(
        f'  two accounts on the same server, a run on each in one worker pass: {len(uploads)} uploads '
        f'({len(set(uploads))} distinct)'
    )


def main() -> None:
    openai_spend()
    comfyui_requests()
    comfyui_two_accounts()


if __name__ == '__main__':
    main()
