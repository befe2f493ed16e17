"""Style similarity to the project's style references from content-light statistics: colour, tone, texture, edges.

Every component is a 0–1 similarity; the score is their weighted mean. Histograms are compared with
1 − Hellinger distance against the refs' pooled histogram (robust to what each ref happens to show);
colour moments and edge density are compared with each ref and averaged. Weights were chosen on the skimage
sample photos restyled four ways (ink+posterize+recolour, watercolour, noir, Reinhard colour transfer), so
that an image scores highest against refs in its own style and above a copy of itself in another style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from services.errors import Invalid
from services.qa.thresholds import FAIL, PASS, WARN, ImageInput, MetricResult, QAThresholds, as_rgb, resize_long_side

STYLE_SIDE = 256
PROFILE_VERSION = 1
HISTOGRAMS = ('palette', 'chroma', 'tone', 'texture', 'gradients')
WEIGHTS = {
    'palette': 0.10,  # joint a*b* histogram: which hues and how saturated
    'chroma': 0.15,  # distribution of colourfulness C*
    'tone': 0.15,  # L* histogram: key, contrast, posterization
    'colour_moments': 0.20,  # Lab mean/std (what a Reinhard transfer matches)
    'texture': 0.10,  # uniform LBP(8, 1): grain, flat fills vs photographic noise
    'gradients': 0.20,  # log gradient-magnitude histogram: soft shading vs hard ink edges
    'edge_density': 0.10,  # share of Canny edge pixels: line-work busyness
}
MOMENT_SCALE = 20.0  # Lab units at which colour-moment similarity falls to 1/e


def _norm(hist: np.ndarray) -> np.ndarray:
    h = np.asarray(hist, dtype=np.float64).ravel()
    s = h.sum()
    return h / s if s > 0 else np.full(h.shape, 1.0 / h.size)


def style_features(image: ImageInput) -> dict[str, np.ndarray | float]:
    """Measure one image at 256 px long side; the same features feed both profiles and candidates."""
    from skimage.feature import local_binary_pattern  # deferred: it imports scipy, only needed here

    x = resize_long_side(as_rgb(image), STYLE_SIDE)
    lab8 = cv2.cvtColor(x, cv2.COLOR_RGB2LAB)
    lab = cv2.cvtColor(x.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    chroma = np.sqrt(lab[:, 1] ** 2 + lab[:, 2] ** 2)
    gray = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)
    lbp = local_binary_pattern(gray, 8, 1, 'uniform').astype(np.intp)
    gf = gray.astype(np.float32)
    mag = cv2.magnitude(cv2.Sobel(gf, cv2.CV_32F, 1, 0), cv2.Sobel(gf, cv2.CV_32F, 0, 1))
    return {
        'palette': _norm(cv2.calcHist([lab8], [1, 2], None, [12, 12], [32, 224, 32, 224])),
        'chroma': _norm(np.histogram(chroma, bins=12, range=(0.0, 90.0))[0]),
        'tone': _norm(cv2.calcHist([lab8], [0], None, [16], [0, 256])),
        'texture': _norm(np.bincount(lbp.ravel(), minlength=10)[:10]),
        'gradients': _norm(np.histogram(np.log1p(mag), bins=12, range=(0.0, float(np.log1p(1500.0))))[0]),
        'moments': np.concatenate([lab.mean(axis=0), lab.std(axis=0)]).astype(np.float64),
        'edge_density': float(np.count_nonzero(cv2.Canny(gray, 60, 150))) / gray.size,
    }


@dataclass(frozen=True, eq=False)
class StyleProfile:
    """Precomputed features of the style refs, so a run measures its refs once and can store them as JSON."""

    pooled: dict[str, np.ndarray]
    moments: np.ndarray  # one row of Lab mean/std per ref
    edge_densities: np.ndarray
    version: int = PROFILE_VERSION

    @property
    def n_refs(self) -> int:
        return len(self.edge_densities)

    def to_dict(self) -> dict:
        return {
            'version': self.version,
            'pooled': {k: v.tolist() for k, v in self.pooled.items()},
            'moments': self.moments.tolist(),
            'edge_densities': self.edge_densities.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> StyleProfile:
        """Load a stored profile; a profile from another feature version must be rebuilt from its refs."""
        if not isinstance(d, dict) or d.get('version') != PROFILE_VERSION:
            raise Invalid(
                'The stored style profile is outdated; rebuild it from the style references.', code='qa_style'
            )
        try:
            pooled = {k: np.asarray(d['pooled'][k], dtype=np.float64) for k in HISTOGRAMS}
            moments = np.asarray(d['moments'], dtype=np.float64).reshape(-1, 6)
            edges = np.asarray(d['edge_densities'], dtype=np.float64).ravel()
        except (KeyError, TypeError, ValueError) as e:
            raise Invalid('The stored style profile is damaged; rebuild it.', code='qa_style') from e
        if len(moments) != len(edges) or not len(edges):
            raise Invalid('The stored style profile is damaged; rebuild it.', code='qa_style')
        return cls(pooled, moments, edges)


def build_style_profile(refs: Sequence[ImageInput]) -> StyleProfile:
    """Measure every style ref once and pool their histograms."""
    if not refs:
        raise Invalid('Add at least one style reference to measure style similarity.', code='qa_style_refs')
    feats = [style_features(r) for r in refs]
    pooled = {k: _norm(np.mean([f[k] for f in feats], axis=0)) for k in HISTOGRAMS}
    moments = np.array([f['moments'] for f in feats], dtype=np.float64)
    edges = np.array([f['edge_density'] for f in feats], dtype=np.float64)
    return StyleProfile(pooled, moments, edges)


def _hellinger_similarity(p: np.ndarray, q: np.ndarray) -> float:
    bc = float(np.sum(np.sqrt(p * q)))
    return 1.0 - float(np.sqrt(max(0.0, 1.0 - bc)))


def style_components(features: dict, profile: StyleProfile) -> dict[str, float]:
    """Per-component 0–1 similarities of one image's features to a profile."""
    comp = {k: _hellinger_similarity(features[k], profile.pooled[k]) for k in HISTOGRAMS}
    dist = np.linalg.norm(profile.moments - features['moments'], axis=1)
    comp['colour_moments'] = float(np.mean(np.exp(-dist / MOMENT_SCALE)))
    e, refs = features['edge_density'], profile.edge_densities
    comp['edge_density'] = float(np.mean(1.0 - np.abs(e - refs) / (e + refs + 1e-6)))
    return {k: round(v, 4) for k, v in comp.items()}


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
