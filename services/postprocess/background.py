"""Offline background removal: GrabCut seeded by a face or a saliency/border prior, then a feathered alpha edge."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from services.errors import Invalid

log = logging.getLogger(__name__)

WORK_SIDE = 384  # GrabCut cost grows with pixels; the mask is refined back at full size
GRABCUT_ITERS = 4
MAX_FEATHER_PX = 64
REMBG_MODEL = 'u2net.onnx'

Box = tuple[int, int, int, int]  # x, y, w, h in work-size pixels
_DETECT_LOCK = threading.Lock()  # the cached detectors are shared objects; OpenCV's cascade is not thread-safe


def remove_background(image: Image.Image, *, feather_px: int = 3) -> Image.Image:
    """Cut the subject out offline so no cut-out ever needs a paid call; returns RGBA with a soft edge."""
    if not 0 <= feather_px <= MAX_FEATHER_PX:
        raise Invalid(f'feather_px must be between 0 and {MAX_FEATHER_PX}, got {feather_px}.', code='invalid_feather')
    rgb = np.asarray(image.convert('RGB'))
    h, w = rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    faces = _detect_faces(small)
    seed = _face_seed(small, faces) if faces else _prior_seed(small)
    fg = _clean(_grabcut(small, seed), seed)
    alpha = _full_alpha(fg, rgb, feather_px)
    if image.mode in ('RGBA', 'LA') or 'transparency' in image.info:
        alpha = np.minimum(alpha, np.asarray(image.convert('RGBA'))[:, :, 3])
    kept = float(fg.mean())
    if kept < 0.01:
        log.warning('background removal found no subject in a %dx%d image; the result is transparent', w, h)
    log.info('background removed: %dx%d, %d face(s), %.0f%% kept', w, h, len(faces), 100 * kept)
    return Image.fromarray(np.dstack([rgb, alpha]))


def rembg_available() -> tuple[bool, str]:
    """Report whether rembg can run fully offline; never downloads, so a missing model is a message, not a fetch."""
    model = _rembg_model_path()
    if importlib.util.find_spec('rembg') is None or importlib.util.find_spec('onnxruntime') is None:
        return False, (
            "rembg is not installed. Add it with: pip install 'rembg[cpu]', then place the u2net model file "
            f'(u2net.onnx from https://github.com/danielgatis/rembg/releases) at {model} '
            '(or set U2NET_HOME to the folder holding it).'
        )
    if not model.is_file():
        return False, (
            f'rembg is installed but its model file is missing: place u2net.onnx at {model} '
            '(or set U2NET_HOME to the folder holding it). Kroma never downloads it for you.'
        )
    return True, f'rembg ready with {model}'


def remove_background_rembg(image: Image.Image) -> Image.Image:
    """Cut out with rembg's u2net when the artist installed it; the model is loaded from disk by path only."""
    ok, message = rembg_available()
    if not ok:
        raise Invalid(message, code='rembg_unavailable')
    from rembg import new_session, remove  # optional dependency, present only when rembg_available() says so

    # u2net_custom loads the given file and has no download step, unlike the plain 'u2net' session.
    session = new_session('u2net_custom', model_path=str(_rembg_model_path()))
    out = remove(image.convert('RGB'), session=session)
    return out.convert('RGBA')


def _rembg_model_path() -> Path:
    home = os.environ.get('U2NET_HOME') or os.path.join(os.environ.get('XDG_DATA_HOME', '~'), '.u2net')
    return Path(home).expanduser() / REMBG_MODEL


# --- seeds -----------------------------------------------------------------------------------------------------------


def _detect_faces(rgb: np.ndarray) -> list[Box]:
    """Find faces with dlib's HOG detector, else OpenCV's Haar cascade; either can be missing on odd builds."""
    min_side = 0.06 * min(rgb.shape[:2])
    boxes: list[Box] = []
    with _DETECT_LOCK:
        hog = _dlib_detector()
        if hog is not None:
            boxes = [(r.left(), r.top(), r.width(), r.height()) for r in hog(rgb, 0)]
        cascade = None if boxes else _haar_cascade()
        if cascade is not None:
            gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
            found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=6, minSize=(24, 24))
            boxes = [tuple(int(v) for v in b) for b in found]
    return [b for b in boxes if min(b[2], b[3]) >= min_side]


@lru_cache(maxsize=1)
def _dlib_detector():  # dlib ships no type stubs
    try:
        import dlib
    except ImportError:
        log.warning('dlib is not importable; face seeding falls back to the Haar cascade')
        return None
    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=1)
def _haar_cascade() -> cv2.CascadeClassifier | None:
    path = Path(cv2.data.haarcascades) / 'haarcascade_frontalface_default.xml'
    cascade = cv2.CascadeClassifier(str(path)) if path.is_file() else None
    return cascade if cascade is not None and not cascade.empty() else None


def _face_seed(rgb: np.ndarray, faces: list[Box]) -> np.ndarray:
    """Face inside = sure subject, head and a widening torso below it = probable subject, frame border = background."""
    h, w = rgb.shape[:2]
    seed = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    for x, y, fw, fh in faces:
        cx, bottom = x + fw / 2, y + fh
        head = np.array(
            [[x - 0.2 * fw, y - 0.5 * fh], [x + 1.2 * fw, y - 0.5 * fh], [x + 1.2 * fw, bottom], [x - 0.2 * fw, bottom]]
        )
        shoulders = min(h, bottom + 0.9 * fh)
        half = ((0.7, bottom), (1.7, shoulders), (1.7, h))  # half-widths in face widths, widening to the shoulders
        torso = np.array([[cx + k * fw, yy] for k, yy in half] + [[cx - k * fw, yy] for k, yy in reversed(half)])
        for poly in (head, torso):
            cv2.fillPoly(seed, [np.round(poly).astype(np.int32)], cv2.GC_PR_FGD)
        cv2.ellipse(
            seed, (round(cx), round(y + 0.55 * fh)), (round(0.3 * fw), round(0.4 * fh)), 0, 0, 360, cv2.GC_FGD, -1
        )
        neck = (round(cx - 0.2 * fw), round(bottom), round(cx + 0.2 * fw), round(min(h - 1, bottom + 0.5 * fh)))
        cv2.rectangle(seed, neck[:2], neck[2:], cv2.GC_FGD, -1)
    _mark_border(seed)
    return seed


def _prior_seed(rgb: np.ndarray) -> np.ndarray:
    """No face: pixels unlike the frame border and visually salient are probably the subject."""
    unlike_border = _border_dissimilarity(rgb)
    score = 0.65 * unlike_border + 0.35 * _spectral_saliency(rgb)
    score_u8 = np.round(score * 255).astype(np.uint8)
    thresh, _ = cv2.threshold(score_u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    seed = np.where(score_u8 > thresh, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    seed[(unlike_border > 0.9) & (score_u8 > max(thresh, 160))] = cv2.GC_FGD
    seed[unlike_border < 0.02] = cv2.GC_BGD
    _mark_border(seed)
    return seed


def _mark_border(seed: np.ndarray) -> None:
    """The frame border is background, except where the prior saw a subject running off the frame."""
    b = max(2, round(0.015 * min(seed.shape)))
    for band in (seed[:b], seed[-b:], seed[:, :b], seed[:, -b:]):
        band[band == cv2.GC_PR_BGD] = cv2.GC_BGD


def _border_dissimilarity(rgb: np.ndarray) -> np.ndarray:
    """1 where a colour is rare on the frame border, 0 where it is common on most sides (the border is background);
    a colour common on one side only (a body running off the bottom edge) stays fairly likely to be subject."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    bins = (lab[:, :, 0] // 16).astype(np.int32) * 256 + (lab[:, :, 1] // 16) * 16 + lab[:, :, 2] // 16
    b = max(2, round(0.03 * min(rgb.shape[:2])))
    sides_common = np.zeros(4096, np.float32)
    # the top is nearly always backdrop, the bottom is where subjects leave the frame
    for side, weight in ((bins[:b], 1.5), (bins[-b:], 0.5), (bins[:, :b], 1.0), (bins[:, -b:], 1.0)):
        share = np.bincount(side.ravel(), minlength=4096) / side.size
        sides_common += weight * np.clip(share / 0.03, 0.0, 1.0)  # 3% of one side makes a colour common there
    likeness = np.clip(sides_common / 2.5, 0.0, 1.0).reshape(16, 16, 16)
    near = np.zeros_like(likeness)
    for axis in range(3):  # a colour next to a backdrop colour is a little backdrop too (gradients, JPEG noise)
        padded = np.pad(likeness, [(1, 1) if a == axis else (0, 0) for a in range(3)])
        near = np.maximum(near, np.maximum(padded.take(range(16), axis), padded.take(range(2, 18), axis)))
    likeness = np.maximum(likeness, 0.35 * near).ravel()[bins]
    return cv2.GaussianBlur(1.0 - likeness, (0, 0), 1.5)


def _spectral_saliency(rgb: np.ndarray) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) in numpy, because headless OpenCV lacks cv2.saliency."""
    gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (64, 64), interpolation=cv2.INTER_AREA)
    spectrum = np.fft.fft2(gray.astype(np.float32))
    log_amp = np.log(np.abs(spectrum) + 1e-6)
    residual = log_amp - cv2.blur(log_amp.astype(np.float32), (3, 3))
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    sal = cv2.GaussianBlur(sal.astype(np.float32), (0, 0), 2.5)
    sal = cv2.resize(sal, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    return (sal - sal.min()) / max(1e-6, float(sal.max() - sal.min()))


# --- segmentation and alpha ------------------------------------------------------------------------------------------


def _grabcut(rgb: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Run GrabCut from the seed; if OpenCV refuses (e.g. a one-colour image) keep the seed's own guess."""
    guess = np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    if guess.all() or not guess.any():
        return guess
    mask = seed.copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's GMM init uses OpenCV's RNG: fixed seed, same cut every time
    try:
        cv2.grabCut(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, GRABCUT_ITERS, cv2.GC_INIT_WITH_MASK)
    except cv2.error as e:
        log.warning('GrabCut failed (%s); using the prior mask', e)
        return guess
    return np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)


def _clean(fg: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Drop specks and keep the parts joined to the sure subject (or the big parts when nothing is sure)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    fg = cv2.morphologyEx(cv2.morphologyEx(fg, cv2.MORPH_OPEN, k), cv2.MORPH_CLOSE, k)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 1:
        return fg
    areas = stats[1:, cv2.CC_STAT_AREA]
    sure = np.unique(labels[(seed == cv2.GC_FGD) & (labels > 0)])
    keep = sure if sure.size else 1 + np.flatnonzero(areas >= 0.1 * areas.max())
    keep = np.union1d(keep, 1 + np.flatnonzero(areas >= 0.25 * areas.max()))
    out = np.isin(labels, keep).astype(np.uint8)
    # fill small enclosed holes (speckle inside the subject), keep large ones (gaps between arm and body)
    _, holes, hs, _ = cv2.connectedComponentsWithStats(1 - out, connectivity=4)
    x, y, bw, bh, area = (hs[1:, i] for i in range(5))
    inside = (x > 0) & (y > 0) & (x + bw < out.shape[1]) & (y + bh < out.shape[0])
    out[np.isin(holes, 1 + np.flatnonzero(inside & (area < 0.015 * out.size)))] = 1
    return out


def _full_alpha(fg: np.ndarray, rgb: np.ndarray, feather_px: int) -> np.ndarray:
    """Bring the work-size mask to full size with a fast guided filter, so edges follow the real image, then feather."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (fg.shape[1], fg.shape[0]), interpolation=cv2.INTER_AREA)
    gray_small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    p = fg.astype(np.float32)
    r, eps = (4, 1e-3)

    def box(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a, -1, (2 * r + 1, 2 * r + 1))

    mean_i, mean_p = box(gray_small), box(p)
    a = (box(gray_small * p) - mean_i * mean_p) / (box(gray_small * gray_small) - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    a, b = (cv2.resize(box(v), (w, h), interpolation=cv2.INTER_LINEAR) for v in (a, b))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    alpha = np.clip(a * gray + b, 0.0, 1.0)
    # the soft band may only live near the cut: inside is opaque, far outside is clear
    band = max(3, round(2 * w / fg.shape[1]))
    hard = cv2.resize(fg, (w, h), interpolation=cv2.INTER_NEAREST)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    alpha = np.clip(alpha, cv2.erode(hard, k), cv2.dilate(hard, k)).astype(np.float32)
    if feather_px:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather_px / 2)
    alpha[alpha < 0.02] = 0.0
    alpha[alpha > 0.98] = 1.0
    return np.round(alpha * 255).astype(np.uint8)
