"""`kroma postprocess` and `kroma util`: right sizes and alpha, one line per derived asset, one-line failures."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import typer
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from app import cli_postprocess
from app.cli_common import deps_for_cli
from app.settings import get_settings
from models.base import AssetKind, ReviewState
from models.project import ProjectCreate
from services.projects import projects
from services.projects.assets import AssetStore

runner = CliRunner()


@pytest.fixture(scope='module')
def cli() -> typer.Typer:
    app = typer.Typer()
    cli_postprocess.register(app)
    return app


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    im = Image.new('RGB', (120, 150), (220, 228, 236))
    d = ImageDraw.Draw(im)
    d.ellipse((40, 15, 80, 60), fill=(230, 190, 160), outline=(10, 10, 10), width=2)
    d.rectangle((30, 65, 90, 150), fill=(150, 30, 40))
    path = tmp_path / 'in.jpg'
    im.save(path, 'JPEG', quality=92)
    return path


def test_util_commands_write_pngs_of_the_right_size_and_alpha(cli: typer.Typer, picture: Path, tmp_path: Path) -> None:
    cut = tmp_path / 'cut.png'
    res = runner.invoke(cli, ['util', 'remove-bg', str(picture), str(cut)])
    assert res.exit_code == 0, res.output
    assert 'alpha' in res.stdout
    with Image.open(cut) as im:
        assert im.mode == 'RGBA' and im.size == (120, 150) and im.getchannel('A').getextrema() == (0, 255)
    big = tmp_path / 'big.png'
    assert runner.invoke(cli, ['util', 'upscale', str(cut), str(big), '--scale', '4']).exit_code == 0
    with Image.open(big) as im:
        assert im.mode == 'RGBA' and im.size == (480, 600)
    warm = tmp_path / 'warm.png'
    assert (
        runner.invoke(cli, ['util', 'recolor', str(picture), str(warm), '--profile', 'cinematic_warm']).exit_code == 0
    )
    with Image.open(warm) as im:
        assert im.format == 'PNG' and im.mode == 'RGB' and im.size == (120, 150)


@pytest.mark.parametrize(
    ('args', 'reason'),
    [
        (['util', 'remove-bg', '{text}', '{out}'], 'notes.txt: not a readable PNG, JPEG or WebP image.'),
        (['util', 'upscale', '{img}', '{out}', '--scale', '3'], 'Upscale factor must be 2 or 4, got 3.'),
        (['util', 'recolor', '{img}', '{out}', '--profile', 'sunset'], "Unknown colour profile 'sunset'"),
        (['util', 'upscale', '{missing}', '{out}'], 'cannot be read'),
        (['util', 'upscale', '{img}', '{jpg}'], 'OUT must end in .png'),
    ],
)
def test_bad_input_exits_1_with_one_line(
    cli: typer.Typer, picture: Path, tmp_path: Path, args: list[str], reason: str
) -> None:
    text = tmp_path / 'notes.txt'
    text.write_text('shopping list: ink, paper')
    paths = {
        'text': text,
        'img': picture,
        'out': tmp_path / 'o.png',
        'missing': tmp_path / 'no.png',
        'jpg': tmp_path / 'o.jpg',
    }
    res = runner.invoke(cli, [a.format(**paths) for a in args])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and reason in lines[0]
    assert not (tmp_path / 'o.png').exists()


def test_postprocess_a_project_prints_one_line_per_derived_asset(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)  # the CLI configures logging for itself; give pytest its own back
    monkeypatch.setenv('KROMA_HOME', str(tmp_path / 'home'))
    get_settings.cache_clear()
    deps = deps_for_cli()
    buf = io.BytesIO()
    Image.new('RGB', (64, 64), (90, 120, 200)).save(buf, 'PNG')
    with deps.sessions() as s:
        project = projects.create_project(s, ProjectCreate(slug='pp', name='PP'), data_dir=deps.data_dir)
        asset, _ = AssetStore(deps.data_dir).ingest(
            s, project, buf.getvalue(), kind=AssetKind.candidate, stage='style', status=ReviewState.approved
        )
    try:
        res = runner.invoke(
            cli, ['postprocess', 'pp', '--assets', asset.id, '--steps', 'upscale,colour', '--scale', '2']
        )
        assert res.exit_code == 0, res.output
        lines = [line.split('\t') for line in res.stdout.splitlines() if '\t' in line]
        assert [line[1] for line in lines] == ['upscale', 'upscale > color']
        assert all(len(line[0]) == 32 and line[3].startswith('qa=') for line in lines)
        assert '[100%] Done: 2 output(s)' in res.stdout
        for args, reason in [
            (['postprocess', 'nope', '--stage', 'style'], 'No project "nope".'),
            (['postprocess', 'pp'], 'Give either --stage STAGE or --assets ID,... (one of them).'),
            (['postprocess', 'pp', '--stage', 'time'], 'The time stage has no approved assets yet.'),
        ]:
            bad = runner.invoke(cli, args)
            assert bad.exit_code == 1 and bad.stderr.strip().splitlines() == [f'error: {reason}']
    finally:
        get_settings.cache_clear()
        root.handlers[:], root.level = saved
