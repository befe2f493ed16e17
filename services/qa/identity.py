"""Character identity: dlib HOG face detection + 128-d ResNet embeddings compared with each character's references."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from services.errors import Invalid, KromaError
from services.qa.thresholds import FAIL, PASS, UNVERIFIED, ImageInput, MetricResult, QAThresholds, as_rgb

log = logging.getLogger(__name__)

MODEL_FILES = {
    'landmarks': 'shape_predictor_5_face_landmarks.dat',
    'encoder': 'dlib_face_recognition_resnet_model_v1.dat',
}
MAX_SIDE = 1024  # large images are shrunk first: HOG cost grows with area, faces stay well above 80 px
UPSAMPLE_BELOW = 800  # smaller images are upsampled once so faces down to ~40 px are found
MIN_FACE_SCORE = 0.4  # HOG detector margin; real faces score ≈ 0.8–1.5, the false hits seen on samples ≤ 0.25
_load_lock = threading.Lock()
_infer_lock = threading.Lock()  # dlib's DNN keeps per-call state in the net object: one inference at a time


class IdentityUnavailable(KromaError):
    """dlib or its model files are missing, so identity cannot be measured (results say 'unverified')."""

    status, kind, code = 503, 'infra', 'identity_unavailable'


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face: box (left, top, right, bottom) in the input's pixels, detector score and embedding."""

    box: tuple[int, int, int, int]
    score: float
    encoding: np.ndarray


def models_dir() -> Path | None:
    """Locate face_recognition_models/models without importing the package (its import needs pkg_resources)."""
    override = os.environ.get('KROMA_FACE_MODELS_DIR')
    if override:
        return Path(override)
    try:
        spec = importlib.util.find_spec('face_recognition_models')
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for location in spec.submodule_search_locations or ():
        candidate = Path(location) / 'models'
        if candidate.is_dir():
            return candidate
    return None


def _missing() -> str | None:
    if importlib.util.find_spec('dlib') is None:
        return 'dlib is not installed'
    folder = models_dir()
    if folder is None:
        return 'the face_recognition_models package is not installed'
    absent = [name for name in MODEL_FILES.values() if not (folder / name).is_file()]
    return f'model files missing in {folder}: {", ".join(absent)}' if absent else None


def models_available() -> bool:
    """True when dlib and the landmark + encoder model files can be found."""
    return _missing() is None


@cache
def _models_cached() -> tuple:
    import dlib

    folder = models_dir()
    assert folder is not None
    log.info('loading dlib face models from %s', folder)
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(folder / MODEL_FILES['landmarks'])),
        dlib.face_recognition_model_v1(str(folder / MODEL_FILES['encoder'])),
    )


def _models() -> tuple:
    """Load the dlib models once per process; raise IdentityUnavailable with the reason when they cannot be."""
    problem = _missing()
    if problem:
        raise IdentityUnavailable(f'Identity check unavailable: {problem}.')
    with _load_lock:
        try:
            return _models_cached()
        except (ImportError, RuntimeError) as e:
            raise IdentityUnavailable(f'Identity check unavailable: dlib could not load its models ({e}).') from e


def find_faces(image: ImageInput) -> list[Face]:
    """Detect faces (on a ≤1024 px copy, upsampled once when small or when nothing was found) and embed each."""
    detector, landmarks, encoder = _models()
    rgb = as_rgb(image)
    h, w = rgb.shape[:2]
    scale = min(1.0, MAX_SIDE / max(h, w))
    work = rgb
    if scale < 1.0:
        work = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    upsample = 1 if max(work.shape[:2]) < UPSAMPLE_BELOW else 0
    with _infer_lock:
        rects, scores, _ = detector.run(work, upsample, MIN_FACE_SCORE)
        if not rects and upsample == 0:
            rects, scores, _ = detector.run(work, 1, MIN_FACE_SCORE)
        encs = [encoder.compute_face_descriptor(work, landmarks(work, rect)) for rect in rects]
    faces = []
    for rect, score, raw in zip(rects, scores, encs, strict=True):
        enc = np.asarray(raw, dtype=np.float64)
        box = tuple(int(round(v / scale)) for v in (rect.left(), rect.top(), rect.right(), rect.bottom()))
        faces.append(Face((max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])), float(score), enc))
    return faces


def face_encodings(image: ImageInput) -> list[np.ndarray]:
    """128-d embeddings of every face found, largest face first (the usual pick for a character reference)."""
    faces = sorted(find_faces(image), key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)
    return [f.encoding for f in faces]


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between embeddings; dlib's same-person threshold is 0.6."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def _reference_arrays(name: str, refs: Sequence[np.ndarray]) -> np.ndarray:
    """Stack a character's reference encodings, refusing anything that is not 128 finite numbers."""
    try:
        rows = [np.asarray(r, dtype=np.float64).ravel() for r in refs]
    except (TypeError, ValueError) as e:
        raise Invalid(f'Face references of {name} must be 128-number encodings.', code='qa_face_reference') from e
    if any(r.shape != (128,) for r in rows):
        raise Invalid(f'Face references of {name} must be 128-number encodings.', code='qa_face_reference')
    arr = np.array(rows).reshape(-1, 128)
    if not np.isfinite(arr).all():
        raise Invalid(f'Face references of {name} hold NaN or infinite values.', code='qa_face_reference')
    return arr


def identity_check(
    image: ImageInput, characters: Mapping[str, Sequence[np.ndarray]], thresholds: QAThresholds = QAThresholds()
) -> MetricResult:
    """Match faces to characters one-to-one, closest first; a character without a face is unverified, never passed."""
    # a character's distance to a face is its closest reference (the nearest angle counts); overall: fail if any
    # character fails, else unverified if any is, else pass; the value is the worst matched distance
    limit = thresholds.identity_max_distance
    refs = {name: _reference_arrays(name, r) for name, r in characters.items()}
    try:
        faces = find_faces(image)
    except IdentityUnavailable as e:
        per = {name: {'verdict': UNVERIFIED, 'distance': None} for name in characters}
        return MetricResult('identity', None, UNVERIFIED, limit, e.user_message, {'characters': per, 'faces_found': 0})
    pairs = []
    for name, arr in refs.items():
        for i, face in enumerate(faces):
            if len(arr):
                pairs.append((float(np.min(np.linalg.norm(arr - face.encoding, axis=1))), name, i))
    pairs.sort()
    per: dict[str, dict] = {}
    used: set[int] = set()
    for dist, name, i in pairs:
        if name in per or i in used:
            continue
        used.add(i)
        per[name] = {'verdict': PASS if dist <= limit else FAIL, 'distance': round(dist, 4), 'face': i}
        per[name]['box'] = list(faces[i].box)
    for name, arr in refs.items():
        if name not in per:
            reason = 'no reference encodings' if not len(arr) else 'no face found for this character'
            per[name] = {'verdict': UNVERIFIED, 'distance': None, 'reason': reason}
        per[name]['references'] = len(arr)
    verdicts = [p['verdict'] for p in per.values()]
    dists = [p['distance'] for p in per.values() if p['distance'] is not None]
    value = max(dists) if dists else None
    if FAIL in verdicts:
        verdict = FAIL
        detail = 'face does not match: ' + ', '.join(n for n, p in per.items() if p['verdict'] == FAIL)
    elif UNVERIFIED in verdicts or not verdicts:
        verdict = UNVERIFIED
        missing = [n for n, p in per.items() if p['verdict'] == UNVERIFIED]
        detail = f'{len(faces)} face(s) found; unverified: ' + (', '.join(missing) or 'no characters given')
    else:
        verdict, detail = PASS, f'all {len(per)} character(s) match (worst distance {value:.2f})'
    extra = {'characters': per, 'faces_found': len(faces)}
    return MetricResult('identity', value, verdict, limit, detail, extra)
