"""`kroma qa compare --json`: per metric value, verdict, threshold; identity says why it is unverified."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from app import cli_qa
from tests.services.qa import hopper, rotate

runner = CliRunner()


@pytest.fixture(scope='module')
def cli() -> typer.Typer:
    app = typer.Typer()
    cli_qa.register(app)
    return app


def _save(folder: Path, name: str, img: np.ndarray) -> Path:
    Image.fromarray(img).save(folder / name)
    return folder / name


def _compare(cli: typer.Typer, *args: str) -> dict:
    res = runner.invoke(cli, ['qa', 'compare', *args, '--json'])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_compare_json_contract(cli: typer.Typer, tmp_path: Path) -> None:
    ref = _save(tmp_path, 'ref.png', hopper())
    cand = _save(tmp_path, 'cand.png', rotate(hopper()[:, ::-1], 8))
    out = _compare(cli, str(ref), str(cand), '--metric', 'all')
    assert set(out) == {'identity', 'style', 'composition'}
    for row in out.values():
        assert {'value', 'verdict', 'threshold', 'detail'} <= set(row)
    ident = out['identity']
    assert ident['verdict'] == 'pass' and ident['reason'] is None and ident['value'] < ident['threshold']
    assert ident['band']['pass_max'] == ident['threshold'] < ident['band']['fail_above']


def test_unverified_says_which_side_has_no_face(cli: typer.Typer, tmp_path: Path) -> None:
    face = _save(tmp_path, 'face.png', hopper())
    ramp = np.linspace(30, 220, 160 * 200, dtype=np.float32).reshape(160, 200)
    blank = _save(tmp_path, 'blank.png', np.dstack([ramp.astype(np.uint8)] * 3))
    no_cand = _compare(cli, str(face), str(blank), '--metric', 'identity')['identity']
    assert no_cand['verdict'] == 'unverified' and no_cand['value'] is None
    assert no_cand['reason'] == 'no face in candidate'
    no_ref = _compare(cli, str(blank), str(face), '--metric', 'identity')['identity']
    assert no_ref['verdict'] == 'unverified' and no_ref['reason'] == 'no face in reference'


def test_bad_metric_is_one_line(cli: typer.Typer, tmp_path: Path) -> None:
    face = _save(tmp_path, 'face.png', hopper())
    res = runner.invoke(cli, ['qa', 'compare', str(face), str(face), '--metric', 'vibes'])
    assert res.exit_code == 1 and res.output.strip().startswith('error:') and len(res.output.strip().splitlines()) == 1
