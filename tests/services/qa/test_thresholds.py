"""QA settings load leniently but validate, and every image input becomes the same RGB pixels."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.errors import Invalid
from services.qa.thresholds import MetricResult, QAThresholds, as_rgb, resize_long_side


def test_defaults_and_round_trip_ignore_unknown_keys() -> None:
    t = QAThresholds.from_dict({'monochrome': True, 'style_pass': 0.7, 'not_a_setting': 3})
    assert t.monochrome is True and t.style_pass == 0.7 and t.max_chroma_delta == 2.0
    assert QAThresholds.from_dict(t.to_dict()) == t
    assert QAThresholds.from_dict(None) == QAThresholds()
    assert isinstance(QAThresholds.from_dict({'min_width': 640.0}).min_width, int)


@pytest.mark.parametrize(
    'bad',
    [
        {'max_chroma_delta': -1},
        {'style_warn': 0.8},
        {'composition_pass': 1.5, 'composition_warn': 0.2},
        {'identity_max_distance': 0},
        {'max_clipping': 2},
        {'monochrome': 'yes'},
        {'min_sharpness': 'high'},
        {'min_width': float('nan')},
    ],
)
def test_bad_settings_are_invalid(bad: dict) -> None:
    with pytest.raises(Invalid):
        QAThresholds.from_dict(bad)


def test_metric_result_is_json_ready() -> None:
    m = MetricResult('style', np.float32(0.5), 'warn', 0.6, 'x', {'a': np.float64(1.5), 'b': np.array([1, 2])})
    d = m.to_dict()
    json.dumps(d)
    assert MetricResult.from_dict(d).to_dict() == d
    with pytest.raises(ValueError):
        MetricResult('style', 1.0, 'maybe')


def test_inputs_become_rgb(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, 'PNG')
    path = tmp_path / 'a.png'
    path.write_bytes(buf.getvalue())
    rgba = np.dstack([rgb, np.zeros((20, 30), np.uint8)])  # fully transparent: stored RGB still counts
    for source in (rgb, Image.fromarray(rgb), buf.getvalue(), path, str(path), rgba, rgb.astype(np.float64) / 255):
        out = as_rgb(source)
        assert out.dtype == np.uint8 and out.shape == (20, 30, 3) and out.flags.c_contiguous
        np.testing.assert_array_equal(out, rgb)
    assert as_rgb(rgb[..., 0]).shape == (20, 30, 3)


@pytest.mark.parametrize('bad', [b'', b'not an image', np.zeros((4, 4, 2)), np.full((4, 4), -3), 'missing.png', 42])
def test_bad_inputs_are_invalid(bad: object) -> None:
    with pytest.raises(Invalid):
        as_rgb(bad)


def test_resize_long_side() -> None:
    img = np.zeros((1536, 1024, 3), np.uint8)
    assert resize_long_side(img, 256).shape == (256, 171, 3)
    assert resize_long_side(img, 4096) is img
    assert resize_long_side(img[:100, :50], 200, upscale=True).shape == (200, 100, 3)


def test_settings_saved_on_the_old_scale_take_the_new_defaults() -> None:
    old = {'style_pass': 0.6, 'style_warn': 0.45, 'identity_max_distance': 0.6, 'min_width': 600}
    t = QAThresholds.from_dict(old)
    assert (t.style_pass, t.style_warn, t.min_width) == (QAThresholds().style_pass, QAThresholds().style_warn, 600)
    assert QAThresholds.from_dict({'style_pass': 0.7}).style_pass == 0.7  # a value someone chose is kept
    saved = QAThresholds(style_pass=0.6, style_warn=0.45).to_dict()
    assert QAThresholds.from_dict(saved).style_pass == 0.6  # saved on this scale: taken as is


def test_settings_saved_on_scale_2_take_the_refitted_style_defaults() -> None:
    saved = {'style_pass': 0.5, 'style_warn': 0.4, 'identity_max_distance': 0.6, 'scale': 2}
    t = QAThresholds.from_dict(saved)
    assert (t.style_pass, t.style_warn) == (QAThresholds().style_pass, QAThresholds().style_warn)
    chosen = QAThresholds.from_dict({'style_pass': 0.55, 'style_warn': 0.4, 'scale': 2})
    assert chosen.style_pass == 0.55 and chosen.style_warn == QAThresholds().style_warn
    assert QAThresholds.from_dict({'style_pass': 0.6, 'scale': 'two'}).style_pass == QAThresholds().style_pass
