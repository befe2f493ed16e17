"""Gallery with 10,000 assets: first page, filtered pages and deep pages in ms, and memory with 1k vs 10k assets.

Run: .venv/bin/python benchmarks/gallery_first_page.py [--assets 10000] [--repeat 20]
The bar is < 300 ms for the first page, thumbnails made once, memory flat as the project grows.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import median_ms  # noqa: E402
from models.assets import Asset  # noqa: E402
from models.base import AssetKind, ReviewState, new_id  # noqa: E402
from models.db import create_all, make_engine, session_factory  # noqa: E402
from models.project import ProjectCreate, ProjectRead  # noqa: E402
from services.projects import (
    assets,  # noqa: E402
    projects,
)
from services.projects.assets import AssetFilter, AssetStore  # noqa: E402

REAL_FILES = 8
KINDS = [AssetKind.candidate, AssetKind.candidate, AssetKind.derived, AssetKind.scene, AssetKind.style]
STATUSES = [ReviewState.generated, ReviewState.generated, ReviewState.shortlisted, ReviewState.approved]


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', (256, 192), (i * 29 % 256, i * 71 % 256, 120)).save(buf, 'PNG')
    return buf.getvalue()


def populate(sessions, store: AssetStore, slug: str, count: int) -> ProjectRead:
    """A few real files, then rows in bulk pointing at them (as a long-running project's candidates would)."""
    with sessions() as s:
        project = projects.create_project(s, ProjectCreate(slug=slug, name=slug), data_dir=store.data_dir)
        real = [store.ingest(s, project, png(i), name=f'real-{i}.png')[0] for i in range(REAL_FILES)]
    for a in real:
        store.thumb_path(project, a)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    scenes = [new_id() for _ in range(40)]
    rows = []
    for i in range(count - REAL_FILES):
        src = real[i % REAL_FILES]
        rows.append(
            {
                'id': new_id(),
                'project_id': project.id,
                'kind': KINDS[i % len(KINDS)],
                'path': src.path,
                'sha256': src.sha256,
                'size_bytes': src.size_bytes,
                'width': src.width,
                'height': src.height,
                'mime': 'image/png',
                'original_name': f'candidate-{i}.png',
                'tags': ['night'] if i % 7 == 0 else ['day'],
                'stage': ['style', 'time', 'weather', 'character'][i % 4],
                'scene_id': scenes[i % len(scenes)],
                'character_id': None,
                'status': STATUSES[i % len(STATUSES)],
                'immutable': False,
                'meta': {},
                'created_at': start + timedelta(seconds=i),
            }
        )
    with sessions() as s:
        for chunk in range(0, len(rows), 2000):
            s.execute(insert(Asset), rows[chunk : chunk + 2000])
    return project


def peak_kb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--assets', type=int, default=10_000)
    parser.add_argument('--repeat', type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        engine = make_engine(f'sqlite:///{data_dir / "kroma.db"}')
        create_all(engine)
        sessions, store = session_factory(engine), AssetStore(data_dir)
        t = time.perf_counter()
        small = populate(sessions, store, 'small', args.assets // 10)
        big = populate(sessions, store, 'big', args.assets)
        setup_s = time.perf_counter() - t

        def page(project: ProjectRead, flt: AssetFilter | None = None, number: int = 0) -> None:
            with sessions() as s:
                result = assets.list_assets(s, project.id, flt, page=number, page_size=48)
            for a in result.items:  # what the thumbnail route does per image: cached after the first time
                store.thumb_path(project, a)

        cases = {
            'first page': lambda: page(big),
            'filter kind=scene': lambda: page(big, AssetFilter(kind='scene')),
            'filter status=approved, stage=style': lambda: page(big, AssetFilter(status='approved', stage='style')),
            'filter tag=night': lambda: page(big, AssetFilter(tag='night')),
            'last page': lambda: page(big, number=(args.assets - 1) // 48),
        }
        print(f'{args.assets:,} assets (+{args.assets // 10:,} in a second project), setup {setup_s:.1f} s')  # noqa: T201
        for label, fn in cases.items():
            print(f'  {label:<38} {median_ms(fn, args.repeat):7.1f} ms   (goal < 300 ms)')  # noqa: T201
        thumbs = sorted(p.name for p in (data_dir / 'projects' / 'big' / '.thumbs').iterdir())
        print(f'  thumbnails on disk for the big project: {len(thumbs)} (one per distinct file)')  # noqa: T201
        small_kb, big_kb = peak_kb(lambda: page(small)), peak_kb(lambda: page(big))
        print(  # noqa: T201
            f'  first-page peak memory: {small_kb:.0f} KB with {args.assets // 10:,} assets, '
            f'{big_kb:.0f} KB with {args.assets:,} ({big_kb / small_kb:.2f}×)'
        )
        engine.dispose()


if __name__ == '__main__':
    main()
