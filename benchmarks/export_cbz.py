"""Benchmark: write_cbz vs a plain ZIP_STORED zipfile of the same pages, to keep packaging overhead near zero.

Run: .venv/bin/python benchmarks/export_cbz.py [--pages 200] [--width 1000] [--height 1500] [--repeat 3]
Goal: write_cbz time / plain zip time <= 1.2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.exports.packages import ComicInfo, PackageFile, write_cbz  # noqa: E402


def make_pages(folder: Path, count: int, width: int, height: int, unique: int = 10) -> list[Path]:
    """Random-ish pages (colour fields plus grain, so PNGs stay large); a few are encoded, the rest copied (fast)."""
    rng = np.random.default_rng(7)
    paths = []
    for i in range(count):
        path = folder / f'page-{i:03d}.png'
        paths.append(path)
        if i >= unique:
            shutil.copyfile(paths[i % unique], path)
            continue
        coarse = rng.integers(0, 256, (height // 50, width // 50, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR), dtype=np.int16)
        grain = rng.integers(-12, 13, (height, width, 3), dtype=np.int16)
        Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8)).save(path, compress_level=1)
    return paths


def plain_zip(out: Path, paths: list[Path], *, durable: bool = False) -> None:
    """The baseline: what zipfile alone costs (optionally with the same fsync write_cbz does)."""
    with open(out, 'wb') as fh:
        with zipfile.ZipFile(fh, 'w', zipfile.ZIP_STORED) as zf:
            for i, p in enumerate(paths, 1):
                zf.write(p, f'{i:03d}.png')
        if durable:
            fh.flush()
            os.fsync(fh.fileno())


def timed(fn: Callable[[], object]) -> float:
    """Flush earlier dirty pages first, so one run's writeback does not land on the next run's clock."""
    os.sync()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--pages', type=int, default=200)
    parser.add_argument('--width', type=int, default=1000)
    parser.add_argument('--height', type=int, default=1500)
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='kroma-bench-') as tmp:
        root = Path(tmp)
        (root / 'pages').mkdir()
        t0 = time.perf_counter()
        paths = make_pages(root / 'pages', args.pages, args.width, args.height)
        total_mb = sum(p.stat().st_size for p in paths) / 1e6
        print(f'generated {len(paths)} pages, {total_mb:.0f} MB, in {time.perf_counter() - t0:.1f} s')  # noqa: T201
        files = [PackageFile(p.name, path=p) for p in paths]
        info = ComicInfo('Benchmark', 'Kroma', 1, page_sizes=((args.width, args.height),) * len(paths))
        manifest = {'run': 'bench', 'pages': len(paths)}
        times: dict[str, list[float]] = {'plain': [], 'plain+fsync': [], 'write_cbz': []}
        out = root / 'out.zip'
        for _ in range(args.repeat):  # interleaved, best-of: the machine is shared and disk timings are noisy
            times['plain'].append(timed(lambda: plain_zip(out, paths)))
            times['plain+fsync'].append(timed(lambda: plain_zip(out, paths, durable=True)))
            times['write_cbz'].append(timed(lambda: write_cbz(out, files, info, manifest=manifest)))
        best = {k: min(v) for k, v in times.items()}
        for name, value in best.items():
            runs = ', '.join(f'{t:.2f}' for t in times[name])
            print(f'{name:12s} best {value:.3f} s   runs: {runs}')  # noqa: T201
        print(f'ratio write_cbz / plain       : {best["write_cbz"] / best["plain"]:.2f} (goal <= 1.2)')  # noqa: T201
        print(f'ratio write_cbz / plain+fsync : {best["write_cbz"] / best["plain+fsync"]:.2f}')  # noqa: T201


if __name__ == '__main__':
    main()
