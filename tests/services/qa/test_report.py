"""evaluate() runs what applies, the overall verdict never hides a failure or an unverified check, ranking orders."""

from __future__ import annotations

import json

import numpy as np

from services.qa.identity import face_encodings
from services.qa.ranking import best, rank
from services.qa.report import QAReport, evaluate, overall_verdict, weighted_score
from services.qa.style import build_style_profile
from services.qa.thresholds import MetricResult, QAThresholds
from tests.services.qa import hopper, inked, photo


def _m(name: str, verdict: str, value: float | None = 0.7, threshold: float | None = 0.6) -> MetricResult:
    return MetricResult(name, value, verdict, threshold)


def _report(*metrics: MetricResult) -> QAReport:
    return QAReport.from_metrics(metrics)


def test_evaluate_runs_applicable_metrics() -> None:
    scene = photo('astronaut')
    profile = build_style_profile([inked(photo(n)) for n in ('coffee', 'rocket', 'chelsea')])
    report = evaluate(inked(scene), scene=scene, style_profile=profile)
    assert set(report.metrics) == {'colour', 'technical', 'style', 'composition'}
    assert report.verdict == 'pass', report.to_dict()
    assert 0.5 < report.score <= 1
    off = evaluate(photo('rocket'), scene=scene, style_refs=[inked(photo('coffee'))])
    assert off.verdict == 'fail' and 'composition' in off.failures
    json.dumps(report.to_dict())
    assert QAReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_evaluate_identity_and_monochrome() -> None:
    ref = face_encodings(hopper())
    gray = np.repeat(hopper().mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    report = evaluate(gray, characters={'grace': ref}, thresholds=QAThresholds(monochrome=True))
    assert report.metrics['identity'].verdict == 'pass' and report.metrics['colour'].verdict == 'pass'
    no_face = evaluate(
        photo('chelsea')[::2, ::2], characters={'grace': ref}, thresholds=QAThresholds(min_width=128, min_height=128)
    )
    assert no_face.metrics['identity'].verdict == 'unverified' and no_face.verdict == 'warn'


def test_overall_verdict_rules() -> None:
    assert overall_verdict([_m('style', 'pass'), _m('colour', 'pass')]) == 'pass'
    assert overall_verdict([_m('style', 'pass'), _m('identity', 'unverified', None)]) == 'warn'
    assert overall_verdict([_m('style', 'warn'), _m('identity', 'unverified', None)]) == 'warn'
    assert overall_verdict([_m('style', 'fail'), _m('colour', 'warn')]) == 'fail'
    # unverified metrics are left out of the score instead of counting as zero or as perfect
    assert weighted_score([_m('style', 'pass', 0.8), _m('identity', 'unverified', None)]) == 0.8
    assert weighted_score([_m('identity', 'pass', 0.0)]) == 1.0
    assert weighted_score([_m('identity', 'fail', 0.6)]) == 0.5


def test_rank_puts_failures_last_then_warnings_then_score() -> None:
    reports = [
        _report(_m('style', 'fail', 0.99)),  # 0: high score but a hard failure
        _report(_m('style', 'pass', 0.65)),  # 1
        _report(_m('style', 'warn', 0.5)),  # 2
        _report(_m('style', 'pass', 0.9)),  # 3
        _report(_m('style', 'pass', 0.9), _m('identity', 'unverified', None)),  # 4: counts as a warning
        _report(_m('style', 'fail', 0.2), _m('composition', 'fail', 0.1)),  # 5: two failures
    ]
    assert rank(reports) == [3, 1, 4, 2, 0, 5]
    assert best(reports) == 3
    assert best([reports[0], reports[5]]) is None
    assert rank([]) == []


def test_rank_is_stable_for_ties() -> None:
    same = [_report(_m('style', 'pass', 0.7)) for _ in range(3)]
    assert rank(same) == [0, 1, 2]


def test_style_basis_reads_each_reference_once_for_profile_and_light(tmp_path, monkeypatch) -> None:
    from PIL import Image

    from services.qa import thresholds
    from services.qa.lighting import lighting_of
    from services.qa.report import style_basis

    paths = []
    for i, img in enumerate((inked(hopper()), hopper())):
        paths.append(tmp_path / f'ref{i}.png')
        Image.fromarray(img).save(paths[-1])
    opened = []
    real_open = thresholds._open
    monkeypatch.setattr(thresholds, '_open', lambda src, name: opened.append(name) or real_open(src, name))
    profile, light = style_basis(paths, relit=True)
    assert len(opened) == len(paths)  # the profile and the light share one decode of each file
    monkeypatch.undo()
    assert profile is not None and light == lighting_of(paths)
    for mine, theirs in zip(profile.refs, build_style_profile(paths).refs, strict=True):
        assert all(np.allclose(mine[k], v) for k, v in theirs.items())
    assert style_basis(paths, relit=False)[1] is None
    assert style_basis([], relit=True) == (None, None)
