"""`kroma review`: candidates with rank and QA, decisions by id, approve-best per scene, retry with a note."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from app.wiring import build_deps
from services.projects import projects
from services.references import scenes as scenes_svc

LINE = re.compile(r'^  #(\d)\s+([0-9a-f]{32})\s+(pass|warn|fail)\s+(\d\.\d{3})\s+(\w+)\s+asset ([0-9a-f]{32})')


def kroma(*args: str, code: int = 0) -> str:
    done = CliRunner().invoke(cli, list(args))
    assert done.exit_code == code, (args, done.output, done.stderr)
    return done.stdout if code == 0 else done.stderr


def test_review_lists_decides_and_approves_the_best(home: Path) -> None:
    kroma('demo')
    kroma('run', 'demo', '--stage', 'style', '--candidates', '2', '--mode', 'run', '--wait')
    listing = kroma('review', 'demo').splitlines()
    assert listing[0].startswith('run ') and ' style ' in listing[0]
    rows = [m.groups() for line in listing if (m := LINE.match(line))]
    assert len(rows) == 6 and [r[0] for r in rows] == ['1', '2'] * 3, listing
    rejected = rows[1][1]
    assert kroma('review', 'reject', rejected[:8], '--note', 'too dark').strip() == f'rejected {rejected}'
    out = kroma('review', 'approve-best', 'demo', '--stage', 'style')
    passing = [r for r in rows if r[0] == '1' and r[2] != 'fail']
    assert out.count('approved ') == len(passing) and out.strip().endswith('without a passing candidate')
    assert all(f'candidate {r[1]} (#1' in out for r in passing)
    again = kroma('review', 'approve-best', 'demo')
    assert f'style: 0 approved, {len(passing)} kept' in again
    get_settings.cache_clear()
    with build_deps(get_settings()).sessions() as s:
        scene = scenes_svc.list_scenes(s, projects.get_project(s, 'demo').id)[0]
    kroma('review', 'retry', 'demo', scene.name.upper(), '--stage', 'style', '--note', 'more rain')
    listing = kroma('review', 'demo', '--stage', 'style')
    assert f'{scene.name}  scene {scene.id}  (retry asked: more rain)' in listing
    assert [m.group(5) for line in listing.splitlines() if (m := LINE.match(line))][:2] == ['approved', 'rejected']


def test_review_errors_are_one_line(home: Path) -> None:
    kroma('demo')
    assert kroma('review', 'demo', code=1) == 'error: This project has no runs to review yet.\n'
    assert kroma('review', 'approve', 'zz-top', code=1).startswith('error: A candidate id is 6 to 32 hex characters')
    assert kroma('review', 'approve-best', 'demo', '--stage', 'dawn', code=1).startswith('error: Stage must be one of')
    assert kroma('review', 'retry', 'demo', 'Nowhere', '--note', 'x', code=1) == (
        'error: No scene named "Nowhere" in demo.\n'
    )
