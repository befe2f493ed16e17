"""Shared queue: 4 worker processes on PostgreSQL (4 calls each, 16 in flight under an account limit of 16 held in
the database) make 200 candidates against the OpenAI stand-in at 0.5 s latency; then 1 worker on SQLite does the same.

Run: .venv/bin/python benchmarks/shared_queue.py [--workers 4] [--candidates 200]

Prints the wall time (run queued → run done, read from the database as the studio reads it) as a ratio of the
ideal ceil(N/16) × 0.5 s (goal ≤ 1.15), double claims (a job claimed by more than one worker; goal 0), the claim
latency p50/p99 (one claim transaction as a worker sees it), the peak calls in flight at the stand-in, and each
candidate's attempts. A first, untimed run warms the workers and the stand-in's image cache; the timed run makes
the same images. The stand-in runs in its own process; each worker is a separate process with a data dir of its
own on the same PostgreSQL (files in one shared data dir, as on a shared disk; QA off, as in run_throughput.py, so
the figure is the queue's). This machine has 2 cores: decoding and hashing 200 images of 1536×1024 is CPU the
workers share with the stand-in, and it shows in the ratio.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import select

from models.base import Stage, WorkState
from models.runs import Candidate
from services.projects import projects
from services.runs import control as runs
from services.runs import status as run_status
from services.runs.plan import RunRequest
from tests.fakes.openai_server import FakeOpenAIServer
from tests.postgres import PostgresCluster
from tests.shared_studio import Studio, prepare

LATENCY, PER_WORKER, PER_SCENE = 0.5, 4, 4


def serve(urls: mp.Queue, control: mp.Queue, replies: mp.Queue) -> None:
    with FakeOpenAIServer(latency_s=LATENCY) as server:
        urls.put(server.base_url)
        while control.get() == 'report':
            replies.put((len(server.image_requests()), server.max_in_flight))
            server.reset_log()
            server.max_in_flight = 0


def work(env: dict[str, str], concurrency: int, stop: mp.Event, out: mp.Queue) -> None:
    """One worker process: app.worker.Worker as `kroma worker` runs it, reporting its claims when stopped."""
    os.environ.update(env)
    import threading

    from app.settings import Settings
    from app.wiring import build_deps
    from app.worker import Worker, WorkerOptions

    worker = Worker(
        build_deps(Settings(_env_file=None)), WorkerOptions(concurrency=concurrency, qa=False, queues=('runs',))
    )
    threading.Thread(target=lambda: (stop.wait(), worker.request_stop()), daemon=True).start()
    out.put(('ready', worker.id))
    worker.run()
    stats = worker.executor.stats
    out.put(('stats', worker.id, stats.claimed_jobs, stats.claim_latency_s))


def one_run(studio: Studio, account_id: str, candidates: int) -> tuple[float, list[int]]:
    deps = studio.deps('bench')
    scenes_needed = math.ceil(candidates / PER_SCENE)
    with deps.sessions() as s:
        project = projects.get_project(s, 'demo')
        from models.references import Scene

        scene_ids = [sc.id for sc in s.exec(select(Scene).where(Scene.project_id == project.id)).all()][:scenes_needed]
        req = RunRequest(
            stage=Stage.style, candidates=PER_SCENE, account_id=account_id, mode='run', confirm_spend=True,
            scene_ids=scene_ids,
        )  # fmt: skip
        started = time.perf_counter()
        run_id = runs.start(s, project, req, secrets=deps.secrets).run_id
    while True:
        with deps.sessions() as s:
            status = run_status.run_progress(s, project.id, run_id).run.status
        if status in (WorkState.done, WorkState.failed, WorkState.canceled):
            wall = time.perf_counter() - started
            break
        time.sleep(0.01)
    with deps.sessions() as s:
        attempts = [c.attempts for c in s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()]
        if status != WorkState.done:
            raise SystemExit(f'the run ended {status.value}')
    deps.engine.dispose()
    return wall, attempts


def measure(label: str, db_url: str, workers: int, per_worker: int, candidates: int, base_url: str, fake) -> None:  # noqa: ANN001
    control, replies = fake
    home = Path(tempfile.mkdtemp(prefix='kroma-shared-bench-'))
    studio = Studio(db_url=db_url, base=home, lease_s=30.0)
    limit = workers * per_worker
    account_id = prepare(
        studio.deps('bench'), scenes_total=math.ceil(candidates / PER_SCENE), base_url=base_url, concurrency=limit
    )
    ctx = mp.get_context('spawn')
    stop, out = ctx.Event(), ctx.Queue()
    env = studio.env('bench')  # one data dir for all: the files are on a shared disk here; the queue is the subject
    procs = [ctx.Process(target=work, args=(env, per_worker, stop, out), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        assert out.get(timeout=120)[0] == 'ready'
    one_run(studio, account_id, candidates)  # warm-up: imports, connections, the stand-in's image cache
    control.put('report')
    replies.get(timeout=30)
    wall, attempts = one_run(studio, account_id, candidates)
    control.put('report')
    requests, peak = replies.get(timeout=30)
    stop.set()
    claims: list[str] = []
    latency: list[float] = []
    for _ in procs:
        kind, _wid, jobs, lat = out.get(timeout=120)
        claims += jobs
        latency += lat
    for p in procs:
        p.join(60)
    ideal = math.ceil(candidates / limit) * LATENCY
    double = len(claims) - len(set(claims))
    lat_ms = sorted(x * 1000 for x in latency)
    p99 = lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))]
    print(
        f'{label}: {workers} worker(s) × {per_worker} calls = {limit} in flight; {candidates} candidates; '
        f'ideal ceil({candidates}/{limit})×{LATENCY} s = {ideal:.2f} s'
    )
    print(
        f'  wall {wall:.2f} s  ratio {wall / ideal:.3f} (goal ≤ 1.15)  |  double claims {double} (goal 0)  |  '
        f'claim latency p50 {statistics.median(lat_ms):.1f} ms, p99 {p99:.1f} ms ({len(lat_ms)} claims, both runs)  |  '
        f'peak in flight at the stand-in {peak}  |  provider requests {requests}  |  attempts per candidate '
        f'{sorted(set(attempts))}'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--candidates', type=int, default=200)
    args = parser.parse_args()
    urls, control, replies = mp.Queue(), mp.Queue(), mp.Queue()
    fake = mp.Process(target=serve, args=(urls, control, replies), daemon=True)
    fake.start()
    base_url = urls.get(timeout=30)
    try:
        with PostgresCluster() as cluster:
            measure(
                'PostgreSQL',
                cluster.new_database(),
                args.workers,
                PER_WORKER,
                args.candidates,
                base_url,
                (control, replies),
            )
        sqlite = Path(tempfile.mkdtemp(prefix='kroma-shared-sqlite-')) / 'kroma.db'
        per = args.workers * PER_WORKER
        measure('SQLite', f'sqlite:///{sqlite}', 1, per, args.candidates, base_url, (control, replies))
    finally:
        control.put('stop')
        fake.join(10)


if __name__ == '__main__':
    main()
