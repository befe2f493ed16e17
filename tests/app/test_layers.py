"""Imports run one way: app → pages → components → services → models; services and models never touch the UI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ['app', 'pages', 'components', 'services', 'models']
UI = {'nicegui', 'fastapi', 'starlette'}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split('.')[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split('.')[0])
    return roots


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for i, layer in enumerate(LAYERS):
        higher = set(LAYERS[:i])
        for path in sorted((root / layer).rglob('*.py')):
            if 'migrations' in path.parts:
                continue
            roots = imported_roots(path)
            bad = roots & higher
            if layer in ('services', 'models'):
                bad |= roots & UI
            if bad:
                found.append(f'{path.relative_to(root)} imports {", ".join(sorted(bad))}')
    return found


def test_no_layer_imports_a_higher_one() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ('layer', 'line'),
    [('services', 'from nicegui import ui'), ('models', 'import fastapi'), ('components', 'from pages import x')],
)
def test_the_check_catches_a_violation(tmp_path, layer: str, line: str) -> None:
    for name in LAYERS:
        (tmp_path / name).mkdir()
    (tmp_path / layer / 'bad.py').write_text(line + '\n')
    assert violations(tmp_path) == [f'{layer}/bad.py imports {line.split()[1].split(".")[0]}']
