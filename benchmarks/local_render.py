"""Median time of one 1024×1536 offline render (PNG bytes included) on one core, per stage; bar: well under 1 s."""

from __future__ import annotations

import argparse
import io
import itertools
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import cbook  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data as skdata  # noqa: E402

from benchmarks.timing import timed_ms  # noqa: E402
from services.providers.base import GenerationRequest, InputImage  # noqa: E402
from services.providers.local import render_png  # noqa: E402


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, 'PNG')
    return buf.getvalue()


def requests(size: tuple[int, int]) -> dict[str, GenerationRequest]:
    """One request per stage as a run makes them: later stages take the style stage's output as their scene."""
    photo = InputImage('scene', png(cv2.resize(skdata.coffee(), (1200, 800))), 'coffee.png')
    style = InputImage('style', png(skdata.chelsea()), 'chelsea.png')
    with open(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), 'rb') as fh:
        grace = InputImage('character', fh.read(), 'Grace')
    astronaut = InputImage('character', png(skdata.astronaut()), 'Eileen')
    styled = GenerationRequest('a cafe table, inked', (photo, style), size=size)
    scene = InputImage('scene', render_png(styled, 0), 'approved-style.png')
    return {
        'style': styled,
        'style (no scene)': GenerationRequest('a street at noon', (style,), size=size),
        'time night': GenerationRequest('night', (scene,), size=size, stage='time', params={'time': 'night'}),
        'weather rain': GenerationRequest('rain', (scene,), size=size, stage='weather', params={'weather': 'rain'}),
        'character x2': GenerationRequest('two people', (scene, grace, astronaut), size=size, stage='character'),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--threads', type=int, default=1, help='OpenCV threads (1 = one core)')
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    out = sys.stdout
    out.write(f'local renderer, 1024x1536, {args.runs} renders per stage, OpenCV threads={args.threads}\n')
    for name, request in requests((1024, 1536)).items():
        seeds = itertools.count()  # a new seed per call; the first call warms up (imports, dlib model load)
        times = timed_ms(lambda: render_png(request, next(seeds)), args.runs)  # noqa: B023
        out.write(
            f'  {name:<18} median {statistics.median(times):6.0f} ms   min {min(times):6.0f} ms   '
            f'max {max(times):6.0f} ms\n'
        )


if __name__ == '__main__':
    main()
