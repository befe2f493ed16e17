"""Benchmark: a first backup of a 500-file project, then an unchanged one that must upload 0 file bytes.

Runs against a real S3 endpoint (moto server on 127.0.0.1) so HTTP, signing and dedupe are all measured.
Usage: .venv/bin/python benchmarks/backup_incremental.py [--files 500] [--workers 4]
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from models.db import create_all, make_engine, session_factory  # noqa: E402
from models.project import Project  # noqa: E402
from services.backups.service import BackupService, S3Target, make_s3_client  # noqa: E402
from tests.fakes.s3_server import DUMMY_CREDENTIALS, S3Server  # noqa: E402

log = logging.getLogger('benchmarks.backup_incremental')


def small_png(rng: random.Random, side: int = 24) -> bytes:
    """A real, distinct PNG of about 2 KB."""
    buf = io.BytesIO()
    Image.frombytes('RGB', (side, side), rng.randbytes(side * side * 3)).save(buf, 'PNG')
    return buf.getvalue()


def build_project(data_dir: Path, files: int) -> int:
    """Assets, thumbnails and run logs like a real project; returns the total bytes written."""
    rng = random.Random(42)
    root = data_dir / 'projects' / 'bench'
    total = 0
    for i in range(files):
        if i % 10 == 9:
            path, data = root / 'runs' / f'run-{i:04d}.log', f'run {i}: {rng.random()}\n'.encode() * 20
        elif i % 10 == 8:
            path, data = root / '.thumbs' / f'{i:04d}.png', small_png(rng, 12)
        else:
            path, data = root / 'assets' / f'{i // 100:02d}' / f'asset-{i:04d}.png', small_png(rng)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total += len(data)
    (data_dir / 'master.key').write_bytes(rng.randbytes(32))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--files', type=int, default=500)
    parser.add_argument('--workers', type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix='kroma-bench-') as tmp, S3Server() as server:
        data_dir = Path(tmp)
        engine = make_engine(f'sqlite:///{data_dir / "kroma.db"}')
        create_all(engine)
        sessions = session_factory(engine)
        with sessions() as s:
            s.add(Project(name='Bench', slug='bench'))
        total = build_project(data_dir, args.files)
        target = S3Target(
            bucket=server.create_bucket('kroma-bench'),
            endpoint_url=server.endpoint_url,
            access_key_id=DUMMY_CREDENTIALS['aws_access_key_id'],
            secret_access_key=DUMMY_CREDENTIALS['aws_secret_access_key'],
        )
        service = BackupService(
            data_dir=data_dir,
            db_path=data_dir / 'kroma.db',
            s3_client=make_s3_client(target),
            target=target,
            workers=args.workers,
        )
        t0 = time.perf_counter()
        first = service.snapshot(sessions)
        t1 = time.perf_counter()
        second = service.snapshot(sessions)
        t2 = time.perf_counter()
        engine.dispose()

    print(f'project: {args.files} files, {total / 1024:.0f} KiB; workers={args.workers}')  # noqa: T201
    print(  # noqa: T201
        f'first backup:  {t1 - t0:6.2f} s  files={first.file_count}  uploaded file bytes={first.uploaded_bytes}'
    )
    print(  # noqa: T201
        f'second backup: {t2 - t1:6.2f} s  files={second.file_count}  uploaded file bytes={second.uploaded_bytes}'
    )
    if second.uploaded_bytes != 0 or first.file_count != args.files:
        print('FAIL: the unchanged backup uploaded file bytes (or files were missed)')  # noqa: T201
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
