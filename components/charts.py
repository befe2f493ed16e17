"""Dashboard charts (echarts): QA pass rate per run, style similarity over time, identity distance per character."""

from __future__ import annotations

from typing import Any

from nicegui import ui

AXIS_LABELS = {'rotate': 35, 'hideOverlap': True, 'fontSize': 10}  # long run names never print over each other
GRID = {'left': 40, 'right': 16, 'top': 40, 'bottom': 8, 'containLabel': True}


def pass_rate_chart(rows: list[dict[str, Any]]) -> None:
    """One bar per run (every run, newest last); the tooltip says how many candidates passed of how many measured."""
    data = [
        {
            'value': r['pass_rate'],
            'name': f'{r["passed"]} of {r["measured"]} passed' if r['measured'] else 'not measured',
        }
        for r in rows
    ]
    ui.echart(
        {
            'title': {'text': f'QA pass rate per run ({len(rows)} runs)', 'textStyle': {'fontSize': 13}},
            'tooltip': {'formatter': '{b}<br/>{c}'},
            'grid': GRID,
            'xAxis': {'type': 'category', 'data': [r['run'] for r in rows], 'axisLabel': AXIS_LABELS},
            'yAxis': {'type': 'value', 'min': 0, 'max': 1},
            'series': [{'type': 'bar', 'data': data, 'itemStyle': {'color': '#3d5a80'}}],
        }
    ).classes('w-full h-72').mark('chart-pass-rate')


def style_chart(points: list[tuple[str, float]]) -> None:
    ui.echart(
        {
            'title': {'text': 'Style similarity over time', 'textStyle': {'fontSize': 13}},
            'tooltip': {'trigger': 'axis'},
            'grid': GRID,
            'xAxis': {'type': 'time', 'axisLabel': {'hideOverlap': True, 'fontSize': 10}},
            'yAxis': {'type': 'value', 'min': 0, 'max': 1},
            'series': [
                {
                    'type': 'line',
                    'showSymbol': True,
                    'data': [list(p) for p in points],
                    'itemStyle': {'color': '#ee6c4d'},
                }
            ],
        }
    ).classes('w-full h-72').mark('chart-style')


def identity_chart(by_character: dict[str, list[tuple[str, float]]], limit: float = 0.6) -> None:
    scenes = sorted({scene for pts in by_character.values() for scene, _ in pts})
    series = []
    for name, pts in by_character.items():
        best = {}
        for scene, dist in pts:
            best[scene] = min(dist, best.get(scene, 9.0))
        series.append({'name': name, 'type': 'line', 'data': [best.get(s) for s in scenes]})
    if series:
        series[0]['markLine'] = {'data': [{'yAxis': limit, 'name': 'limit'}], 'lineStyle': {'color': '#c10015'}}
    ui.echart(
        {
            'title': {'text': 'Identity distance per character (lower is closer)', 'textStyle': {'fontSize': 13}},
            'tooltip': {'trigger': 'axis'},
            'legend': {'bottom': 0},
            'grid': {**GRID, 'bottom': 28},
            'xAxis': {'type': 'category', 'data': scenes, 'axisLabel': AXIS_LABELS},
            'yAxis': {'type': 'value', 'min': 0},
            'series': series,
        }
    ).classes('w-full h-72').mark('chart-identity')
