"""Style similarity to the project's style references from content-light statistics: colour and line technique.

Every component is a 0–1 similarity (1 − Hellinger distance between histograms, the candidate's against the refs'
pooled histogram, robust to what each ref happens to show); the score is their weighted mean. Colour is read as
hue (weighted by saturation), saturation and value histograms plus the a*b* palette at 256 px; technique as the
log gradient-magnitude histogram at 512 px, where ink lines, flat fills, hatching, halftone and soft washes
still differ (at 256 px they blur into one another). Weights and thresholds were fitted on the calibration half
of benchmarks/qa_set (nine comic styles, confusable pairs sharing a technique or a palette, and the same picture
in another style as hard negatives) and checked on its held-out half (benchmarks/qa_accuracy.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from services.errors import Invalid
from services.qa.thresholds import FAIL, PASS, WARN, ImageInput, MetricResult, QAThresholds, as_rgb, resize_long_side

STYLE_SIDE = 256
TECHNIQUE_SIDE = 512
PROFILE_VERSION = 2
HISTOGRAMS = ('hue', 'saturation', 'value', 'palette', 'gradients')
WEIGHTS = {
    'gradients': 0.33,  # log gradient-magnitude at 512 px: soft shading vs hard ink, hatching, halftone, flat fills
    'hue': 0.26,  # hue histogram weighted by saturation: which colours, ignoring grays
    'value': 0.20,  # brightness histogram: key, contrast, posterisation
    'saturation': 0.15,  # how colourful: muted washes vs pop palettes vs black and white
    'palette': 0.06,  # joint a*b* histogram
}


def _norm(hist: np.ndarray) -> np.ndarray:
    h = np.asarray(hist, dtype=np.float64).ravel()
    s = h.sum()
    return h / s if s > 0 else np.full(h.shape, 1.0 / h.size)


def style_features(image: ImageInput) -> dict[str, np.ndarray]:
    """Measure one image (colour at 256 px, technique at 512 px); the same features feed profiles and candidates."""
    big = resize_long_side(as_rgb(image), TECHNIQUE_SIDE)
    x = resize_long_side(big, STYLE_SIDE)
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
    hue = (hsv[..., 0].ravel() // 10).astype(np.intp)
    lab8 = cv2.cvtColor(x, cv2.COLOR_RGB2LAB)
    gray = cv2.cvtColor(big, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mag = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    return {
        'hue': _norm(np.bincount(hue, weights=hsv[..., 1].ravel().astype(np.float64) + 1.0, minlength=18)[:18]),
        'saturation': _norm(cv2.calcHist([hsv], [1], None, [16], [0, 256])),
        'value': _norm(cv2.calcHist([hsv], [2], None, [16], [0, 256])),
        'palette': _norm(cv2.calcHist([lab8], [1, 2], None, [12, 12], [32, 224, 32, 224])),
        'gradients': _norm(np.histogram(np.log1p(mag), bins=12, range=(0.0, float(np.log1p(1500.0))))[0]),
    }


@dataclass(frozen=True, eq=False)
class StyleProfile:
    """Pooled features of the style refs, so a run measures its refs once and can store them as JSON."""

    pooled: dict[str, np.ndarray]
    n_refs: int
    version: int = PROFILE_VERSION

    def to_dict(self) -> dict:
        return {'version': self.version, 'pooled': {k: v.tolist() for k, v in self.pooled.items()}, 'refs': self.n_refs}

    @classmethod
    def from_dict(cls, d: dict) -> StyleProfile:
        """Load a stored profile; a profile from another feature version must be rebuilt from its refs."""
        if not isinstance(d, dict) or d.get('version') != PROFILE_VERSION:
            raise Invalid(
                'The stored style profile is outdated; rebuild it from the style references.', code='qa_style'
            )
        try:
            pooled = {k: _norm(np.asarray(d['pooled'][k], dtype=np.float64)) for k in HISTOGRAMS}
            n = int(d['refs'])
        except (KeyError, TypeError, ValueError) as e:
            raise Invalid('The stored style profile is damaged; rebuild it.', code='qa_style') from e
        if n < 1:
            raise Invalid('The stored style profile is damaged; rebuild it.', code='qa_style')
        return cls(pooled, n)


def build_style_profile(refs: Sequence[ImageInput]) -> StyleProfile:
    """Measure every style ref once and pool their histograms."""
    if not refs:
        raise Invalid('Add at least one style reference to measure style similarity.', code='qa_style_refs')
    feats = [style_features(r) for r in refs]
    return StyleProfile({k: _norm(np.mean([f[k] for f in feats], axis=0)) for k in HISTOGRAMS}, len(feats))


def _hellinger_similarity(p: np.ndarray, q: np.ndarray) -> float:
    bc = float(np.sum(np.sqrt(p * q)))
    return 1.0 - float(np.sqrt(max(0.0, 1.0 - bc)))


def style_components(features: dict, profile: StyleProfile) -> dict[str, float]:
    """Per-component 0–1 similarities of one image's features to a profile."""
    return {k: round(_hellinger_similarity(features[k], profile.pooled[k]), 4) for k in HISTOGRAMS}


def style_similarity(
    image: ImageInput, profile: StyleProfile, thresholds: QAThresholds = QAThresholds()
) -> MetricResult:
    """Score 0–1 against the profile: ≥ style_pass passes, ≥ style_warn warns, lower fails (off-style)."""
    comp = style_components(style_features(image), profile)
    score = round(sum(WEIGHTS[k] * comp[k] for k in WEIGHTS) / sum(WEIGHTS.values()), 4)
    if score >= thresholds.style_pass:
        verdict, detail = PASS, f'on style ({score:.2f})'
    elif score >= thresholds.style_warn:
        verdict, detail = WARN, f'style drifting ({score:.2f} < {thresholds.style_pass:.2f})'
    else:
        verdict, detail = FAIL, f'off style ({score:.2f} < {thresholds.style_warn:.2f})'
    weakest = min(comp, key=comp.__getitem__)
    extra = {'components': comp, 'weakest': weakest, 'refs': profile.n_refs}
    return MetricResult('style', score, verdict, thresholds.style_pass, detail, extra)
