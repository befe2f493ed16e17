"""Source photos for the labelled QA set: only images that registry packages ship (see qa_sources/README.md)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from matplotlib import cbook
from PIL import Image

HERE = Path(__file__).resolve().parents[1] / 'qa_sources'

# person → their photos; group says who is a hard negative for whom (same gender, similar age)
PEOPLE: dict[str, list[str]] = {
    'grace': ['matplotlib:grace_hopper'],
    'collins': ['skimage:astronaut'],
    'obama': ['file:obama-1.jpg', 'file:obama-2.jpg', 'file:obama-3.jpg'],
    'biden': ['file:biden-1.jpg'],
}
GROUP = {'grace': 'woman', 'collins': 'woman', 'obama': 'man', 'biden': 'man'}
BACKGROUNDS = ['coffee', 'rocket', 'chelsea', 'stereo_motorcycle', 'brick', 'grass', 'hubble_deep_field', 'retina']
SCENES = ['coffee', 'rocket', 'chelsea', 'stereo_motorcycle', 'astronaut', 'hubble_deep_field', 'immunohistochemistry']


@cache
def load(source: str) -> np.ndarray:
    """An RGB uint8 photo by 'matplotlib:NAME', 'skimage:NAME' or 'file:NAME' (in qa_sources/)."""
    kind, _, name = source.partition(':')
    if kind == 'matplotlib':
        with Image.open(cbook.get_sample_data(f'{name}.jpg', asfileobj=False)) as im:
            arr = np.asarray(im.convert('RGB'))
    elif kind == 'skimage':
        arr = getattr(skimage.data, name)()
        if isinstance(arr, tuple):
            arr = arr[0]
        if arr.ndim == 2:
            arr = np.dstack([arr] * 3)
        arr = arr[..., :3]
    elif kind == 'file':
        with Image.open(HERE / name) as im:
            arr = np.asarray(im.convert('RGB'))
    else:
        raise ValueError(source)
    arr = np.ascontiguousarray(arr)
    arr.flags.writeable = False
    return arr


@cache
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


@cache
def face_box(source: str) -> tuple[int, int, int, int]:
    """The largest face (x, y, w, h) in a source photo, by dlib's HOG detector (the set's own bookkeeping)."""
    img = load(source)
    dets = _detector()(img, 1)
    if not dets:
        raise RuntimeError(f'no face in source {source}')
    d = max(dets, key=lambda r: r.width())
    return d.left(), d.top(), d.width(), d.height()


@cache
def cutout(source: str) -> tuple[np.ndarray, np.ndarray, float, tuple[float, float]]:
    """Head and shoulders cut out by GrabCut seeded from the face: (rgb, alpha 0..255, face width, face centre)."""
    img = load(source)
    ih, iw = img.shape[:2]
    x, y, w, h = face_box(source)
    cx, cy = x + w / 2, y + h / 2
    x0, x1 = max(0, int(cx - 1.7 * w)), min(iw, int(cx + 1.7 * w))
    y0, y1 = max(0, int(cy - 1.5 * h)), min(ih, int(cy + 2.6 * h))
    crop = np.ascontiguousarray(img[y0:y1, x0:x1])
    f = min(1.0, 360 / max(crop.shape[:2]))
    small = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    mask = np.full(small.shape[:2], cv2.GC_PR_BGD, np.uint8)
    sx, sy, sw = (cx - x0) * f, (cy - y0) * f, w * f
    cv2.ellipse(mask, (int(sx), int(sy - 0.1 * sw)), (int(0.75 * sw), int(1.0 * sw)), 0, 0, 360, cv2.GC_PR_FGD, -1)
    cv2.rectangle(
        mask, (int(sx - 1.2 * sw), int(sy + 1.1 * sw)), (int(sx + 1.2 * sw), small.shape[0]), cv2.GC_PR_FGD, -1
    )
    cv2.ellipse(mask, (int(sx), int(sy)), (int(0.32 * sw), int(0.42 * sw)), 0, 0, 360, cv2.GC_FGD, -1)
    mask[:3], mask[:, :3], mask[:, -3:] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
    cv2.setRNGSeed(0)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(small, mask, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    alpha = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    alpha = cv2.morphologyEx(alpha, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    outside = np.pad(255 - alpha, 1, constant_values=255)
    flood = np.zeros((outside.shape[0] + 2, outside.shape[1] + 2), np.uint8)
    cv2.floodFill(outside, flood, (0, 0), 128)
    alpha = np.where(outside[1:-1, 1:-1] == 128, 0, 255).astype(np.uint8)  # holes not reached from the edge are kept
    alpha = cv2.resize(alpha, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, w * 0.015))
    return crop, alpha, float(w), (cx - x0, cy - y0)
