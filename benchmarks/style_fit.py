"""Fit the style score's component weights and thresholds on the calibration half of the labelled set; report both.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/style_fit.py [--set DIR] [--cache FILE]
Every image of the set's style pairs is measured once through services/qa/style_measures (cached in --cache, keyed
by the file and PROFILE_VERSION); each pair's per-component similarities are the product's own (a profile of the
reference, as `kroma qa compare` builds it). It prints the time per image, each component's ROC AUC on both halves,
the weights fitted on the calibration half only (non-negative, maximising a smooth pairwise AUC of the weighted
geometric mean; the held-out half is never used to fit), the combined AUC of the fitted and of the shipped WEIGHTS
on both halves, thresholds suggested from the calibration half (warn: the 3rd percentile of same-style scores;
pass: the cut that best separates same from different, Youden's J) and the rates at the shipped defaults. Then the
same for the light-free score of relit stages (each candidate relit to its reference's light first) with the
anchors that put it on the full score's scale. Candidates measured and left out (gradient orientation relative to
the dominant one, saturation, value) are printed too.
"""

from __future__ import annotations

import os

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS'):
    os.environ.setdefault(_var, '1')

import argparse  # noqa: E402
import pickle  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.qa_accuracy import DEFAULT_SET, ensure_set  # noqa: E402
from benchmarks.qa_accuracy import auc as _auc  # noqa: E402
from services.qa.lighting import lighting_of, relight  # noqa: E402
from services.qa.style import (  # noqa: E402
    HISTOGRAMS,
    LIGHT_FREE_WEIGHTS,
    PROFILE_VERSION,
    WEIGHTS,
    combine,
    light_free_score,
    pool,
    style_components,
)
from services.qa.style_measures import measure, norm  # noqa: E402
from services.qa.thresholds import QAThresholds, as_rgb, resize_long_side  # noqa: E402

L2 = 1e-2  # ridge on the standardised weights: spreads weight over components instead of the few best on 180 pairs
MIN_WEIGHT = 0.02  # fitted weights below this are dropped (the rest renormalised): they change no ranking
LEFT_OUT = ('saturation', 'value', 'orientation')
CANDIDATES = (*HISTOGRAMS, *LEFT_OUT)
# what a change of light leaves (the time, weather and character stages relight the candidate to the refs' light)
LIGHT_FREE_CANDIDATES = ('edge_texture', 'fill_texture', 'fill_gradients', 'palette', 'saturation', 'value')


def left_out(image: np.ndarray, bins: int = 9) -> dict[str, np.ndarray]:
    """Candidates measured and left out: saturation and value histograms at 256 px (the version-2 score's), and
    gradient orientation (weighted by magnitude) relative to the dominant one, folded to 0–90° so a mirrored picture
    scores the same. Measured: orientation follows the picture's shapes, not the technique."""
    hsv = cv2.cvtColor(resize_long_side(image, 256), cv2.COLOR_RGB2HSV)
    gray = cv2.cvtColor(resize_long_side(image, 512), cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    mag, ang = cv2.magnitude(gx, gy).ravel(), (np.degrees(np.arctan2(gy, gx)) % 180.0).ravel()
    fine = np.bincount(np.minimum(ang / 5, 35).astype(np.intp), weights=mag, minlength=36)
    dominant = float(np.argmax(fine + np.roll(fine, 1) + np.roll(fine, -1))) * 5 + 2.5
    rel = np.abs((ang - dominant + 90) % 180 - 90)
    return {
        'saturation': norm(cv2.calcHist([hsv], [1], None, [16], [0, 256])),
        'value': norm(cv2.calcHist([hsv], [2], None, [16], [0, 256])),
        'orientation': norm(
            np.bincount(np.minimum(rel / (90 / bins), bins - 1).astype(np.intp), weights=mag, minlength=bins)
        ),
    }


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    return _auc(list(pos), list(neg))


def hellinger_similarity(p: np.ndarray, q: np.ndarray) -> float:
    return 1.0 - float(np.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(p * q))))))


def measure_all(folder: Path, pairs: list[dict], cache: Path) -> tuple[dict, dict, list[float]]:
    """Features of every image and of every candidate relit to its reference's light (cached by name and profile
    version), and the time per image for those measured now."""
    store: dict = {}
    if cache.is_file():
        store = pickle.loads(cache.read_bytes())
        if store.get('version') != PROFILE_VERSION:
            store = {}
    feats, relit, times = store.setdefault('features', {}), store.setdefault('relit', {}), []
    cv2.setNumThreads(1)
    for name in sorted({p[k] for p in pairs for k in ('ref', 'cand')}):
        if name in feats:
            continue
        rgb = as_rgb(folder / name)
        started = time.perf_counter()
        f = measure(rgb)
        times.append((time.perf_counter() - started) * 1000)
        feats[name] = {**f, **left_out(rgb)}
    for p in pairs:
        if p['id'] not in relit:
            cand = relight(as_rgb(folder / p['cand']), lighting_of([as_rgb(folder / p['ref'])]))
            relit[p['id']] = {**measure(cand), **left_out(cand)}
    store['version'] = PROFILE_VERSION
    cache.write_bytes(pickle.dumps(store))
    return feats, relit, times


def components(cand: dict, ref: dict) -> dict[str, float]:
    """The product's component similarities (a one-reference profile, as `kroma qa compare` builds it) plus the
    left-out candidates'."""
    comp = style_components(cand, pool([ref]))
    return {**comp, **{k: hellinger_similarity(cand[k], ref[k]) for k in LEFT_OUT}}


def fit_weights(logs: np.ndarray, same: np.ndarray, l2: float = L2, steps: int = 3000) -> np.ndarray:
    """Non-negative weights maximising a smooth AUC (pairwise logistic loss, same vs different) of sum(w · log s),
    by projected gradient descent on standardised columns; returned summing to 1, the smallest dropped."""
    pos, neg = logs[same], logs[~same]
    diff = (pos[:, None, :] - neg[None, :, :]).reshape(-1, logs.shape[1])
    scale = diff.std(axis=0) + 1e-9
    d = diff / scale
    w = np.full(logs.shape[1], 0.1)
    lr = 1.0 / (0.25 * float(np.mean(np.sum(d * d, axis=1))) + 2 * l2)  # 1 / Lipschitz bound of the loss
    for _ in range(steps):
        z = d @ w
        grad = -(d.T @ (1.0 / (1.0 + np.exp(np.clip(z, -50, 50))))) / len(z) + 2 * l2 * w
        w = np.maximum(w - lr * grad, 0.0)
    w = w / scale
    w = w / w.sum()
    w[w < MIN_WEIGHT] = 0.0
    return w / w.sum()


def youden_cut(scores: np.ndarray, same: np.ndarray) -> float:
    best, cut = -2.0, 0.0
    for c in np.unique(scores):
        j = float((scores[same] >= c).mean() - (scores[~same] >= c).mean())
        if j > best:
            best, cut = j, float(c)
    return cut


def rates(scores: np.ndarray, same: np.ndarray, t: QAThresholds) -> str:
    pos, neg = scores[same], scores[~same]
    return (
        f'same-style rejected (fail) {np.mean(pos < t.style_warn):.1%}, warned '
        f'{np.mean((pos >= t.style_warn) & (pos < t.style_pass)):.1%}, different styles passed '
        f'{np.mean(neg >= t.style_pass):.1%}, unverified 0.0%'
    )


def fit_and_report(
    label: str, comps: list[dict], keys: tuple[str, ...], shipped: dict, same: np.ndarray, cal: np.ndarray
) -> np.ndarray:
    """Fit one mode's weights on the calibration half, print the fitted and shipped AUC on both halves; the shipped
    raw scores."""
    logs = np.log(np.clip([[c[k] for k in keys] for c in comps], 1e-3, 1.0))
    fitted = dict(zip(keys, fit_weights(logs[cal], same[cal]), strict=True))
    print(f'{label} weights fitted on the calibration half:', {k: round(float(w), 3) for k, w in fitted.items()})
    for name, weights in (('fitted', fitted), ('shipped', shipped)):
        raw = np.array([combine(c, weights) for c in comps])
        halves = ', '.join(
            f'{h} {auc(raw[m & same], raw[m & ~same]):.3f}' for h, m in (('calibrate', cal), ('held-out', ~cal))
        )
        print(f'  {name}: AUC {halves}')
    return np.array([combine(c, shipped) for c in comps])


def print_rates(scores: np.ndarray, same: np.ndarray, cal: np.ndarray) -> None:
    t = QAThresholds()
    print(f'  at the defaults pass {t.style_pass:.2f} / warn {t.style_warn:.2f}:')
    for h, m in (('calibrate', cal), ('held-out', ~cal)):
        print(f'    {h:9s} {rates(scores[m], same[m], t)}')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--set', type=Path, default=DEFAULT_SET)
    ap.add_argument('--cache', type=Path, default=Path('/tmp/kroma-style-fit.pkl'))
    a = ap.parse_args()
    pairs = [p for p in ensure_set(a.set) if p['metric'] == 'style']
    feats, relit, times = measure_all(a.set, pairs, a.cache)
    if times:
        print(f'style features: median {statistics.median(times):.1f} ms per image ({len(times)} images, one core)')
    comps = [components(feats[p['cand']], feats[p['ref']]) for p in pairs]
    same = np.array([p['same'] for p in pairs])
    cal = np.array([p['split'] == 'calibrate' for p in pairs])
    print(f'{len(pairs)} style pairs: calibrate {cal.sum()}, held-out {(~cal).sum()}')
    print(f'  {"component":14s} {"AUC cal":>8s} {"held-out":>9s}')
    for n in CANDIDATES:
        tag = '' if n in WEIGHTS else '   (light-free only)' if n in LIGHT_FREE_WEIGHTS else '   (left out)'
        s = np.array([c[n] for c in comps])
        print(f'  {n:14s} {auc(s[cal & same], s[cal & ~same]):8.3f} {auc(s[~cal & same], s[~cal & ~same]):9.3f}{tag}')

    full = fit_and_report('full', comps, CANDIDATES, WEIGHTS, same, cal)
    warn, cut = np.percentile(full[cal & same], 3), youden_cut(full[cal], same[cal])
    print(
        f'  calibration half: style_warn {warn:.3f} (3rd percentile of same-style scores), style_pass {cut:.3f} (Youden)'
    )
    print_rates(full, same, cal)

    # the candidate relit to its reference's light first, as on the time, weather and character stages
    relit_comps = [components(relit[p['id']], feats[p['ref']]) for p in pairs]
    light_free = fit_and_report('light-free', relit_comps, LIGHT_FREE_CANDIDATES, LIGHT_FREE_WEIGHTS, same, cal)
    anchors = [
        (round(float(np.percentile(light_free[cal & same], q)), 3), round(float(np.percentile(full[cal & same], q)), 3))
        for q in (3, 50)
    ]
    print(f"  LIGHT_FREE_SCALE anchors (same-style 3rd percentile and median matched to the full score's): {anchors}")
    print_rates(np.array([light_free_score(c) for c in relit_comps]), same, cal)


if __name__ == '__main__':
    main()
