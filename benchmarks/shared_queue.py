"""Shared queue: 4 worker processes on PostgreSQL (4 calls each, 16 in flight under an account limit of 16 held in
the database) make 200 candidates against the OpenAI stand-in at 0.5 s latency; then 1 worker on SQLite does the same.

Run: .venv/bin/python benchmarks/shared_queue.py [--workers 4] [--candidates 200] [--sizes 1536x1024,1024x640]

Prints the wall time (from just before the run is queued to the run's `finished_at`, which the engine writes when the
last job settles; the status is polled at 10 Hz, as a progress bar would) as a ratio of the ideal ceil(N/16) × 0.5 s
(goal ≤ 1.15), double claims (a job claimed by more than one worker; goal 0), the claim latency p50/p99 (one claim transaction as a worker sees it), the peak calls in flight at the stand-in, and each
candidate's attempts. A first, untimed run warms the workers and the stand-in's image cache; the timed run makes
the same images. The stand-in runs in its own process; each worker is a separate process with a data dir of its
own on the same PostgreSQL (files in one shared data dir, as on a shared disk; QA off, as in run_throughput.py, so
the figure is the queue's).

CPU is printed beside the wall time, so the ratio can be read honestly: the CPU seconds the timed run took in the
workers (per candidate), the stand-in, PostgreSQL and this process, and the floor they set on a machine with this
many cores (all of it / cores). Checking, hashing and writing a 1536×1024 PNG per candidate is real work a worker does;
on a 2-core machine shared with the stand-in and the database it, not the queue, bounds the wall time. A second
configuration makes the same run at 1024×640 (the smallest size the model takes): a third of the pixels.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import select

from models.base import Stage, WorkState, utcnow
from models.runs import Candidate, Run
from services.projects import projects
from services.runs import control as runs
from services.runs.plan import RunRequest
from tests.fakes.openai_server import FakeOpenAIServer
from tests.postgres import PostgresCluster
from tests.shared_studio import Studio, prepare

LATENCY, PER_WORKER, PER_SCENE = 0.5, 4, 4
POLL_S = 0.1  # as lazily as a progress bar: a 100 Hz poll would take CPU from the workers it measures


def serve(urls: mp.Queue, control: mp.Queue, replies: mp.Queue) -> None:
    with FakeOpenAIServer(latency_s=LATENCY) as server:
        urls.put(server.base_url)
        while control.get() == 'report':
            replies.put((len(server.image_requests()), server.max_in_flight))
            server.reset_log()
            server.max_in_flight = 0


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc; 0 elsewhere)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 0.0


def children(parent: int) -> list[int]:
    """The server processes of a PostgreSQL cluster (its postmaster's children)."""
    found = []
    for entry in Path('/proc').iterdir() if Path('/proc').is_dir() else ():
        with contextlib.suppress(OSError, IndexError, ValueError):
            if entry.name.isdigit() and int((entry / 'stat').read_text().rsplit(')', 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


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
    out.put(('ready', worker.id, os.getpid()))
    worker.run()
    stats = worker.executor.stats
    out.put(('stats', worker.id, stats.claimed_jobs, stats.claim_latency_s))


def one_run(studio: Studio, account_id: str, candidates: int, size: tuple[int, int]) -> tuple[float, list[int]]:
    deps = studio.deps('bench')
    scenes_needed = math.ceil(candidates / PER_SCENE)
    with deps.sessions() as s:
        project = projects.get_project(s, 'demo')
        from models.references import Scene

        scene_ids = [sc.id for sc in s.exec(select(Scene).where(Scene.project_id == project.id)).all()][:scenes_needed]
        req = RunRequest(
            stage=Stage.style, candidates=PER_SCENE, account_id=account_id, mode='run', confirm_spend=True,
            scene_ids=scene_ids, size=size,
        )  # fmt: skip
        started = utcnow()
        run_id = runs.start(s, project, req, secrets=deps.secrets).run_id
    deps.wake.runs()  # as the studio and the API do: on PostgreSQL idle workers hear it at once
    while True:  # the run's status row, as the studio's progress reads it (one primary-key read)
        with deps.sessions() as s:
            status, finished = s.exec(select(Run.status, Run.finished_at).where(Run.id == run_id)).one()
        if status in (WorkState.done, WorkState.failed, WorkState.canceled):
            wall = (
                (finished if finished.tzinfo else finished.replace(tzinfo=UTC)) - started
            ).total_seconds()  # the engine's own end time, not this poll's
            break
        time.sleep(POLL_S)
    with deps.sessions() as s:
        attempts = [c.attempts for c in s.exec(select(Candidate).where(Candidate.run_id == run_id)).all()]
        if status != WorkState.done:
            raise SystemExit(f'the run ended {status.value}')
    deps.engine.dispose()
    return wall, attempts


@dataclass
class Setup:
    """What a measurement runs against: the stand-in's control queues and pid, the database server's processes."""

    base_url: str
    control: mp.Queue
    replies: mp.Queue
    fake_pid: int
    db_pids: Callable[[], list[int]] = list


def measure(label: str, db_url: str, workers: int, per_worker: int, candidates: int, size: tuple[int, int],
            setup: Setup) -> None:  # fmt: skip
    home = Path(tempfile.mkdtemp(prefix='kroma-shared-bench-'))
    studio = Studio(db_url=db_url, base=home, lease_s=30.0)
    limit = workers * per_worker
    account_id = prepare(
        studio.deps('bench'), scenes_total=math.ceil(candidates / PER_SCENE), base_url=setup.base_url,
        concurrency=limit,
    )  # fmt: skip
    ctx = mp.get_context('spawn')
    stop, out = ctx.Event(), ctx.Queue()
    env = studio.env('bench')  # one data dir for all: the files are on a shared disk here; the queue is the subject
    procs = [ctx.Process(target=work, args=(env, per_worker, stop, out), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    pids = [out.get(timeout=120)[2] for _ in procs]
    one_run(studio, account_id, candidates, size)  # warm-up: imports, connections, the stand-in's image cache
    setup.control.put('report')
    setup.replies.get(timeout=30)
    groups = {'workers': lambda: pids, 'stand-in': lambda: [setup.fake_pid], 'PostgreSQL': setup.db_pids,
              'this process': lambda: [os.getpid()]}  # fmt: skip
    before = {name: cpu_s(get()) for name, get in groups.items()}
    wall, attempts = one_run(studio, account_id, candidates, size)
    cpu = {name: cpu_s(get()) - before[name] for name, get in groups.items()}
    setup.control.put('report')
    requests, peak = setup.replies.get(timeout=30)
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
    cores = os.cpu_count() or 1
    floor = sum(cpu.values()) / cores
    print(
        f'{label}, {size[0]}×{size[1]}: {workers} worker(s) × {per_worker} calls = {limit} in flight; '
        f'{candidates} candidates; ideal ceil({candidates}/{limit})×{LATENCY} s = {ideal:.2f} s'
    )
    print(
        f'  wall {wall:.2f} s  ratio {wall / ideal:.3f} (goal ≤ 1.15)  |  double claims {double} (goal 0)  |  '
        f'claim latency p50 {statistics.median(lat_ms):.1f} ms, p99 {p99:.1f} ms ({len(lat_ms)} claims, both runs)  |  '
        f'peak in flight at the stand-in {peak}  |  provider requests {requests}  |  attempts per candidate '
        f'{sorted(set(attempts))}'
    )
    print(
        f'  CPU of the timed run: workers {cpu["workers"]:.2f} s ({cpu["workers"] / candidates * 1000:.1f} ms per '
        f'candidate), stand-in {cpu["stand-in"]:.2f} s, PostgreSQL {cpu["PostgreSQL"]:.2f} s, this process '
        f'{cpu["this process"]:.2f} s; all of it on {cores} core(s) takes at least {floor:.2f} s '
        f'({floor / ideal:.2f}× the ideal)'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--candidates', type=int, default=200)
    parser.add_argument('--sizes', default='1536x1024,1024x640', help='image sizes to measure on PostgreSQL')
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in size.split('x')) for size in args.sizes.split(',')]
    urls, control, replies = mp.Queue(), mp.Queue(), mp.Queue()
    fake = mp.Process(target=serve, args=(urls, control, replies), daemon=True)
    fake.start()
    setup = Setup(urls.get(timeout=30), control, replies, fake.pid)
    try:
        with PostgresCluster() as cluster:
            postmaster = int((cluster.dir / 'data' / 'postmaster.pid').read_text().split()[0])
            setup.db_pids = lambda: [postmaster, *children(postmaster)]
            for size in sizes:
                measure('PostgreSQL', cluster.new_database(), args.workers, PER_WORKER, args.candidates, size, setup)
        setup.db_pids = list
        sqlite = Path(tempfile.mkdtemp(prefix='kroma-shared-sqlite-')) / 'kroma.db'
        per = args.workers * PER_WORKER
        measure('SQLite', f'sqlite:///{sqlite}', 1, per, args.candidates, sizes[0], setup)
    finally:
        control.put('stop')
        fake.join(10)


if __name__ == '__main__':
    main()
