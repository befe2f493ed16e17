"""Colour guard: the original pipeline's chroma_delta, so grayscale projects keep colour out and colour ones stay colour."""

from __future__ import annotations

import cv2

from services.qa.thresholds import FAIL, PASS, WARN, ImageInput, MetricResult, QAThresholds, as_rgb


def chroma_delta(image: ImageInput) -> float:
    """Mean over pixels of (|R−G| + |R−B| + |G−B|) / 3, rounded to 4 decimals; 0 means perfectly gray."""
    rgb = as_rgb(image)
    r, g, b = cv2.split(rgb)
    # per-pixel sums are linear, so the mean of the sum is the sum of the three channel-difference means
    total = cv2.mean(cv2.absdiff(r, g))[0] + cv2.mean(cv2.absdiff(r, b))[0] + cv2.mean(cv2.absdiff(g, b))[0]
    return round(float(total) / 3.0, 4)


def colour_guard(image: ImageInput, thresholds: QAThresholds = QAThresholds()) -> MetricResult:
    """Monochrome projects fail above max_chroma_delta; colour projects warn below min_chroma_delta (nearly gray)."""
    value = chroma_delta(image)
    grayscale_like = value <= thresholds.max_chroma_delta
    extra = {'grayscale_like': grayscale_like, 'mode': 'monochrome' if thresholds.monochrome else 'colour'}
    if thresholds.monochrome:
        if grayscale_like:
            return MetricResult('colour', value, PASS, thresholds.max_chroma_delta, 'grayscale-like', extra)
        extra['exceed'] = round(value - thresholds.max_chroma_delta, 4)
        detail = f'not grayscale-like: chroma {value:.2f} > {thresholds.max_chroma_delta:.2f}'
        return MetricResult('colour', value, FAIL, thresholds.max_chroma_delta, detail, extra)
    if thresholds.min_chroma_delta > 0 and value < thresholds.min_chroma_delta:
        detail = f'nearly gray in a colour project: chroma {value:.2f} < {thresholds.min_chroma_delta:.2f}'
        return MetricResult('colour', value, WARN, thresholds.min_chroma_delta, detail, extra)
    return MetricResult('colour', value, PASS, thresholds.min_chroma_delta, 'colour present', extra)
