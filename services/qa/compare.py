"""Compare two image files on one or all metrics; backs `kroma qa compare REF CAND [--metric] [--json]`."""

from __future__ import annotations

from pathlib import Path

from services.errors import Invalid
from services.qa.composition import composition_drift
from services.qa.identity import IdentityUnavailable, face_encodings, identity_check
from services.qa.style import build_style_profile, style_similarity
from services.qa.thresholds import UNVERIFIED, MetricResult, QAThresholds, as_rgb

METRICS = ('identity', 'style', 'composition')


def _row(m: MetricResult) -> dict:
    d = m.to_dict()
    return {
        'value': d['value'],
        'verdict': d['verdict'],
        'threshold': d['threshold'],
        'detail': d['detail'],
        **d['extra'],
    }


def _identity(ref, cand, t: QAThresholds) -> MetricResult:
    """The reference's largest face is the person; the candidate must hold a face within the distance band."""
    try:
        encodings = face_encodings(ref)
    except IdentityUnavailable as e:
        return MetricResult(
            'identity', None, UNVERIFIED, t.identity_max_distance, e.user_message, {'reason': e.user_message}
        )
    if not encodings:
        reason = 'no face in reference'
        return MetricResult('identity', None, UNVERIFIED, t.identity_max_distance, reason, {'reason': reason})
    return identity_check(cand, {'reference': encodings[:1]}, t)


def compare_files(
    reference: Path, candidate: Path, metrics: str = 'all', thresholds: QAThresholds | None = None
) -> dict:
    """{metric: {'value', 'verdict', 'threshold', 'detail', ...extra}} for identity, style and/or composition."""
    wanted = METRICS if metrics == 'all' else (metrics,)
    if any(m not in METRICS for m in wanted):
        raise Invalid(f'Unknown metric {metrics!r}; use identity, style, composition or all.', code='qa_metric')
    t = thresholds or QAThresholds()
    ref, cand = as_rgb(Path(reference)), as_rgb(Path(candidate))
    out: dict[str, dict] = {}
    if 'identity' in wanted:
        out['identity'] = _row(_identity(ref, cand, t))
    if 'style' in wanted:
        out['style'] = _row(style_similarity(cand, build_style_profile([ref]), t))
    if 'composition' in wanted:
        out['composition'] = _row(composition_drift(cand, ref, t))
    return out
