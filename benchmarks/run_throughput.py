"""Run-engine throughput: 12 candidates against the fake OpenAI server (1.0 s latency) at account concurrency 4.

Run: .venv/bin/python benchmarks/run_throughput.py [--repeat 3] [--max-n 1]

The account allows one image per call (max_n 1) by default, so each candidate is its own call and the figures stay
comparable with earlier runs; with --max-n 10 a scene's 4 candidates share one call, and the ideal becomes
ceil(calls/C) × latency.

Prints, per run, the wall time and its ratio to ceil(N/C) × latency (goal ≤ 1.1), and the orchestration overhead
per candidate: (wall − ideal) / N, the time the engine adds to the run for each candidate (goal < 20 ms). Where
that time goes comes from the server's own clock (CLOCK_MONOTONIC is shared by both processes): how long until
the first call arrives, the gap between an answer leaving the server and the next call on that slot arriving,
and what follows the last answer. Also printed: each candidate's commit latency (answer received → file and rows
durable). The first run is a cold process, like `kroma run`; later ones are warm, like the studio's worker.
The fake runs in its own process, as a real provider would: its CPU is not the engine's. On this 2-core machine
the fake itself costs ~65 ms per round (a bare httpx client against it needs ~3.2 s for the same 12 calls).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.base import ProviderKind, Stage
from models.db import create_all, make_engine, session_factory
from models.provider import ProviderAccountCreate
from services.projects import projects
from services.projects.assets import AssetStore
from services.projects.demo import ensure_demo
from services.providers import accounts as provider_accounts
from services.runs import control as runs
from services.runs.executor import RunExecutor
from services.runs.plan import RunRequest
from services.security.secrets import KeyRing, MasterKey, SecretStore
from tests.fakes.openai_server import FakeOpenAIServer

N_SCENES, CANDIDATES, CONCURRENCY, LATENCY = 3, 4, 4, 1.0


def serve(urls: mp.Queue, control: mp.Queue, replies: mp.Queue) -> None:
    """The fake provider in its own process; on request it reports its log (arrival and answer times) and peak."""
    with FakeOpenAIServer(latency_s=LATENCY) as server:
        urls.put(server.base_url)
        while control.get() == 'report':
            calls = [(r.started, r.ended) for r in server.image_requests()]
            replies.put((calls, server.max_in_flight))
            server.reset_log()


@dataclass
class Measure:
    wall: float
    first_call_ms: float
    gaps_ms: list[float]
    tail_ms: float
    commit_ms: list[float]
    peak: int


def one_run(
    sessions, store, secrets, demo, account_id: str, control: mp.Queue, replies: mp.Queue, slots: int
) -> Measure:
    with sessions() as s:
        req = RunRequest(
            stage=Stage.style, candidates=CANDIDATES, account_id=account_id, mode='run', confirm_spend=True
        )
        run_id = runs.start(s, demo, req, secrets=secrets).run_id
    executor = RunExecutor(sessions=sessions, store=store, secrets=secrets)
    t0_mono, started = time.monotonic(), time.perf_counter()
    asyncio.run(executor.drain(run_id=run_id))
    wall = time.perf_counter() - started
    t_end = t0_mono + wall
    control.put('report')
    calls, peak = replies.get(timeout=30)
    calls.sort()
    # Calls on one slot follow each other: pair each answer with the next arrival after it, in order.
    arrivals, answers = sorted(c[0] for c in calls), sorted(c[1] for c in calls)
    gaps = [(arrivals[i + slots] - answers[i]) * 1000 for i in range(len(calls) - slots)] or [0.0]
    return Measure(
        wall=wall,
        first_call_ms=(arrivals[0] - t0_mono) * 1000,
        gaps_ms=gaps,
        tail_ms=(t_end - answers[-1]) * 1000,
        commit_ms=[x * 1000 for x in executor.stats.commit_latency_s],
        peak=peak,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--max-n', type=int, default=1, help='images per call the account allows (default 1)')
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix='kroma-bench-'))
    engine = make_engine(f'sqlite:///{home / "kroma.db"}')
    create_all(engine)
    sessions, store = session_factory(engine), AssetStore(home)
    secrets = SecretStore(KeyRing(MasterKey.from_bytes(b'k' * 32)))
    ensure_demo(sessions, store)
    urls, control, replies = mp.Queue(), mp.Queue(), mp.Queue()
    proc = mp.Process(target=serve, args=(urls, control, replies), daemon=True)
    proc.start()
    base_url = urls.get(timeout=30)
    n = N_SCENES * CANDIDATES
    calls = N_SCENES * math.ceil(CANDIDATES / args.max_n)
    ideal = math.ceil(calls / CONCURRENCY) * LATENCY
    print(
        f'candidates: {n}  calls: {calls} (max_n {args.max_n})  concurrency: {CONCURRENCY}  latency: {LATENCY:.1f} s  '
        f'ideal ceil(calls/C)×latency: {ideal:.2f} s'
    )
    measures = []
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
                    options={'concurrency': CONCURRENCY, 'quality': 'low', 'max_n': args.max_n},
                    api_key='sk-test-good',
                ),
                secrets=secrets,
            )
        for i in range(args.repeat):
            m = one_run(sessions, store, secrets, demo, account.id, control, replies, min(CONCURRENCY, calls))
            measures.append(m)
            commit = sorted(m.commit_ms)
            print(
                f'run {i + 1} ({"cold" if i == 0 else "warm"}): wall {m.wall:.2f} s  ratio {m.wall / ideal:.3f}  '
                f'overhead/candidate {(m.wall - ideal) / n * 1000:.1f} ms  |  first call after {m.first_call_ms:.0f} ms, '
                f'gap between calls on a slot {statistics.median(m.gaps_ms):.0f} ms (max {max(m.gaps_ms):.0f}), '
                f'after the last answer {m.tail_ms:.0f} ms  |  commit latency median {statistics.median(commit):.1f} '
                f'ms, p90 {commit[int(len(commit) * 0.9)]:.1f} ms  |  peak in flight {m.peak}'
            )
    finally:
        control.put('stop')
        proc.join(10)
    wall = statistics.median(m.wall for m in measures)
    print(f'median wall time: {wall:.2f} s  ratio: {wall / ideal:.3f} (goal ≤ 1.1)')
    print(f'orchestration overhead per candidate (median run): {(wall - ideal) / n * 1000:.1f} ms (goal < 20 ms)')


if __name__ == '__main__':
    main()
