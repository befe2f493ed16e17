"""QA that fits a cut-out: judge what it keeps, composited over its source, and how much of the frame it kept.

A background removal is asked to lose the background, so measuring its hidden RGB (or its transparency as black)
would fail it for doing its job. Instead the kept pixels are laid over the source they came from: style, colour,
composition and technical checks then see the frame as the artist sees it, and a separate 'cutout' metric says
what share of the frame was kept: almost nothing kept means no subject was found (fail), almost everything kept
means nothing was removed (warn).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from services.qa.lighting import Lighting
from services.qa.report import QAReport, evaluate
from services.qa.style import StyleProfile
from services.qa.thresholds import FAIL, PASS, WARN, ImageInput, MetricResult, QAThresholds, as_rgb

MIN_KEPT = 0.03  # below: the cut-out lost the subject too
MAX_KEPT = 0.97  # above: nothing was really removed
OPAQUE = 128  # alpha at or above this counts as kept


def has_transparency(image: Image.Image) -> bool:
    """Only images with at least one see-through pixel are judged as cut-outs."""
    if image.mode not in ('RGBA', 'LA', 'PA') and 'transparency' not in image.info:
        return False
    return image.convert('RGBA').getchannel('A').getextrema()[0] < 255


def kept_fraction(image: Image.Image) -> float:
    """Share of pixels whose alpha is at least half opaque."""
    alpha = np.asarray(image.convert('RGBA').getchannel('A'))
    return round(float((alpha >= OPAQUE).mean()), 4)


def cutout_check(image: Image.Image) -> MetricResult:
    """The kept share as its own metric, with the reason in words."""
    kept = kept_fraction(image)
    extra = {'kept': kept, 'removed': round(1 - kept, 4), 'min_kept': MIN_KEPT, 'max_kept': MAX_KEPT}
    if kept < MIN_KEPT:
        detail = f'kept only {kept:.0%} of the frame (< {MIN_KEPT:.0%}): no subject was found'
        return MetricResult('cutout', kept, FAIL, MIN_KEPT, detail, extra)
    if kept > MAX_KEPT:
        detail = f'kept {kept:.0%} of the frame (> {MAX_KEPT:.0%}): almost nothing was removed'
        return MetricResult('cutout', kept, WARN, MAX_KEPT, detail, extra)
    return MetricResult('cutout', kept, PASS, MIN_KEPT, f'kept {kept:.0%}, removed {1 - kept:.0%} as background', extra)


def composite_over(cutout: Image.Image, source: ImageInput) -> np.ndarray:
    """The cut-out laid over its own source (resized to the cut-out's size): what QA should look at."""
    base = Image.fromarray(as_rgb(source)).convert('RGBA')
    if base.size != cutout.size:
        base = base.resize(cutout.size, Image.Resampling.BILINEAR)
    return np.asarray(Image.alpha_composite(base, cutout.convert('RGBA')).convert('RGB'))


def evaluate_cutout(
    cutout: Image.Image,
    source: ImageInput,
    *,
    scene: ImageInput | None = None,
    style_profile: StyleProfile | None = None,
    thresholds: QAThresholds | None = None,
    lighting: Lighting | None = None,
) -> QAReport:
    """Every usual metric on the composite, plus the kept share, folded into one verdict."""
    composite = composite_over(cutout, source)
    report = evaluate(composite, scene=scene, style_profile=style_profile, thresholds=thresholds, lighting=lighting)
    return QAReport.from_metrics([*report.metrics.values(), cutout_check(cutout)])
