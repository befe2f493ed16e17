"""Content-light histograms of one image for style similarity: colour at 256 and 512 px, technique at 512 px.

Technique is read where a picture's content says little about it: in fills (areas smooth at 128 px, where flat
colour, washes with grain, hatching and halftone still differ at 512 px) and along edges (ink lines, hard steps
and soft blends), so the same picture redrawn in another technique does not look alike just because its shapes are.
benchmarks/style_fit.py measured what else was tried and left out (whole-image LBP at 256 and 512 px, gradient
orientation, ink darkness, local colour spread): none of them separated the labelled set's styles further. Left out
too: how far the channels step between neighbouring pixels. Fitted in, it raised held-out AUC 0.917 → 0.921 and, on
character panels, 0.884 → 0.902, but the set's refs and candidates come from the same code; with candidates softened
as from another source (benchmarks/qa_accuracy.py) it failed more same-style panels than today's score (3.2 → 7.4 %,
character panels 11.7 → 17.0 %), and the demo's own style candidates fell from pass to warn. Neither LBP that ignores
steps of a few levels nor smoothing both images first (1 px) made the score steadier on softened candidates (the
smoothing cost AUC 0.917 → 0.880 as drawn, 0.887 → 0.876 softened). The
version-2 histograms (hue, saturation, value, a*b* palette, gradient strengths) stay: they judge relit stages.
Colour count (how many distinct colours a picture uses at 256 px) is what told cel-shaded panels, whose colours follow
the picture, from posterised ink: unlike colour steps it holds on softened candidates (held-out AUC alone 0.955 →
0.942 on character panels) and on restylings the set did not draw (benchmarks/style_other_generator.py).
"""

from __future__ import annotations

import cv2
import numpy as np

from services.qa.thresholds import ImageInput, as_rgb, resize_long_side

STYLE_SIDE = 256
TECHNIQUE_SIDE = 512
FILL_MAX = 40.0  # Sobel magnitude at 128 px below which an area is a fill (smooth at coarse scale)
EDGE_MIN = 160.0  # … and above which it is an edge
LOG_GRADIENT_MAX = float(np.log1p(1500.0))
GRADIENT_BINS = 10
COUNT_BINS = np.arange(-16.0, 0.0, 0.25) + 0.125  # log2 of distinct colours per pixel, 0.25 wide
COUNT_SPREAD = 0.7  # log2 units: same-style pairs differ by 0.33–0.38 (median), other styles by 1.9–2.6
COUNT_FLOOR = 0.05  # share spread evenly, so counts far apart (a gray picture in a colour style) cost a bounded amount

# uniform rotation-invariant LBP (riu2): 8 neighbours in circular order; a code with at most two 0/1 transitions
# keeps its count of ones (0–8), every other code is 9. Invariant to rotation and mirroring, so flips score alike.
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _riu2_table() -> np.ndarray:
    table = np.empty(256, np.uint8)
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        transitions = sum(bits[i] != bits[(i + 1) % 8] for i in range(8))
        table[code] = sum(bits) if transitions <= 2 else 9
    return table


RIU2 = _riu2_table()
_R5, _G5, _B5 = ((np.arange(256, dtype=np.uint16) >> 3) << shift for shift in (10, 5, 0))


def norm(hist: np.ndarray) -> np.ndarray:
    """A histogram as shares summing to 1 (uniform when empty)."""
    h = np.asarray(hist, dtype=np.float64).ravel()
    s = h.sum()
    return h / s if s > 0 else np.full(h.shape, 1.0 / h.size)


def lbp_codes(gray: np.ndarray) -> np.ndarray:
    """riu2 LBP code (0–9) of every pixel of a uint8 gray image: a neighbour counts when strictly brighter, so flat
    fills are code 0 and grain, dots or hatching spread over the others."""
    h, w = gray.shape
    p = cv2.copyMakeBorder(gray, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    code = np.zeros((h, w), np.uint8)
    for i, (dy, dx) in enumerate(_NEIGHBOURS):
        brighter = cv2.compare(p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w], gray, cv2.CMP_GT)  # 255 or 0
        code = cv2.bitwise_or(code, cv2.bitwise_and(brighter, 1 << i))
    return cv2.LUT(code, RIU2)


def _counts(codes: np.ndarray, n: int) -> np.ndarray:
    """Counts of the uint8 codes 0..n-1 (cv2.calcHist is several times faster than np.bincount here)."""
    return cv2.calcHist([codes], [0], None, [n], [0, n]).ravel()


def _magnitude(gray: np.ndarray) -> np.ndarray:
    return cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))


def colour_histograms(x: np.ndarray, big: np.ndarray) -> dict[str, np.ndarray]:
    """At 256 px: hue weighted by saturation, saturation, value, the a*b* palette and each channel's 256 levels; at
    512 px: exact colours."""
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
    hue = (hsv[..., 0].ravel() // 10).astype(np.intp)
    lab = cv2.cvtColor(x, cv2.COLOR_RGB2LAB)
    r, g, b = cv2.split(big)
    colour = cv2.bitwise_or(cv2.bitwise_or(cv2.LUT(r, _R5), cv2.LUT(g, _G5)), cv2.LUT(b, _B5))  # 5-bit RGB index
    return {
        'hue': norm(np.bincount(hue, weights=hsv[..., 1].ravel().astype(np.float64) + 1.0, minlength=18)[:18]),
        'saturation': norm(cv2.calcHist([hsv], [1], None, [16], [0, 256])),
        'value': norm(cv2.calcHist([hsv], [2], None, [16], [0, 256])),
        'palette': norm(cv2.calcHist([lab], [1, 2], None, [12, 12], [32, 224, 32, 224])),
        'channel_levels': norm(np.concatenate([_counts(c, 256) for c in cv2.split(x)])),
        'exact_colours': norm(np.bincount(colour.ravel(), minlength=32768)),
        'colour_count': colour_count(x),
    }


def colour_count(x: np.ndarray) -> np.ndarray:
    """How many distinct 4-bit colours the picture uses per pixel at 256 px: few for flat posterised fills and
    hatching, many for washes and colour transfer; what sets a style's technique apart when its colours follow the
    picture (cel shading). Kept as a bump on a log2 scale, so the Hellinger similarity falls smoothly with the ratio
    of two counts, over an even floor, so a picture with few colours of its own (a gray photo, a night sky) drawn in
    the style is not failed on this alone. The downscale blends edge colours, so a softened or JPEG copy counts about
    the same."""
    r, g, b = (c.astype(np.int32) >> 4 for c in cv2.split(x))
    used = np.count_nonzero(np.bincount(((r << 8) | (g << 4) | b).ravel(), minlength=4096))
    share = float(np.log2(used / max(1, x.shape[0] * x.shape[1])))
    bump = norm(np.exp(-0.5 * ((COUNT_BINS - share) / COUNT_SPREAD) ** 2))
    return bump * (1.0 - COUNT_FLOOR) + COUNT_FLOOR / bump.size


def technique_histograms(big: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """At 512 px: gradient strengths over the whole picture and inside fills, texture inside fills and along edges
    (fills and edges found at 128 px)."""
    gray = cv2.cvtColor(big, cv2.COLOR_RGB2GRAY)
    small = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)
    coarse = cv2.resize(small, (max(1, small.shape[1] // 2), max(1, small.shape[0] // 2)), interpolation=cv2.INTER_AREA)
    coarse_mag = cv2.resize(_magnitude(coarse.astype(np.float32)), gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
    # where: 0 in between, 1 fill, 2 edge — folded into the codes so each histogram is one pass
    where = (coarse_mag < FILL_MAX).view(np.uint8) + (coarse_mag > EDGE_MIN).view(np.uint8) * 2
    log_mag = cv2.log(_magnitude(gray.astype(np.float32)) + 1.0) * (1.0 / LOG_GRADIENT_MAX)
    level = np.minimum(log_mag * GRADIENT_BINS, GRADIENT_BINS - 1).astype(np.uint8)
    gradients = _counts(cv2.add(level, where * GRADIENT_BINS), 3 * GRADIENT_BINS).reshape(3, GRADIENT_BINS)
    texture = _counts(cv2.add(lbp_codes(gray), where * 10), 30).reshape(3, 10)
    return {
        'gradients': norm(_counts(np.minimum(log_mag * 12, 11).astype(np.uint8), 12)),
        'fill_gradients': norm(gradients[1]),
        'fill_texture': norm(texture[1]),
        'edge_texture': norm(texture[2]),
    }


def measure(image: ImageInput) -> dict[str, np.ndarray]:
    """Every histogram of one image; profiles and candidates are measured the same way."""
    big = resize_long_side(as_rgb(image), TECHNIQUE_SIDE)
    x = resize_long_side(big, STYLE_SIDE)
    return {**colour_histograms(x, big), **technique_histograms(big, x)}
