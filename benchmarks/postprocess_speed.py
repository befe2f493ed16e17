"""Median time per 1024×1536 image for each post-process operation, to keep the offline defaults honest."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from matplotlib import cbook
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import median_ms  # noqa: E402
from services.postprocess.background import remove_background  # noqa: E402
from services.postprocess.colour import apply_profile, builtin_profiles  # noqa: E402
from services.postprocess.upscale import (
    acnet_available,  # noqa: E402
    upscale,  # noqa: E402
)

SIZE = (1024, 1536)


def portrait() -> Image.Image:
    """A real face photo at the generator's portrait size (gpt-image-1's 1024×1536)."""
    with cbook.get_sample_data('grace_hopper.jpg') as fh:
        photo = Image.open(fh).convert('RGB')
    width = round(photo.height * SIZE[0] / SIZE[1])  # centre crop to 2:3 first so the face is not stretched
    left = (photo.width - width) // 2
    return photo.crop((left, 0, left + width, photo.height)).resize(SIZE, Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--runs', type=int, default=3, help='timed runs per operation (after one warm-up)')
    args = parser.parse_args()
    image = portrait()
    cutout = remove_background(image)
    rows: list[tuple[str, Callable[[], object]]] = [
        ('background removal (grabcut, offline)', lambda: remove_background(image)),
        ('upscale 2x lanczos', lambda: upscale(image, 2, method='lanczos')),
        ('upscale 2x lanczos, RGBA cut-out', lambda: upscale(cutout, 2, method='lanczos')),
    ]
    ok, why = acnet_available()
    if ok:
        rows.insert(1, ('upscale 2x acnet (anime4k)', lambda: upscale(image, 2, method='acnet')))
        rows.insert(2, ('upscale 2x acnet, RGBA cut-out', lambda: upscale(cutout, 2, method='acnet')))
    else:
        print(f'ACNet skipped: {why}')  # noqa: T201
    for name, profile in builtin_profiles().items():
        rows.append((f'colour {name}', lambda p=profile: apply_profile(image, p)))
        rows.append((f'colour {name}, RGBA cut-out', lambda p=profile: apply_profile(cutout, p)))
    print(f'median ms per {SIZE[0]}x{SIZE[1]} image, {args.runs} runs after a warm-up')  # noqa: T201
    for label, fn in rows:
        print(f'{label:<40} {median_ms(fn, args.runs):8.0f} ms')  # noqa: T201


if __name__ == '__main__':
    main()
