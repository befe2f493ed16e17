"""Technical checks (sharpness, clipping, size) as one 'technical' result whose parts sit in extra."""

from __future__ import annotations

import cv2
import numpy as np

from services.qa.thresholds import FAIL, PASS, WARN, ImageInput, MetricResult, QAThresholds, as_rgb, resize_long_side

SHARPNESS_SIDE = 512
_ORDER = {PASS: 0, WARN: 1, FAIL: 2}


def sharpness(rgb: np.ndarray) -> float:
    """Std of the Laplacian of luma in [0, 1] at a fixed 512 px long side, so the figure does not depend on size."""
    gray = cv2.cvtColor(resize_long_side(rgb, SHARPNESS_SIDE, upscale=True), cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(gray.astype(np.float32) * (1.0 / 255.0), cv2.CV_32F)
    return round(float(cv2.meanStdDev(lap)[1][0, 0]), 5)


def clipping(rgb: np.ndarray) -> tuple[float, float]:
    """Shares of full-resolution pixels whose luma is exactly 0 (crushed black) and 255 (blown white)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    n = gray.size
    black = (n - cv2.countNonZero(gray)) / n
    white = cv2.countNonZero(cv2.compare(gray, 255, cv2.CMP_EQ)) / n
    return round(black, 5), round(white, 5)


def technical(
    image: ImageInput, thresholds: QAThresholds = QAThresholds(), *, work: np.ndarray | None = None
) -> MetricResult:
    """Too small → fail; soft or clipped → warn; `work` (a ≤512 px copy from evaluate) saves a resize."""
    rgb = as_rgb(image)
    h, w = rgb.shape[:2]
    sharp = sharpness(work if work is not None and max(work.shape[:2]) == min(SHARPNESS_SIDE, max(h, w)) else rgb)
    black, white = clipping(rgb)
    clipped = round(black + white, 5)
    parts = {
        'dimensions': FAIL if w < thresholds.min_width or h < thresholds.min_height else PASS,
        'sharpness': WARN if sharp < thresholds.min_sharpness else PASS,
        'clipping': WARN if clipped > thresholds.max_clipping else PASS,
    }
    notes = []
    if parts['dimensions'] != PASS:
        notes.append(f'{w}×{h} is under the {thresholds.min_width}×{thresholds.min_height} minimum')
    if parts['sharpness'] != PASS:
        notes.append(f'soft: sharpness {sharp:.4f} < {thresholds.min_sharpness:.4f}')
    if parts['clipping'] != PASS:
        notes.append(f'clipped: {clipped:.0%} of pixels pure black or white > {thresholds.max_clipping:.0%}')
    verdict = max(parts.values(), key=_ORDER.__getitem__)
    extra = {
        'width': w,
        'height': h,
        'sharpness': sharp,
        'clipping': clipped,
        'clipped_black': black,
        'clipped_white': white,
        'parts': parts,
    }
    return MetricResult('technical', sharp, verdict, thresholds.min_sharpness, '; '.join(notes) or 'ok', extra)
