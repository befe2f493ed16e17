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
