"""Run-engine throughput: 12 candidates against the fake OpenAI server (1.0 s latency) at account concurrency 4.

Prints the wall time, its ratio to ceil(N/C) × latency (goal ≤ 1.1) and the orchestration overhead per candidate
(goal < 20 ms: file write, hashing, database commit; QA is measured separately in qa_speed.py).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.base import ProviderKind, Stage
from models.db import create_all, make_engine, session_factory
from models.provider import ProviderAccountCreate
from services import projects, provider_accounts, runs
from services.assets import AssetStore
from services.demo import ensure_demo
from services.run_executor import RunExecutor
from services.run_plan import RunRequest
from services.secrets import KeyRing, MasterKey, SecretStore
from tests.fakes.openai_server import FakeOpenAIServer

N_SCENES, CANDIDATES, CONCURRENCY, LATENCY = 3, 4, 4, 1.0


def serve(urls: mp.Queue, stop: mp.Event, peaks: mp.Queue) -> None:
    """The fake provider in its own process, as a real provider would be: its CPU is not the studio's."""
    with FakeOpenAIServer(latency_s=LATENCY) as server:
        urls.put(server.base_url)
        stop.wait()
        peaks.put(server.max_in_flight)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix='kroma-bench-'))
    engine = make_engine(f'sqlite:///{home / "kroma.db"}')
    create_all(engine)
    sessions, store = session_factory(engine), AssetStore(home)
    secrets = SecretStore(KeyRing(MasterKey.from_bytes(b'k' * 32)))
    ensure_demo(sessions, store)
    urls, peaks, stop = mp.Queue(), mp.Queue(), mp.Event()
    proc = mp.Process(target=serve, args=(urls, stop, peaks), daemon=True)
    proc.start()
    base_url = urls.get(timeout=30)
    try:
        with sessions() as s:
            demo = projects.get_project(s, 'demo')
            account = provider_accounts.create_account(
                s,
                ProviderAccountCreate(
                    name='fake-openai',
                    kind=ProviderKind.openai,
                    base_url=base_url,
                    model='gpt-image-2',
                    options={'concurrency': CONCURRENCY, 'quality': 'low'},
                ),
                secrets=secrets,
                api_key='sk-test-good',
            )
            req = RunRequest(
                stage=Stage.style, candidates=CANDIDATES, account_id=account.id, mode='run', confirm_spend=True
            )
            run_id = runs.start(s, demo, req, secrets=secrets).run_id
        executor = RunExecutor(sessions=sessions, store=store, secrets=secrets)
        started = time.perf_counter()
        asyncio.run(executor.drain(run_id=run_id))
        wall = time.perf_counter() - started
    finally:
        stop.set()
        peak = peaks.get(timeout=30)
        proc.join(10)
    n = N_SCENES * CANDIDATES
    ideal = math.ceil(n / CONCURRENCY) * LATENCY
    overhead = statistics.median(executor.stats.per_candidate_overhead_s) * 1000
    print(
        f'candidates: {n}  concurrency: {CONCURRENCY}  latency: {LATENCY:.1f} s  peak in flight at the server: {peak}'
    )
    print(f'wall time: {wall:.2f} s  ideal ceil(N/C)×latency: {ideal:.2f} s  ratio: {wall / ideal:.3f} (goal ≤ 1.1)')
    print(f'orchestration overhead per candidate (median): {overhead:.1f} ms (goal < 20 ms)')


if __name__ == '__main__':
    main()
