"""`kroma export`: package, verify (naming what changed) and reproduce, each with a non-zero exit on failure."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app import cli_export
from app.settings import get_settings
from app.wiring import build_deps
from models.layout import ChapterCreate, PageCreate
from services.files import sha256_file
from services.layout import chapters
from services.review import decisions as review
from tests.services.exports.test_exporter import flip_byte
from tests.services.layout.test_chapters import approved_demo


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """A fresh KROMA_HOME with the demo project, one approved style panel on a page with a balloon."""
    monkeypatch.setenv('KROMA_HOME', str(tmp_path / 'home'))
    get_settings.cache_clear()
    deps = build_deps(get_settings())
    demo, run_id = approved_demo(deps.sessions, deps.store, scenes=1)
    with deps.sessions() as s:
        (job,) = review.run_review(s, demo.id, run_id)
        chapter = chapters.create_chapter(s, demo.id, ChapterCreate(title='Liftoff', writer='Ann'))
        page = chapters.create_page(s, demo.id, PageCreate(chapter_id=chapter.id, template='two'))
        for slot in (0, 1):
            chapters.place_asset(s, demo.id, page.id, slot, job.candidates[0].asset.id, crop={'zoom': 1.0 + slot})
        chapters.edit_balloon(s, demo.id, page.id, 0, None, {'text': 'Go!', 'x': 0.5, 'y': 0.2})
    deps.engine.dispose()
    yield tmp_path / 'home'
    get_settings.cache_clear()


def kroma() -> typer.Typer:
    cli = typer.Typer()

    @cli.callback()
    def main() -> None:
        """Test root, as app/cli.py is for the real one."""

    cli_export.register(cli)
    return cli


def test_export_verify_and_reproduce_from_the_command_line(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(kroma(), ['export', 'demo', '--format', 'zip', '--chapter', '1', '--dpi', '72'])
    assert made.exit_code == 0, made.output
    path_line, sum_line = made.output.strip().splitlines()
    package = Path(path_line)
    assert package.parent == home / 'projects' / 'demo' / 'exports' and sum_line == f'sha256 {sha256_file(package)}'

    ok = runner.invoke(kroma(), ['export', 'verify', str(package)])
    assert ok.exit_code == 0 and 'ok: ' in ok.output
    broken = tmp_path / 'broken.zip'
    flip_byte(package, broken, 'pages/ch01-p001.png')
    bad = runner.invoke(kroma(), ['export', 'verify', str(broken)])
    assert bad.exit_code == 1 and 'changed: pages/ch01-p001.png' in bad.output and 'failed verification' in bad.output

    same = runner.invoke(kroma(), ['export', 'reproduce', str(package)])
    assert same.exit_code == 0, same.output
    lines = same.output.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith('identical') for line in lines)
    assert any('panels/' in line for line in lines) and any('pages/ch01-p001.png' in line for line in lines)

    tampered = tmp_path / 'tampered.zip'
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(tampered, 'w') as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == 'manifest.json':
                manifest = json.loads(data)
                manifest['images'][0]['generation']['seed'] += 7
                manifest['pages'] = []
                data = json.dumps(manifest).encode()
            dst.writestr(item, data)
    differs = runner.invoke(kroma(), ['export', 'reproduce', str(tampered)])
    assert differs.exit_code == 1 and differs.output.startswith('DIFFERENT') and 'came out DIFFERENT' in differs.output

    pdf = tmp_path / 'out' / 'liftoff.pdf'
    pdf.parent.mkdir()
    printed = runner.invoke(kroma(), ['export', 'demo', '--format', 'pdf', '--dpi', '72', '--out', str(pdf)])
    assert printed.exit_code == 0 and printed.output.startswith(str(pdf))
    assert runner.invoke(kroma(), ['export', 'verify', str(pdf)]).exit_code == 0

    missing = runner.invoke(kroma(), ['export', 'demo', '--format', 'cbz', '--chapter', '9'])
    assert missing.exit_code == 1 and missing.output == 'error: Chapter 9 does not exist in this project.\n'
    wrong = runner.invoke(kroma(), ['export', 'demo', '--format', 'tiff'])
    assert wrong.exit_code == 1 and 'Export format must be one of zip, cbz, pdf' in wrong.output
    nowhere = runner.invoke(kroma(), ['export', 'verify', str(home / 'nope.zip')])
    assert nowhere.exit_code == 1 and 'nope.zip does not exist' in nowhere.output
