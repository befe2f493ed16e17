"""`kroma bootstrap` and `kroma upload` against a temporary KROMA_HOME: diff output, field paths, per-file lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app import cli_references
from app.cli_common import deps_for_cli
from app.settings import get_settings
from models.project import ProjectCreate
from models.references import CharacterCreate
from services.deps import Deps
from services.projects import projects
from services.references import characters
from tests.services.projects.test_assets import huge_png_header, png_bytes

ANSWER = {
    'characters': [{'name': 'Grace', 'bible': 'Retired captain.', 'palette': ['#1c2233']}],
    'scenes': [{'name': 'Quay', 'continuity': {'time': 'night'}}],
}


@pytest.fixture
def kroma(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deps]:
    """A fresh KROMA_HOME with one project; logging set up by the CLI is undone afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.setenv('KROMA_HOME', str(tmp_path / 'home'))
    get_settings.cache_clear()
    deps = deps_for_cli()
    with deps.sessions() as s:
        projects.create_project(s, ProjectCreate(slug='moon', name='Moon'), data_dir=deps.data_dir)
    yield deps
    get_settings.cache_clear()
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:], root.level = handlers, level
    deps.engine.dispose()


def invoke(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    cli_references.register(app)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_bootstrap_prompt_then_dry_run_apply_and_again_unchanged(kroma: Deps, tmp_path: Path) -> None:
    code, out, _ = invoke('bootstrap', 'prompt', 'moon')
    assert code == 0 and 'Current project settings' in out and '"name": "Moon"' in out
    answer = tmp_path / 'answer.md'
    answer.write_text('Here is your project:\n\n```json\n' + json.dumps(ANSWER, indent=2) + '\n```\nGood luck!')

    code, out, _ = invoke('bootstrap', 'import', 'moon', str(answer), '--dry-run')
    assert code == 0, out
    assert 'Dry run: nothing written.' in out and '  + Grace' in out and '  + Quay' in out
    with kroma.sessions() as s:
        assert characters.list_characters(s, projects.get_project(s, 'moon').id) == []

    code, out, _ = invoke('bootstrap', 'import', 'moon', str(answer))
    assert code == 0 and 'characters (merge): 1 created' in out
    code, out, _ = invoke('bootstrap', 'import', 'moon', str(answer), '--mode', 'replace')
    assert code == 0
    assert 'characters (replace): 0 created, 0 updated, 0 deleted, 1 unchanged' in out
    assert 'scenes (replace): 0 created, 0 updated, 0 deleted, 1 unchanged' in out


def test_bootstrap_import_names_the_field_path_and_exits_non_zero(kroma: Deps, tmp_path: Path) -> None:
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'characters': [{'name': 'A'}, {'name': 'B'}, {'name': 'C', 'palette': ['navy']}]}))
    code, _, err = invoke('bootstrap', 'import', 'moon', str(bad))
    assert code == 1
    assert err.startswith('error: characters[2].palette[0]: not a hex colour')
    code, _, err = invoke('bootstrap', 'import', 'moon', str(bad), '--mode', 'wipe')
    assert code == 1 and 'merge or replace' in err
    code, _, err = invoke('bootstrap', 'import', 'nope', str(bad))
    assert code == 1 and 'No project "nope"' in err


def test_upload_prints_one_line_per_file(kroma: Deps, tmp_path: Path) -> None:
    names = {'a.png': png_bytes((1, 2, 3)), 'b.png': png_bytes((4, 5, 6)), 'again.png': png_bytes((1, 2, 3))}
    names |= {'notes.png': b'plain text', 'huge.png': huge_png_header(20000, 20000)}
    for name, data in names.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / n) for n in names] + [str(tmp_path / 'missing.png')]
    code, out, _ = invoke('upload', 'moon', *paths, '--kind', 'scene')
    assert code == 1
    lines = dict(line.split('\t', 1) for line in out.splitlines())
    assert lines['a.png'].startswith('accepted') and lines['again.png'].startswith('duplicate')
    assert lines['notes.png'] == 'refused\tnot a readable PNG, JPEG or WebP image.'
    assert 'megapixel limit' in lines['huge.png'] and lines['missing.png'] == 'refused\tno such file'
    code, out, _ = invoke('upload', 'moon', str(tmp_path / 'b.png'), '--character', 'Nobody')
    assert code == 1 and out == ''
    with kroma.sessions() as s:
        pid = projects.get_project(s, 'moon').id
        hero = characters.create_character(s, pid, CharacterCreate(name='Hero'))
    code, out, _ = invoke('upload', 'moon', str(tmp_path / 'b.png'), '--character', 'hero', '--angle', 'side')
    assert code == 0 and out.startswith('b.png\tduplicate')
    with kroma.sessions() as s:
        assert [r.angle for r in characters.list_references(s, pid, hero.id)] == ['profile']  # 'side' means profile


def test_upload_refuses_a_device_before_reading_it(kroma: Deps, tmp_path: Path) -> None:
    code, out, _ = invoke('upload', 'moon', '/dev/zero', str(tmp_path))
    assert code == 1
    lines = dict(line.split('\t', 1) for line in out.splitlines())
    assert lines == {'zero': 'refused\tnot a regular file (a device, folder or pipe)',
                     tmp_path.name: 'refused\tnot a regular file (a device, folder or pipe)'}  # fmt: skip
