"""Where dlib's face model files live, and a typed error when they (or dlib) are missing."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from services.errors import KromaError

MODEL_FILES = {
    # 68 points, not 5: the chip's alignment is a least-squares fit over all of them, so a few points a drawing
    # misplaces move it less (benchmarks/qa_accuracy.py: identity AUC held-out 0.889 → 0.919, the set 0.906 → 0.919)
    'landmarks': 'shape_predictor_68_face_landmarks.dat',
    'encoder': 'dlib_face_recognition_resnet_model_v1.dat',
}
CNN_FILE = 'mmod_human_face_detector.dat'  # optional: without it the detector cascade ends after HOG


class IdentityUnavailable(KromaError):
    """dlib or its model files are missing, so identity cannot be measured (results say 'unverified')."""

    status, kind, code = 503, 'infra', 'identity_unavailable'


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


def missing() -> str | None:
    """Why identity cannot run, or None when it can."""
    if importlib.util.find_spec('dlib') is None:
        return 'dlib is not installed'
    folder = models_dir()
    if folder is None:
        return 'the face_recognition_models package is not installed'
    absent = [name for name in MODEL_FILES.values() if not (folder / name).is_file()]
    return f'model files missing in {folder}: {", ".join(absent)}' if absent else None


def models_available() -> bool:
    """True when dlib and the landmark + encoder model files can be found."""
    return missing() is None


def require_models() -> None:
    problem = missing()
    if problem:
        raise IdentityUnavailable(f'Identity check unavailable: {problem}.')


def models_path() -> Path:
    """The model folder (call require_models first)."""
    folder = models_dir()
    if folder is None:
        raise IdentityUnavailable('Identity check unavailable: the face_recognition_models package is not installed.')
    return folder
