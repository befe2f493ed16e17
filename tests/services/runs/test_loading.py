"""What a worker pass shares between its jobs: inputs read once, and each input uploaded once per ComfyUI server
however many jobs and accounts send it."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from models.base import ProviderKind, Stage, WorkState
from models.provider import ProviderAccountCreate
from models.runs import Job, Run
from services.providers import accounts as provider_accounts
from services.runs import control as runs
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from tests.fakes.comfyui_server import FakeComfyUIServer


def test_two_accounts_on_one_comfyui_server_upload_each_input_once_per_pass(sessions, store, demo) -> None:
    """Two accounts (say one per checkpoint) on the same server, a run on each, one pass: each scene once."""
    with FakeComfyUIServer(latency_s=0.01) as server:
        with sessions() as s:
            run_ids = []
            for name in ('sdxl_comic', 'v1-5-pruned-emaonly'):
                data = ProviderAccountCreate(
                    name=name, kind=ProviderKind.comfyui, base_url=server.base_url, model=f'{name}.safetensors'
                )
                account = provider_accounts.create_account(s, data)
                req = RunRequest(stage=Stage.style, candidates=2, account_id=account.id, mode='run')
                run_ids.append(runs.start(s, demo, req).run_id)
        asyncio.run(RunExecutor(sessions=sessions, store=store).drain())
        uploads = [r.images[0]['sha256'] for r in server.requests if r.path == '/upload/image']
        prompts = [r for r in server.requests if r.path == '/prompt']
    with sessions() as s:
        assert [s.get(Run, r).status for r in run_ids] == [WorkState.done] * 2
        scenes = {i['sha256'] for j in s.exec(select(Job)) for i in j.inputs if i['role'] == 'scene'}
    assert len(prompts) == 12  # 2 runs × 3 scenes × 2 candidates
    assert sorted(uploads) == sorted(scenes)  # 3 uploads, not one per account
