"""The issue's reference identity scorer, for comparison with ours on the same pairs: dlib's HOG detector at one
upsample, the 5-point landmarks, the 128-d encoding of the raw chip, plain Euclidean distance (as face_recognition
does it). The reference's largest face against the nearest face in the candidate; no face is 'unverified'."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np

PLAIN_THRESHOLD = 0.6  # dlib's photo same-person threshold


@cache
def _models() -> tuple:
    import dlib

    from services.qa.face_models import models_path

    folder = models_path()
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(folder / 'shape_predictor_5_face_landmarks.dat')),
        dlib.face_recognition_model_v1(str(folder / 'dlib_face_recognition_resnet_model_v1.dat')),
    )


def encodings(path: Path) -> list[tuple[int, np.ndarray]]:
    """(face area, encoding) for every face HOG finds at one upsample."""
    detector, landmarks, encoder = _models()
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    out = []
    for r in detector(rgb, 1):
        enc = np.asarray(encoder.compute_face_descriptor(rgb, landmarks(rgb, r)), dtype=np.float64)
        out.append((r.width() * r.height(), enc))
    return out


def plain_identity(ref: Path, cand: Path) -> dict:
    """{'value': distance or None, 'verdict': pass/fail/unverified, 'threshold': 0.6} like compare_files' row."""
    refs = encodings(ref)
    cands = encodings(cand) if refs else []
    if not refs or not cands:
        return {'value': None, 'verdict': 'unverified', 'threshold': PLAIN_THRESHOLD}
    r = max(refs, key=lambda x: x[0])[1]
    d = min(float(np.linalg.norm(r - c)) for _, c in cands)
    return {'value': d, 'verdict': 'pass' if d <= PLAIN_THRESHOLD else 'fail', 'threshold': PLAIN_THRESHOLD}


# The issue's reference style scorer, as it describes it ("hue/saturation/value histograms, LBP and gradient-orientation
# histograms plus a few technique measures"): every component equally weighted, nothing fitted to our set, so the
# gap between it and ours says how hard a set is, as the identity one does.
def _style_parts(path: Path) -> dict[str, np.ndarray | float]:
    from services.qa.style_measures import lbp_codes, norm
    from services.qa.thresholds import as_rgb, resize_long_side

    rgb = resize_long_side(as_rgb(path), 256)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    mag, angle = cv2.magnitude(gx, gy).ravel(), (np.degrees(np.arctan2(gy, gx)) % 180.0).ravel()
    colours = (rgb.reshape(-1, 3).astype(np.int32) >> 3) @ np.array([1024, 32, 1])
    return {
        'hue': norm(cv2.calcHist([hsv], [0], None, [18], [0, 180])),
        'saturation': norm(cv2.calcHist([hsv], [1], None, [16], [0, 256])),
        'value': norm(cv2.calcHist([hsv], [2], None, [16], [0, 256])),
        'lbp': norm(np.bincount(lbp_codes(gray).ravel(), minlength=10)),
        'orientation': norm(np.bincount(np.minimum(angle / 20, 8).astype(np.intp), weights=mag, minlength=9)),
        'edge_density': float((cv2.Canny(gray, 100, 200) > 0).mean()),
        'colour_count': float(np.unique(colours).size / colours.size),
        'ink_share': float((gray < 40).mean()),
        'mean_saturation': float(hsv[..., 1].mean() / 255.0),
    }


def plain_style(ref: Path, cand: Path) -> dict:
    """{'value': 0–1 similarity, 'verdict': None}: the mean of the histograms' intersections and of each technique
    measure's ratio (smaller over larger). It has no thresholds of its own, so only its AUC is compared."""
    a, b = _style_parts(ref), _style_parts(cand)
    sims = []
    for k, x in a.items():
        y = b[k]
        if isinstance(x, np.ndarray):
            sims.append(float(np.minimum(x, y).sum()))
        else:
            sims.append(min(x, y) / max(x, y) if max(x, y) > 0 else 1.0)
    return {'value': float(np.mean(sims)), 'verdict': None, 'threshold': None}
