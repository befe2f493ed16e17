"""`kroma qa compare` backend: file pairs in, per-metric value/verdict/threshold out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.errors import Invalid
from services.qa.compare import compare_files
from services.qa.identity import models_available
from tests.services.qa import hopper, inked, jitter, photo


def _save(tmp_path: Path, name: str, img: np.ndarray) -> Path:
    path = tmp_path / name
    Image.fromarray(img).save(path)
    return path


def test_compare_all_metrics(tmp_path: Path) -> None:
    ref = _save(tmp_path, 'ref.png', hopper())
    cand = _save(tmp_path, 'cand.jpg', jitter(hopper()))
    out = compare_files(ref, cand)
    assert set(out) == {'identity', 'style', 'composition'}
    for row in out.values():
        assert {'value', 'verdict', 'threshold', 'detail'} <= set(row)
    json.dumps(out)
    assert out['composition']['verdict'] == 'pass'
    if models_available():
        assert out['identity']['verdict'] == 'pass' and out['identity']['value'] <= 0.6


def test_compare_single_metric_and_no_face(tmp_path: Path) -> None:
    ref = _save(tmp_path, 'coffee.png', np.ascontiguousarray(photo('coffee')[::2, ::2]))
    cand = _save(tmp_path, 'rocket.png', np.ascontiguousarray(photo('rocket')[::2, ::2]))
    out = compare_files(ref, cand, metrics='composition')
    assert list(out) == ['composition'] and out['composition']['verdict'] == 'fail'
    style = compare_files(ref, _save(tmp_path, 'ink.png', inked(photo('coffee'))), metrics='style')
    assert style['style']['value'] < 0.6
    assert compare_files(ref, cand, metrics='identity')['identity']['verdict'] == 'unverified'


def test_compare_rejects_bad_input(tmp_path: Path) -> None:
    ref = _save(tmp_path, 'ref.png', photo('coffee'))
    with pytest.raises(Invalid):
        compare_files(ref, tmp_path / 'missing.png')
    with pytest.raises(Invalid):
        compare_files(ref, ref, metrics='vibes')
