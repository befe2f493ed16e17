"""Faces in drawn art: a cascade of dlib detectors from cheap to expensive, then landmark-aligned 128-d encodings.

Cheap first: HOG on a ≤1024 px copy; then HOG at full size (small faces), on a smoothed copy (halftone, hatching),
on a contrast-normalised copy (CLAHE: flat fills and heavy ink), on a descreened copy (a wide median: noir
hatching), on copies tilted ±8° and ±15° (HOG only finds upright faces); then the best weak HOG hits; and only when
all of that finds fewer faces than expected, dlib's CNN detector. Each stage stops the cascade once enough faces are
found, so a clear panel costs one HOG pass. A widened search (a face found may be someone else's: look for others)
runs the later passes on a copy scaled to the faces already found, and the mirror pass of a face encodes only its
mirror image.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import cv2
import numpy as np

from services.qa.face_models import MODEL_FILES, IdentityUnavailable, models_path, require_models
from services.qa.thresholds import ImageInput, as_rgb

log = logging.getLogger(__name__)

WORK_SIDE = 1024  # HOG cost grows with area; faces ≥ 80 px at this size are found without upsampling
LARGE_SIDE = 1600  # second look at (nearly) full size for smaller faces
UPSAMPLE_BELOW = 800  # smaller images are upsampled once so faces down to ~40 px are found
CNN_SIDE = 512  # the CNN runs on at most this size (about a second per call on one core: the last resort)
CNN_UPSAMPLE_BELOW = 200  # only tiny images are upsampled for it
MIN_FACE_SCORE = 0.4  # HOG margin accepted outright; real photo faces score ≈ 0.8–1.5
WEAK_FACE_SCORE = -0.3  # HOG hits down to this margin are remembered while the cascade runs
WEAK_ACCEPT = 0.0  # … and the best of those ≥ this stand in for faces the cascade could not find outright
MIN_CNN_SCORE = 0.0  # the mmod detector only returns what it believes; stylised faces score 0–0.2
TILTS = (8.0, -8.0, 15.0, -15.0)
WIDEN_FACE = 100  # a widened search sees the smallest face found so far this wide: faces down to ~0.8 of it are found
CHIP = 150
REFERENCE_LEVELS = 5  # tone bands of a posterised reference chip (measured on the set's calibration half: 5 beat 3)
ENCODER_VERSION = 4  # bump when chips or encodings change: stored calibrations are then measured again
_load_lock = threading.Lock()
_infer_lock = threading.Lock()  # dlib's DNNs keep per-call state in the net object: one inference at a time


@dataclass(frozen=True, eq=False)
class Face:
    """One face: box (left, top, right, bottom) in the input's pixels, detector score, embedding, and the pass that
    found it ('hog', 'hog-large', 'clahe', 'tilt+8', 'cnn', …)."""

    box: tuple[int, int, int, int]
    score: float
    encoding: np.ndarray
    path: str = 'hog'
    chip: np.ndarray | None = field(default=None, repr=False)  # the normalised chip, kept while not yet mirrored


@dataclass
class _Hit:
    box: tuple[float, float, float, float]  # in input pixels
    score: float
    strong: bool
    view: np.ndarray  # the colour image the detector saw (maybe scaled and rotated), for landmarks and chips
    rect: Any  # dlib rectangle in view pixels
    path: str
    chip: np.ndarray | None = None  # made once, so a widened search never aligns or encodes this face again
    encoding: np.ndarray | None = None  # the one-pass encoding


@cache
def _models_cached() -> tuple:
    import dlib

    folder = models_path()
    log.info('loading dlib face models from %s', folder)
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(folder / MODEL_FILES['landmarks'])),
        dlib.face_recognition_model_v1(str(folder / MODEL_FILES['encoder'])),
    )


@cache
def _cnn_cached() -> Any:
    import dlib

    return dlib.cnn_face_detection_model_v1(str(models_path() / 'mmod_human_face_detector.dat'))


def _models() -> tuple:
    """Load the dlib models once per process; raise IdentityUnavailable with the reason when they cannot be."""
    require_models()
    with _load_lock:
        try:
            return _models_cached()
        except (ImportError, RuntimeError) as e:
            raise IdentityUnavailable(f'Identity check unavailable: dlib could not load its models ({e}).') from e


def _cnn() -> Any | None:
    """The CNN detector, or None when its weights are missing (the cascade then ends after HOG)."""
    if not (models_path() / 'mmod_human_face_detector.dat').is_file():
        return None
    with _load_lock:
        try:
            return _cnn_cached()
        except RuntimeError as e:  # pragma: no cover - damaged weights
            log.warning('CNN face detector unavailable: %s', e)
            return None


def _scaled(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    s = min(1.0, side / max(h, w))
    if s == 1.0:
        return rgb, 1.0
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), s


def _iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class _Cascade:
    """Collects hits across detector passes, merging the same face seen twice."""

    def __init__(self, rgb: np.ndarray, expected: int) -> None:
        self.rgb, self.expected = rgb, max(1, expected)
        self.hits: list[_Hit] = []
        self.done: set[str] = set()  # passes already run: widening the search runs only the others

    def first_time(self, path: str) -> bool:
        if path in self.done:
            return False
        self.done.add(path)
        return True

    def strong(self) -> int:
        return sum(h.strong for h in self.hits)

    def enough(self) -> bool:
        return self.strong() >= self.expected

    def add(self, hit: _Hit) -> None:
        for i, old in enumerate(self.hits):
            if _iou(old.box, hit.box) > 0.3:
                if (hit.strong, hit.score) > (old.strong, old.score):
                    self.hits[i] = hit
                return
        self.hits.append(hit)

    def hog(
        self,
        view: np.ndarray,
        scale: float,
        upsample: int,
        path: str,
        *,
        rot: np.ndarray | None = None,
        seen: np.ndarray | None = None,
    ) -> None:
        """HOG on `seen` (a filtered copy of `view`, or the view itself); hits keep the colour view."""
        if not self.first_time(path):
            return
        detector = _models()[0]
        with _infer_lock:
            rects, scores, _ = detector.run(view if seen is None else seen, upsample, WEAK_FACE_SCORE)
        for rect, score in zip(rects, scores, strict=True):
            box = _to_input((rect.left(), rect.top(), rect.right(), rect.bottom()), scale, rot)
            self.add(_Hit(box, float(score), score >= MIN_FACE_SCORE, view, rect, path))

    def best_weak(self, expected: int) -> list[_Hit]:
        """Drawn faces often score below the photo margin: the best weak hits, no more than are missing."""
        weak = sorted((h for h in self.hits if not h.strong and h.score >= WEAK_ACCEPT), key=lambda h: -h.score)
        return weak[: max(0, expected - self.strong())]

    def accept_weak(self) -> None:
        for hit in self.best_weak(self.expected):
            hit.strong = True

    def first_pass(self) -> tuple[np.ndarray, float, int]:
        """HOG at the working size (once); returns the view, its scale and the upsampling the later passes use."""
        work, scale = _scaled(self.rgb, WORK_SIDE)
        up = 1 if max(work.shape[:2]) < UPSAMPLE_BELOW else 0
        self.hog(work, scale, up, 'hog')
        return work, scale, up

    def widen_view(self, work: np.ndarray) -> tuple[np.ndarray, float] | None:
        """A copy of the panel scaled so the smallest face found so far is WIDEN_FACE px wide, when that is smaller
        than the working copy: the other characters of a panel are drawn at about the size of the one found, and a
        pass over a quarter of the pixels costs a quarter as much. None when no face was found or none is large."""
        widths = [h.box[2] - h.box[0] for h in self.hits if h.strong]
        if not widths:
            return None
        h, w = self.rgb.shape[:2]
        s = WIDEN_FACE / min(widths)
        if s >= 0.9 * work.shape[1] / w:
            return None
        size = (max(1, round(w * s)), max(1, round(h * s)))
        return cv2.resize(work, size, interpolation=cv2.INTER_AREA), s

    def cnn(self) -> None:
        cnn = _cnn()
        if cnn is None or not self.first_time('cnn'):
            return
        view, scale = _scaled(self.rgb, CNN_SIDE)
        up = 1 if max(view.shape[:2]) < CNN_UPSAMPLE_BELOW else 0
        with _infer_lock:
            found = cnn(view, up)
        for d in found:
            if d.confidence < MIN_CNN_SCORE:
                continue
            r = d.rect
            box = _to_input((r.left(), r.top(), r.right(), r.bottom()), scale, None)
            self.add(_Hit(box, float(d.confidence), True, view, r, 'cnn'))


def _to_input(box: tuple, scale: float, rot: np.ndarray | None) -> tuple[float, float, float, float]:
    """A box in a scaled (and maybe rotated) view back to input pixels (the rotated box's bounding box)."""
    left, top, right, bottom = box
    if rot is not None:
        inv = cv2.invertAffineTransform(rot)
        pts = np.array([[left, top], [right, top], [left, bottom], [right, bottom]], np.float64)
        pts = pts @ inv[:, :2].T + inv[:, 2]
        left, top = pts.min(0)
        right, bottom = pts.max(0)
    return left / scale, top / scale, right / scale, bottom / scale


def _rotated(view: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = view.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(view, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), m


def _clahe(view: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(view, cv2.COLOR_RGB2GRAY)
    gray = cv2.medianBlur(gray, 3)  # breaks up hatching and halftone before the contrast is evened out
    return cv2.createCLAHE(clipLimit=2.5, tileGridSize=(8, 8)).apply(gray)


def detect(rgb: np.ndarray, expected: int = 1, exhaustive: bool = False, cascade: _Cascade | None = None) -> list[_Hit]:
    """Run the cascade until `expected` faces are found (or every pass has been tried); `exhaustive` runs every HOG
    pass whatever was found (a face found first may be someone else's). A `cascade` carried over from an earlier
    search of the same image keeps its hits and skips the passes it already ran."""
    c = cascade or _Cascade(rgb, expected)
    c.expected = max(1, expected) if not exhaustive else 10**6
    work, scale, up = c.first_pass()
    smaller = c.widen_view(work) if exhaustive else None
    if smaller is not None:  # looking for more faces beside those found: at their size, not the panel's
        (work, scale), up = smaller, 0
    elif not c.enough() and not up:
        if scale < 1.0:
            large, lscale = _scaled(rgb, LARGE_SIDE)
            c.hog(large, lscale, 0, 'hog-large')
        else:
            c.hog(work, scale, 1, 'hog-large')
    if not c.enough():  # halftone, hatching and grain break HOG's gradients; a blur joins them back into shading
        c.hog(work, scale, up, 'smooth', seen=cv2.GaussianBlur(work, (0, 0), _blur_sigma(work)))
    if not c.enough():
        c.hog(work, scale, up, 'clahe', seen=_clahe(work))
    if not c.enough():  # noir hatching and crosshatch: a wide median turns the lines into the tones they draw
        c.hog(work, scale, up, 'descreen', seen=_descreen(work))
    for degrees in TILTS:
        if c.enough():
            break
        view, rot = _rotated(work, degrees)
        c.hog(view, scale, up, f'tilt{degrees:+.0f}', rot=rot, seen=cv2.GaussianBlur(view, (0, 0), 1.0))
    if not c.strong():  # only when nothing at all was found: a weak hit must not fill a missing character's place
        c.expected = expected
        c.accept_weak()
    if not c.strong() or (not exhaustive and not c.enough()):
        c.cnn()
    return [h for h in c.hits if h.strong]


def _descreen(view: np.ndarray) -> np.ndarray:
    """Gray with a median over about 7 px of a 1024 px panel: hatching lines and halftone dots dissolve into flat
    shading where a Gaussian blur only greys them (measured: it finds 7 of the 16 faces the set's other passes miss,
    nearly all noir)."""
    k = max(3, int(round(7 * max(view.shape[:2]) / WORK_SIDE)) | 1)
    return cv2.medianBlur(cv2.cvtColor(view, cv2.COLOR_RGB2GRAY), k)


def _blur_sigma(view: np.ndarray) -> float:
    return 1.5 * max(view.shape[:2]) / WORK_SIDE


def normalise_chip(chip: np.ndarray) -> np.ndarray:
    """Gray with local contrast evened out: a palette, a colour cast or flat cel tones no longer move the face."""
    gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY))
    return cv2.merge([gray, gray, gray])


def posterise_chip(chip: np.ndarray, levels: int = REFERENCE_LEVELS) -> np.ndarray:
    """A reference face drawn the way panels draw it: gray, smoothed, its tones evened out and flattened into a few
    bands. A photo reference then sits nearer drawn panels of the same person, and no nearer other people."""
    gray = cv2.equalizeHist(cv2.bilateralFilter(cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY), 7, 40, 5))
    flat = (np.floor(gray / (256 / levels)) * (255 / (levels - 1))).clip(0, 255).astype(np.uint8)
    return cv2.merge([flat, flat, flat])


def _chips(hits: list[_Hit], reference: bool = False) -> list[np.ndarray]:
    """Landmark-aligned 150 px chips: normalised for a panel's faces, posterised for a character's reference."""
    import dlib

    _, landmarks, _ = _models()
    prepare = posterise_chip if reference else normalise_chip
    return [prepare(dlib.get_face_chip(h.view, landmarks(h.view, h.rect), size=CHIP, padding=0.25)) for h in hits]


def _encode_chips(
    chips: list[np.ndarray], mirror: bool, known: list[np.ndarray | None] | None = None
) -> list[np.ndarray]:
    """Each chip's encoding, averaged with its mirror image's when asked (steadier; one more network pass each). A
    chip's `known` one-pass encoding is not computed again: only its mirror image goes through the network."""
    known = known or [None] * len(chips)
    views = []
    for chip, enc in zip(chips, known, strict=True):
        views += ([chip] if enc is None else []) + ([np.ascontiguousarray(chip[:, ::-1])] if mirror else [])
    raw = iter(())
    if views:
        with _infer_lock:
            raw = iter(np.asarray(_models()[2].compute_face_descriptor(views), dtype=np.float64).reshape(-1, 128))
    out = []
    for enc in known:
        first = next(raw) if enc is None else enc
        out.append((first + next(raw)) / 2 if mirror else first)
    return out


def refine(faces: list[Face]) -> list[Face]:
    """The same faces with mirror-averaged encodings (those found with mirror=False keep their chip for this)."""
    todo = [i for i, f in enumerate(faces) if f.chip is not None]
    encs = _encode_chips([faces[i].chip for i in todo], True, [faces[i].encoding for i in todo])  # type: ignore[misc]
    out = list(faces)
    for i, enc in zip(todo, encs, strict=True):
        out[i] = replace(faces[i], encoding=enc, chip=None)
    return out


def find_faces(image: ImageInput, expected: int = 1, *, exhaustive: bool = False, mirror: bool = True) -> list[Face]:
    """Every face found (at least `expected` if the cascade can), with boxes in the input's pixels and encodings.

    mirror=False encodes each chip once (the cheap path) and keeps the chip so `refine` can add the mirror later."""
    return FaceSearch(image, expected).faces(exhaustive=exhaustive, mirror=mirror)


class FaceSearch:
    """One image's face search that can be widened (exhaustive) without running a detector pass twice or aligning
    and encoding a face found before: the identity check looks again only when the first face may be someone else's."""

    def __init__(self, image: ImageInput, expected: int = 1, reference: bool = False) -> None:
        self.rgb = as_rgb(image)
        self.expected = expected
        self.reference = reference  # a character's reference image: its faces are encoded posterised
        self.cascade = _Cascade(self.rgb, expected)

    def quick(self) -> list[Face]:
        """The cheap path: one HOG pass, weak hits included, one-pass encodings. A caller that finds its characters
        clearly among these needs nothing more; otherwise `faces` goes on from here without repeating the pass."""
        _models()
        self.cascade.first_pass()
        strong = [h for h in self.cascade.hits if h.strong]
        return self._faces(strong + self.cascade.best_weak(self.expected), mirror=False)

    def faces(self, *, exhaustive: bool = False, mirror: bool = True) -> list[Face]:
        _models()
        return self._faces(detect(self.rgb, self.expected, exhaustive, self.cascade), mirror)

    def _faces(self, hits: list[_Hit], mirror: bool) -> list[Face]:
        new = [hit for hit in hits if hit.chip is None]
        for hit, chip in zip(new, _chips(new, self.reference), strict=True):
            hit.chip = chip
        if mirror:
            encs = _encode_chips([hit.chip for hit in hits], True, [hit.encoding for hit in hits])
        else:
            for hit, enc in zip(new, _encode_chips([hit.chip for hit in new], mirror=False), strict=True):
                hit.encoding = enc
            encs = [hit.encoding for hit in hits]
        h, w = self.rgb.shape[:2]
        faces = []
        for hit, enc in zip(hits, encs, strict=True):
            left, top, right, bottom = (int(round(v)) for v in hit.box)
            box = (max(0, left), max(0, top), min(w, right), min(h, bottom))
            faces.append(Face(box, hit.score, enc, hit.path, None if mirror else hit.chip))
        return faces


def face_encodings(image: ImageInput) -> list[np.ndarray]:
    """A character reference's 128-d embeddings (posterised chips, mirror-averaged), largest face first."""
    found = FaceSearch(image, reference=True).faces()
    faces = sorted(found, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)
    return [f.encoding for f in faces]
