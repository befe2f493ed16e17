"""QA speed on one core: median ms per metric and in total (identity apart) for a 1024×1536 candidate.

Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/qa_speed.py [--repeat 15]
The bar is < 250 ms for everything but identity.
"""

from __future__ import annotations

import os

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS'):
    os.environ.setdefault(_var, '1')

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from skimage import data  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import median_ms  # noqa: E402
from services.qa.colour import colour_guard  # noqa: E402
from services.qa.composition import composition_drift  # noqa: E402
from services.qa.identity import face_encodings, identity_check, models_available  # noqa: E402
from services.qa.report import evaluate  # noqa: E402
from services.qa.style import build_style_profile, style_similarity  # noqa: E402
from services.qa.technical import technical  # noqa: E402
from services.qa.thresholds import QAThresholds  # noqa: E402

W, H = 1024, 1536


def synthetic_candidate(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 1024×1536 'panel' (astronaut over coffee, shapes and grain on the lower half) and its input scene."""
    rng = np.random.default_rng(seed)
    top = cv2.resize(data.astronaut(), (W, W), interpolation=cv2.INTER_CUBIC)
    bottom = cv2.resize(data.coffee(), (W, H - W), interpolation=cv2.INTER_AREA)
    scene = np.ascontiguousarray(np.vstack([top, bottom]))
    cand = scene.copy()
    for _ in range(12):
        x, y = int(rng.integers(0, W)), int(rng.integers(W // 2, H))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.circle(cand, (x, y), int(rng.integers(20, 120)), colour, -1)
        cv2.line(cand, (x, y), (int(rng.integers(0, W)), int(rng.integers(0, H))), (10, 10, 10), 4)
    grain = rng.normal(0, 6, (H, W, 1))
    return np.clip(cand + grain, 0, 255).astype(np.uint8), scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--repeat', type=int, default=15)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    cand, scene = synthetic_candidate()
    refs = [data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    t = QAThresholds()
    build_ms = median_ms(lambda: build_style_profile(refs), max(3, args.repeat // 3))
    profile = build_style_profile(refs)
    rows = {
        'colour': median_ms(lambda: colour_guard(cand, t), args.repeat),
        'technical': median_ms(lambda: technical(cand, t), args.repeat),
        'style': median_ms(lambda: style_similarity(cand, profile, t), args.repeat),
        'composition': median_ms(lambda: composition_drift(cand, scene, t), args.repeat),
        'total (evaluate, no identity)': median_ms(
            lambda: evaluate(cand, style_profile=profile, scene=scene, thresholds=t), args.repeat
        ),
    }
    print(f'QA speed on {W}x{H}, median of {args.repeat} runs, cv2 threads={cv2.getNumThreads()}')  # noqa: T201
    print('  (each metric alone on the full-size image; evaluate shares one 512 px copy between them)')  # noqa: T201
    print(f'  {"style profile (4 refs, once per run)":38s} {build_ms:8.1f} ms')  # noqa: T201
    for name, ms in rows.items():
        print(f'  {name:38s} {ms:8.1f} ms')  # noqa: T201
    total = rows['total (evaluate, no identity)']
    print(f'  bar < 250 ms: {"OK" if total < 250 else "OVER"}')  # noqa: T201
    if not models_available():
        print('  identity: dlib models unavailable')  # noqa: T201
        return
    refs_enc = face_encodings(data.astronaut())[:1]
    ident = median_ms(lambda: identity_check(cand, {'collins': refs_enc}, t), max(3, args.repeat // 3))
    print(f'  {"identity (1 face, 1024x1536)":38s} {ident:8.1f} ms')  # noqa: T201


if __name__ == '__main__':
    main()
