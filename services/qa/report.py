"""One candidate's quality report: run every applicable metric on its pixels and fold them into a verdict and score.

Verdict: 'fail' if any metric fails; 'warn' if any warns or is 'unverified' (an unmeasured check never passes
silently, but it is not a failure either); otherwise 'pass'. Score: 0–1 weighted mean of per-metric scores,
skipping unverified metrics; it only orders candidates with the same failure and warning counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from services.qa.calibration import IdentityBand
from services.qa.colour import colour_guard
from services.qa.composition import composition_drift
from services.qa.identity import identity_check
from services.qa.lighting import Lighting, lighting_of, relight
from services.qa.style import StyleProfile, build_style_profile, style_similarity
from services.qa.technical import SHARPNESS_SIDE, technical
from services.qa.thresholds import (
    FAIL,
    PASS,
    UNVERIFIED,
    WARN,
    ImageInput,
    MetricResult,
    QAThresholds,
    as_rgb,
    resize_long_side,
)

log = logging.getLogger(__name__)

WEIGHTS = {'identity': 0.30, 'style': 0.30, 'composition': 0.25, 'technical': 0.10, 'colour': 0.05}
_VERDICT_SCORE = {PASS: 1.0, WARN: 0.5, FAIL: 0.0}


def _clip01(v: float) -> float:
    return float(min(1.0, max(0.0, v)))


def metric_score(m: MetricResult) -> float | None:
    """0–1 goodness of one metric (None when unverified): similarities as is, distances relative to their limit."""
    if m.verdict == UNVERIFIED:
        return None
    if m.value is not None and m.name in ('style', 'composition'):
        return _clip01(m.value)
    if m.value is not None and m.threshold and m.name == 'identity':
        return _clip01(1.0 - 0.5 * m.value / m.threshold)  # 0 → 1, at the limit → 0.5, twice the limit → 0
    if m.value is not None and m.threshold and m.name == 'colour' and m.extra.get('mode') == 'monochrome':
        return _clip01(1.0 - 0.5 * m.value / m.threshold)
    return _VERDICT_SCORE.get(m.verdict, 0.0)


def overall_verdict(metrics: Iterable[MetricResult]) -> str:
    verdicts = {m.verdict for m in metrics}
    if FAIL in verdicts:
        return FAIL
    if WARN in verdicts or UNVERIFIED in verdicts:
        return WARN
    return PASS


def weighted_score(metrics: Iterable[MetricResult]) -> float:
    total = weight = 0.0
    for m in metrics:
        s = metric_score(m)
        if s is not None:
            w = WEIGHTS.get(m.name, 0.10)
            total, weight = total + w * s, weight + w
    return round(total / weight, 4) if weight else 0.0


@dataclass(frozen=True)
class QAReport:
    """Every measurement for one candidate, its overall verdict and its ranking score."""

    metrics: dict[str, MetricResult]
    verdict: str
    score: float

    @classmethod
    def from_metrics(cls, metrics: Iterable[MetricResult]) -> QAReport:
        ms = {m.name: m for m in metrics}
        return cls(ms, overall_verdict(ms.values()), weighted_score(ms.values()))

    @property
    def failures(self) -> list[str]:
        return [n for n, m in self.metrics.items() if m.verdict == FAIL]

    @property
    def warnings(self) -> list[str]:
        """Metric names that warn or could not be verified; both keep a candidate from a clean pass."""
        return [n for n, m in self.metrics.items() if m.verdict in (WARN, UNVERIFIED)]

    def to_dict(self) -> dict:
        return {
            'verdict': self.verdict,
            'score': self.score,
            'failures': self.failures,
            'warnings': self.warnings,
            'metrics': {n: m.to_dict() for n, m in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> QAReport:
        """Rebuild a stored report; verdict and score are recomputed so they always agree with the metrics."""
        return cls.from_metrics(MetricResult.from_dict(m) for m in (d.get('metrics') or {}).values())


def _style(work: np.ndarray, profile: StyleProfile, t: QAThresholds, lighting: Lighting | None) -> MetricResult:
    if lighting is None:
        return style_similarity(work, profile, t)
    m = style_similarity(relight(work, lighting), profile, t, light_free=True)
    detail = f'{m.detail}; light set aside (this stage changes it)'
    return replace(m, detail=detail, extra={**m.extra, 'relit': True})


def style_basis(refs: Sequence[ImageInput], relit: bool) -> tuple[StyleProfile | None, Lighting | None]:
    """The style references decoded once: their profile and, when candidates change the light or colours on
    purpose (relit stages, a colour grade), their light."""
    if not refs:
        return None, None
    images = [as_rgb(r) for r in refs]
    return build_style_profile(images), (lighting_of(images) if relit else None)


def evaluate(
    image: ImageInput,
    *,
    style_refs: Sequence[ImageInput] = (),
    scene: ImageInput | None = None,
    characters: Mapping[str, Sequence[np.ndarray]] | None = None,
    thresholds: QAThresholds | None = QAThresholds(),
    style_profile: StyleProfile | None = None,
    identity_bands: Mapping[str, IdentityBand] | None = None,
    other_characters: Mapping[str, Sequence[np.ndarray]] | None = None,
    lighting: Lighting | None = None,
) -> QAReport:
    """Measure a candidate: colour + technical always, style/composition/identity when their inputs are given.

    With `lighting` (the style references' light, on stages that relight on purpose) style is judged on the
    candidate relit to it, so a night grade is not mistaken for a change of style."""
    t = thresholds or QAThresholds()
    started = time.perf_counter()
    rgb = as_rgb(image)
    work = resize_long_side(rgb, SHARPNESS_SIDE)  # one shared shrink: style and composition go smaller still
    metrics = [colour_guard(rgb, t), technical(rgb, t, work=work)]
    if style_profile is None and style_refs:
        style_profile = build_style_profile(style_refs)
    if style_profile is not None:
        metrics.append(_style(work, style_profile, t, lighting))
    if scene is not None:
        metrics.append(composition_drift(work, scene, t))
    if characters:
        metrics.append(identity_check(rgb, characters, t, identity_bands, other_characters))
    report = QAReport.from_metrics(metrics)
    log.debug('qa %s score %.3f in %.0f ms', report.verdict, report.score, (time.perf_counter() - started) * 1000)
    return report
