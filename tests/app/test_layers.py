"""Imports run one way, app → pages → components → services → models, with no cycle anywhere; no UI below pages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ['app', 'pages', 'components', 'services', 'models']
UI = {'nicegui', 'fastapi', 'starlette'}


def modules(root: Path) -> dict[str, Path]:
    """Every module of the five layers by dotted name (a package by its own name), migrations aside."""
    found = {}
    for layer in LAYERS:
        for path in sorted((root / layer).rglob('*.py')):
            if 'migrations' in path.parts:
                continue
            parts = path.relative_to(root).with_suffix('').parts
            found['.'.join(parts[:-1] if parts[-1] == '__init__' else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules one module imports (at any depth of the file, lazy imports included)."""
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                up = package.split('.')[: len(package.split('.')) - node.level + 1]
                base = '.'.join([*up, base] if base else up)
            targets |= {f'{base}.{a.name}' if f'{base}.{a.name}' in known else base for a in node.names}
    resolved = set()
    for t in targets:
        while t and t not in known:
            t = t.rpartition('.')[0]
        if t and t != name:
            resolved.add(t)
    return resolved


def graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports(name, path, known) for name, path in known.items()}


def roots_of(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
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
            roots = roots_of(path)
            bad = roots & higher
            if layer in ('services', 'models'):
                bad |= roots & UI
            if bad:
                found.append(f'{path.relative_to(root)} imports {", ".join(sorted(bad))}')
    return found


def cycles(root: Path = ROOT) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted: every one is an import circle."""
    g = graph(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(found)


def test_no_layer_imports_a_higher_one() -> None:
    assert violations() == []


def test_no_import_cycles() -> None:
    assert cycles() == []


@pytest.mark.parametrize(
    ('layer', 'line'),
    [('services', 'from nicegui import ui'), ('models', 'import fastapi'), ('components', 'from pages import x')],
)
def test_the_check_catches_a_violation(tmp_path, layer: str, line: str) -> None:
    for name in LAYERS:
        (tmp_path / name).mkdir()
    (tmp_path / layer / 'bad.py').write_text(line + '\n')
    assert violations(tmp_path) == [f'{layer}/bad.py imports {line.split()[1].split(".")[0]}']


def test_the_check_catches_a_cycle_even_through_a_lazy_relative_import(tmp_path) -> None:
    for name in LAYERS:
        (tmp_path / name).mkdir()
    pkg = tmp_path / 'services' / 'runs'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'queue.py').write_text('from services.runs.plan import plan\n')
    (pkg / 'plan.py').write_text('def plan():\n    from . import executor\n')
    (pkg / 'executor.py').write_text('from services.runs import queue\n')
    (tmp_path / 'services' / 'alone.py').write_text('from services.runs import plan\n')
    assert cycles(tmp_path) == [['services.runs.executor', 'services.runs.plan', 'services.runs.queue']]
