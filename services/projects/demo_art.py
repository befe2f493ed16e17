"""Demo images from installed packages (scikit-image and matplotlib sample photos) or drawn by code; nothing downloaded."""

from __future__ import annotations

import io
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

SEPIA = [(24, 20, 28), (92, 64, 52), (176, 132, 92), (236, 216, 180)]


SKIMAGE_PHOTOS = {'astronaut': 'astronaut.png', 'rocket': 'rocket.jpg', 'coffee': 'coffee.png', 'camera': 'camera.png'}


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, 'PNG', optimize=False, compress_level=3)
    return buf.getvalue()


def package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package, found without importing the package (scikit-image's
    reader pulls in SciPy, matplotlib takes 0.3 s: together most of a first start)."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f'{package} is not installed')
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def _photo(name: str) -> Image.Image:
    with Image.open(package_file('skimage', 'data', SKIMAGE_PHOTOS[name])) as im:
        return im.convert('RGB')


def grace_hopper() -> Image.Image:
    with Image.open(package_file('matplotlib', 'mpl-data', 'sample_data', 'grace_hopper.jpg')) as im:
        return im.convert('RGB')


def character_refs() -> dict[str, list[tuple[str, Image.Image, str]]]:
    """Two characters, each with two reference photos of one real face (front and a reframed, regraded copy)."""
    hopper = grace_hopper()
    astro = _photo('astronaut')
    return {
        'Grace': [
            ('front', hopper.resize((384, 480)), 'uniform'),
            ('three-quarter', ImageOps.mirror(hopper.crop((40, 0, 472, 540))).resize((384, 480)), 'uniform'),
        ],
        'Eileen': [
            ('front', astro.crop((96, 0, 416, 400)).resize((384, 480)), 'flight suit'),
            (
                'three-quarter',
                ImageOps.autocontrast(ImageOps.mirror(astro.crop((60, 10, 460, 510)))).resize((400, 500)),
                'flight suit',
            ),
        ],
    }


def night_street(width: int = 640, height: int = 427, seed: int = 7) -> Image.Image:
    """A street of houses under a moon, drawn with shapes so the demo has one scene made by code."""
    rng = np.random.default_rng(seed)
    im = Image.new('RGB', (width, height), (36, 44, 78))
    d = ImageDraw.Draw(im)
    d.ellipse((width - 150, 40, width - 90, 100), fill=(240, 232, 200))
    x = 0
    while x < width:
        w = int(rng.integers(70, 130))
        h = int(rng.integers(120, 250))
        top = height - 90 - h
        d.rectangle(
            (x, top, x + w, height - 90),
            fill=tuple(int(c) for c in rng.integers(60, 140, 3)),
            outline=(10, 10, 16),
            width=3,
        )
        d.polygon([(x - 6, top), (x + w // 2, top - 40), (x + w + 6, top)], fill=(70, 40, 40), outline=(10, 10, 16))
        for wy in range(top + 20, height - 110, 40):
            for wx in range(x + 12, x + w - 20, 30):
                lit = rng.random() > 0.5
                d.rectangle(
                    (wx, wy, wx + 14, wy + 20), fill=(250, 210, 120) if lit else (30, 30, 50), outline=(10, 10, 16)
                )
        x += w + int(rng.integers(4, 20))
    d.rectangle((0, height - 90, width, height), fill=(50, 50, 56))
    for lx in range(20, width, 90):
        d.rectangle((lx, height - 60, lx + 40, height - 54), fill=(220, 220, 200))
    return im


def scene_images() -> list[tuple[str, str, Image.Image, dict]]:
    return [
        (
            'Launch pad',
            'A rocket on its launch pad under a pale sky, gantry to the left.',
            _photo('rocket'),
            {'time': 'day', 'weather': 'clear', 'props': ['rocket', 'gantry'], 'characters': ['Eileen']},
        ),
        (
            'Café table',
            'A cup of coffee on a saucer on a wooden café table.',
            _photo('coffee'),
            {'time': 'day', 'weather': 'clear', 'props': ['coffee cup', 'saucer', 'spoon'], 'characters': ['Grace']},
        ),
        (
            'Night street',
            'A row of narrow houses with lit windows along an empty street, moon above.',
            night_street(),
            {'time': 'night', 'weather': 'clear', 'props': ['street lamps'], 'characters': ['Grace', 'Eileen']},
        ),
    ]


def _ink(im: Image.Image, palette: list[tuple[int, int, int]]) -> Image.Image:
    """Posterize to a fixed palette and lay ink edges on top: a stand-in for a drawn style sheet."""
    gray = ImageOps.grayscale(im).filter(ImageFilter.MedianFilter(5))
    levels = np.asarray(gray, dtype=np.float32) / 256.0 * len(palette)
    idx = np.clip(levels.astype(int), 0, len(palette) - 1)
    out = np.array(palette, dtype=np.uint8)[idx]
    edges = np.asarray(gray.filter(ImageFilter.FIND_EDGES), dtype=np.uint8) > 40
    out[edges] = palette[0]
    return Image.fromarray(out)


def style_images() -> list[tuple[str, Image.Image]]:
    return [
        ('ink-sepia-camera.png', _ink(_photo('camera'), SEPIA)),
        ('ink-sepia-street.png', _ink(night_street(seed=3), SEPIA)),
    ]
