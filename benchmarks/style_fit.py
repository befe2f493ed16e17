"""Fit the style score's component weights and thresholds on the calibration halves of the labelled set's two
variants (the standard set and the mild one's character panels); report both halves of each.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/style_fit.py [--set DIR] [--mild DIR] [--cache FILE]
Every image of the sets' style pairs is measured once through services/qa/style_measures (cached in --cache, keyed
by the file and PROFILE_VERSION); each pair's per-component similarities are the product's own (a profile of the
reference, as `kroma qa compare` builds it). It prints the time per image, each component's ROC AUC on both halves,
the weights fitted on the calibration half only (non-negative, maximising a smooth pairwise AUC of the weighted
geometric mean; the held-out half is never used to fit), the combined AUC of the fitted and of the shipped WEIGHTS
on both halves, thresholds suggested from the calibration half (warn: the 3rd percentile of same-style scores;
pass: the cut that best separates same from different, Youden's J) and the rates at the shipped defaults. Then the
light-free score of relit stages (each candidate lit as the offline renderer's time and weather stages light it,
then relit to its reference's light; the version-2 measure on today's scale, not fitted here), and technique alone
there, measured and left out. Candidates measured and left out are printed too (gradient orientation relative to
the dominant one; 6-bit exact colours; the a*b* mean and spread), and where the shipped score
still confuses styles: each pair of styles most often ranked above same-style pairs, with every component's AUC
within it, and a bootstrap interval of the held-out AUC so a change can be told from noise.
"""

from __future__ import annotations

import os

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS'):
    os.environ.setdefault(_var, '1')

import argparse  # noqa: E402
import json  # noqa: E402
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
from services.providers.local_effects import add_weather, grade_time  # noqa: E402
from services.qa.lighting import lighting_of, relight  # noqa: E402
from services.qa.style import (  # noqa: E402
    HISTOGRAMS,
    LIGHT_FREE_WEIGHTS,
    PROFILE_VERSION,
    WEIGHTS,
    combine,
    light_free_score,
    profile_of,
    style_components,
)
from services.qa.style_measures import measure, norm  # noqa: E402
from services.qa.thresholds import QAThresholds, as_rgb, resize_long_side  # noqa: E402

L2 = 1e-2  # ridge on the standardised weights: spreads weight over components instead of the few best on 180 pairs
MIN_WEIGHT = 0.02  # fitted weights below this are dropped (the rest renormalised): they change no ranking
LEFT_OUT = ('orientation', 'colours_6bit', 'ab_moments')
TECHNIQUE = {'edge_texture': 1.0, 'colour_count': 1.0}  # relit stages judged on technique alone: measured, left out
LOOKS = ('none', 'day', 'dusk', 'night', 'rain', 'fog', 'snow')  # as the offline renderer lights the relit stages
BOOTSTRAP = 1000  # resamples of the held-out half's same and different pairs for the AUC's 90 % interval
CANDIDATES = (*HISTOGRAMS, *LEFT_OUT)
VARIANTS = {'standard': 'standard set', 'mild': 'character panels'}


def left_out(image: np.ndarray, bins: int = 9) -> dict[str, np.ndarray]:
    """Candidates measured and left out. Gradient orientation (weighted by magnitude) relative to the dominant one,
    folded to 0–90° so a mirrored picture scores the same: it follows the picture's shapes, not the technique. Exact
    colours at 6 bits a channel: held-out AUC +0.004 over 5 bits, inside the noise (paired bootstrap −0.003…+0.011).
    The a*b* mean and spread (Reinhard's colour-transfer statistics, a palette measure that ignores where colours
    sit): 0.91 within comic-pop vs comic-mint, but the positives of content-derived palettes spread as wide, so it
    gets no weight."""
    big = resize_long_side(image, 512)
    r, g, b = (c.astype(np.int32) >> 2 for c in cv2.split(big))
    lab = cv2.cvtColor(resize_long_side(image, 256), cv2.COLOR_RGB2LAB).reshape(-1, 3)[:, 1:].astype(np.float64)
    gray = cv2.cvtColor(big, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    mag, ang = cv2.magnitude(gx, gy).ravel(), (np.degrees(np.arctan2(gy, gx)) % 180.0).ravel()
    fine = np.bincount(np.minimum(ang / 5, 35).astype(np.intp), weights=mag, minlength=36)
    dominant = float(np.argmax(fine + np.roll(fine, 1) + np.roll(fine, -1))) * 5 + 2.5
    rel = np.abs((ang - dominant + 90) % 180 - 90)
    return {
        'orientation': norm(
            np.bincount(np.minimum(rel / (90 / bins), bins - 1).astype(np.intp), weights=mag, minlength=bins)
        ),
        'colours_6bit': np.stack(np.unique(((r << 12) | (g << 6) | b).ravel(), return_counts=True)).astype(float),
        'ab_moments': np.concatenate([lab.mean(axis=0), lab.std(axis=0)]),
    }


def left_out_similarity(name: str, p: np.ndarray, q: np.ndarray) -> float:
    """Hellinger similarity of histograms; the a*b* moments' distance (ΔE-like units) mapped to 0–1."""
    if name == 'ab_moments':
        return float(np.exp(-np.linalg.norm(p - q) / 20.0))
    if name == 'colours_6bit':  # kept sparse (colour indices, counts): 262 144 bins, mostly empty
        _, i, j = np.intersect1d(p[0], q[0], assume_unique=True, return_indices=True)
        bc = float(np.sum(np.sqrt(p[1, i] / p[1].sum() * q[1, j] / q[1].sum())))
        return 1.0 - float(np.sqrt(max(0.0, 1.0 - bc)))
    return hellinger_similarity(p, q)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    return _auc(list(pos), list(neg))


def hellinger_similarity(p: np.ndarray, q: np.ndarray) -> float:
    return 1.0 - float(np.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(p * q))))))


def measure_all(folder: Path, pairs: list[dict], cache: Path) -> tuple[dict, dict, dict, list[float]]:
    """Features of every image, of every candidate lit as a relit stage lights it (one look each, in turn) and then
    relit to its reference's light, and of every candidate after a mild colour grade (as is, and relit); cached by
    name and profile version; the time per image for those measured now."""
    store: dict = {}
    drawn_by = json.loads((folder / 'labels.json').read_text()).get('builder')  # a set drawn again is measured again
    if cache.is_file():
        store = pickle.loads(cache.read_bytes())
        key = (store.get('version'), store.get('left_out'), store.get('looks'), store.get('builder'))
        if key != (PROFILE_VERSION, LEFT_OUT, LOOKS, drawn_by):
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
    graded = store.setdefault('graded', {})
    for i, p in enumerate(pairs):
        if p['id'] not in relit:
            ref, cand = as_rgb(folder / p['ref']), as_rgb(folder / p['cand'])
            lit = relight(look(cand, LOOKS[i % len(LOOKS)], np.random.default_rng([7, i])), lighting_of([ref]))
            relit[p['id']] = {**measure(lit), **left_out(lit)}
            tinted = mild_grade(cand, np.random.default_rng([5, i]))
            graded[p['id']] = (measure(tinted), measure(relight(tinted, lighting_of([ref]))))
    store['version'], store['left_out'], store['looks'], store['builder'] = PROFILE_VERSION, LEFT_OUT, LOOKS, drawn_by
    cache.write_bytes(pickle.dumps(store))
    return feats, relit, graded, times


def load_sets(sets: tuple[tuple[Path, str], ...], cache: Path) -> tuple[list[dict], dict, dict, dict, list[float]]:
    """Both variants' style pairs, measured through measure_all (one cache file each); names and ids prefixed by the
    variant so they stay apart."""
    pairs: list[dict] = []
    feats: dict = {}
    relit: dict = {}
    graded: dict = {}
    times: list[float] = []
    for folder, variant in sets:
        mine = [p for p in ensure_set(folder, variant) if p['metric'] == 'style']
        f, r, g, t = measure_all(folder, mine, cache.with_name(f'{cache.stem}-{variant}{cache.suffix}'))
        pre = f'{variant}:'
        pairs += [{**p, 'variant': variant, **{k: pre + p[k] for k in ('id', 'ref', 'cand')}} for p in mine]
        feats.update({pre + k: v for k, v in f.items()})
        relit.update({pre + k: v for k, v in r.items()})
        graded.update({pre + k: v for k, v in g.items()})
        times += t
    return pairs, feats, relit, graded, times


def look(img: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    """The candidate as the time or weather stage of the offline renderer lights it (services/providers)."""
    if name == 'none':
        return img
    return grade_time(img, name, rng) if name in ('day', 'dusk', 'night') else add_weather(img, name, rng)


def mild_grade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A colour grade an artist might choose: contrast and saturation ±10 %, gamma ±5 %, red and blue gains ±4 %."""
    x = img.astype(np.float32) / 255.0
    x = (x - x.mean()) * rng.uniform(0.9, 1.12) + x.mean()
    gray = x.mean(axis=2, keepdims=True)
    x = np.clip(gray + (x - gray) * rng.uniform(0.9, 1.1), 0.0, 1.0) ** rng.uniform(0.95, 1.05)
    x = x * np.array([rng.uniform(0.96, 1.04), 1.0, rng.uniform(0.96, 1.04)], np.float32)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def components(cand: dict, ref: dict) -> dict[str, float]:
    """The product's component similarities (a one-reference profile, as `kroma qa compare` builds it) plus the
    left-out candidates'."""
    comp = style_components(cand, profile_of([ref]))
    return {**comp, **{k: left_out_similarity(k, cand[k], ref[k]) for k in LEFT_OUT}}


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
    label: str,
    comps: list[dict],
    keys: tuple[str, ...],
    shipped: dict,
    same: np.ndarray,
    cal: np.ndarray,
    variants: np.ndarray,
) -> np.ndarray:
    """Fit one mode's weights on the calibration half, print the fitted and shipped AUC on both halves; the shipped
    raw scores."""
    logs = np.log(np.clip([[c[k] for k in keys] for c in comps], 1e-3, 1.0))
    fitted = dict(zip(keys, fit_weights(logs[cal], same[cal]), strict=True))
    print(f'{label} weights fitted on the calibration half:', {k: round(float(w), 3) for k, w in fitted.items()})
    for name, weights in (('fitted', fitted), ('shipped', shipped)):
        print_halves(f'  {name}', np.array([combine(c, weights) for c in comps]), same, cal, variants)
    return np.array([combine(c, shipped) for c in comps])


def print_halves(label: str, scores: np.ndarray, same: np.ndarray, cal: np.ndarray, variants: np.ndarray) -> None:
    """The AUC of each variant's calibration and held-out halves."""
    for variant, name in VARIANTS.items():
        mine = variants == variant
        halves = ', '.join(
            f'{h} {auc(scores[m & mine & same], scores[m & mine & ~same]):.3f}'
            for h, m in (('calibrate', cal), ('held-out', ~cal))
        )
        print(f'{label}, {name}: AUC {halves}')


def bootstrap_interval(scores: np.ndarray, same: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """90 % interval of the AUC over resampled same and different pairs (how far a change must move it to count)."""
    rng = np.random.default_rng(seed)
    pos, neg = scores[same], scores[~same]
    aucs = [auc(rng.choice(pos, pos.size), rng.choice(neg, neg.size)) for _ in range(BOOTSTRAP)]
    return float(np.percentile(aucs, 5)), float(np.percentile(aucs, 95))


def print_confusions(pairs: list[dict], comps: list[dict], scores: np.ndarray, same: np.ndarray, top: int = 4) -> None:
    """The pairs of styles the shipped score confuses most (both halves; reported, not fitted): how often each of
    their different-style pairs outscores a same-style pair, and each component's AUC within the pair of styles
    (same-style pairs of either style against their different-style pairs; below 0.5 the component misleads there)."""
    styles = [(p['meta']['ref_style'], p['meta']['cand_style']) for p in pairs]
    loss: dict[tuple[str, str], float] = {}
    for i in np.flatnonzero(~same):
        key = tuple(sorted(styles[i]))
        loss[key] = loss.get(key, 0.0) + float(np.mean(scores[same] <= scores[i]))
    print('most confused pairs of styles (share of same-style pairs outscored, summed over their pairs; AUC within):')
    names = [k for k in comps[0] if k in WEIGHTS]
    print(f'  {"styles":26s} {"lost":>5s} {"n":>3s} {"score":>6s} ' + ' '.join(f'{k[:12]:>12s}' for k in names))
    for key, lost in sorted(loss.items(), key=lambda kv: -kv[1])[:top]:
        pos = same & np.array([s[0] in key for s in styles])
        neg = ~same & np.array([tuple(sorted(s)) == key for s in styles])
        within = [auc(np.array([c[k] for c in comps])[pos], np.array([c[k] for c in comps])[neg]) for k in names]
        print(
            f'  {" vs ".join(key):26s} {lost:5.1f} {neg.sum():3d} {auc(scores[pos], scores[neg]):6.2f} '
            + ' '.join(f'{a:12.2f}' for a in within)
        )


def print_rates(scores: np.ndarray, same: np.ndarray, cal: np.ndarray, variants: np.ndarray) -> None:
    t = QAThresholds()
    print(f'  at the defaults pass {t.style_pass:.2f} / warn {t.style_warn:.2f}:')
    for variant, label in VARIANTS.items():
        for h, m in (('calibrate', cal), ('held-out', ~cal)):
            m = m & (variants == variant)
            print(f'    {label}, {h:9s} {rates(scores[m], same[m], t)}')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--set', type=Path, default=DEFAULT_SET)
    ap.add_argument('--mild', type=Path, default=DEFAULT_SET.with_name(f'{DEFAULT_SET.name}-mild'))
    ap.add_argument('--cache', type=Path, default=Path('/tmp/kroma-style-fit.pkl'))
    a = ap.parse_args()
    pairs, feats, relit, graded, times = load_sets(((a.set, 'standard'), (a.mild, 'mild')), a.cache)
    if times:
        print(f'style features: median {statistics.median(times):.1f} ms per image ({len(times)} images, one core)')
    comps = [components(feats[p['cand']], feats[p['ref']]) for p in pairs]
    same = np.array([p['same'] for p in pairs])
    cal = np.array([p['split'] == 'calibrate' for p in pairs])
    print(f'{len(pairs)} style pairs: calibrate {cal.sum()}, held-out {(~cal).sum()}')
    variants = np.array([p['variant'] for p in pairs])
    print(f'  {"component AUC":14s} ' + ' '.join(f'{v + ": cal / held-out":>29s}' for v in VARIANTS.values()))
    for n in CANDIDATES:
        tag = '' if n in WEIGHTS else '   (light-free only)' if n in LIGHT_FREE_WEIGHTS else '   (left out)'
        s = np.array([c[n] for c in comps])
        cells = []
        for mine in (variants == v for v in VARIANTS):
            a, b = auc(s[cal & mine & same], s[cal & mine & ~same]), auc(s[~cal & mine & same], s[~cal & mine & ~same])
            cells.append(f'{a:.3f} / {b:.3f}')
        print(f'  {n:14s} ' + ' '.join(f'{c:>29s}' for c in cells) + tag)

    full = fit_and_report('full', comps, CANDIDATES, WEIGHTS, same, cal, variants)
    warn, cut = np.percentile(full[cal & same], 3), youden_cut(full[cal], same[cal])
    print(
        f'  calibration half: style_warn {warn:.3f} (3rd percentile of same-style scores), style_pass {cut:.3f} (Youden)'
    )
    for variant, label in VARIANTS.items():
        mine = ~cal & (variants == variant)
        lo, hi = bootstrap_interval(full[mine], same[mine])
        print(f'  shipped held-out AUC, {label}: 90 % bootstrap interval {lo:.3f}–{hi:.3f}')
    print_rates(full, same, cal, variants)
    for variant in VARIANTS:
        mine = np.flatnonzero(variants == variant)
        print_confusions([pairs[i] for i in mine], [comps[i] for i in mine], full[mine], same[mine])

    # relit stages (time, weather, character): the candidate lit as the stage lights it, then relit to its
    # reference's light, judged by the light-tolerant version-2 measure on today's scale; reported, not fitted
    relit_comps = [components(relit[p['id']], feats[p['ref']]) for p in pairs]
    scores = np.array([light_free_score(c) for c in relit_comps])
    print_halves('relit stages (lit as the offline renderer lights them, then relit)', scores, same, cal, variants)
    print_rates(scores, same, cal, variants)
    print('  each component on same-style pairs of the calibration halves, median (TYPICAL; TYPICAL_RELIT relit):')
    for label, measured, names in (('as drawn', comps, WEIGHTS), ('relit', relit_comps, LIGHT_FREE_WEIGHTS)):
        picked = [c for c, y, m in zip(measured, same, cal, strict=True) if y and m]
        print(f'    {label}:', {k: round(float(np.median([c[k] for c in picked])), 2) for k in names})
    raw = np.array([combine(c, TECHNIQUE) for c in relit_comps])
    warn, cut = np.percentile(raw[cal & same], 3), np.percentile(raw[cal & same], 27)
    print(
        f'  left out: technique alone ({" and ".join(TECHNIQUE)}),'
        f' cuts {warn:.2f} / {cut:.2f} from the calibration halves:'
    )
    for variant, name in VARIANTS.items():
        m = ~cal & (variants == variant)
        print(
            f'    {name}, held-out: AUC {auc(raw[m & same], raw[m & ~same]):.3f}, same-style failed'
            f' {np.mean(raw[m & same] < warn):.1%}, different styles passed {np.mean(raw[m & ~same] >= cut):.1%}'
        )
    # a colour grade the artist chose (post-processing): the full score, and the colour set aside as after relighting
    warn = QAThresholds().style_warn
    full_graded = np.array(
        [combine(style_components(graded[p['id']][0], profile_of([feats[p['ref']]]))) for p in pairs]
    )
    set_aside = np.array(
        [light_free_score(style_components(graded[p['id']][1], profile_of([feats[p['ref']]]))) for p in pairs]
    )
    print(
        f'same-style candidates after a mild colour grade, rejected (fail): full score {np.mean(full_graded[same] < warn):.1%}, '
        f'colour set aside {np.mean(set_aside[same] < warn):.1%} (ungraded {np.mean(full[same] < warn):.1%})'
    )


if __name__ == '__main__':
    main()
