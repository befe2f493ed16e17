"""The whole journey with `kroma` commands alone: an empty KROMA_HOME to a verified CBZ, each command a real process.

Project, references, scenes (bootstrap import), style run, approve-best, time run, approve-best, auto-layout, a
caption, export, verify. Then the check a new user makes: `kroma demo` … `kroma export verify` on a fresh home.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from services.projects import demo_art

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def kroma_in(home: Path):  # noqa: ANN201
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'KROMA_'))} | {'KROMA_HOME': str(home)}
    kroma = Path(sys.executable).with_name('kroma')

    def run(*args: str) -> str:
        done = subprocess.run([str(kroma), *args], cwd=home.parent, env=env, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, f'kroma {" ".join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}'
        assert 'Traceback' not in done.stderr
        return done.stdout

    return run


def panels_of(package: Path) -> list[dict]:
    with zipfile.ZipFile(package) as z:
        assert 'ComicInfo.xml' in z.namelist()
        manifest = json.loads(z.read('manifest.json'))
    return [p for page in manifest['pages'] for p in page['panels']]


def test_empty_home_to_a_verified_cbz_with_the_cli(tmp_path: Path) -> None:
    kroma = kroma_in(tmp_path / 'home')
    files = tmp_path / 'files'
    files.mkdir()
    (style_name, style), *_ = demo_art.style_images()
    style.save(files / style_name)
    scenes = []
    for name, description, image, _ in demo_art.scene_images()[:2]:
        image.save(files / f'{name}.png')
        scenes.append({'name': name, 'description': description, 'chapter': 1, 'reference_image': f'{name}.png'})
    (files / 'answer.json').write_text(json.dumps({'scenes': scenes}))

    assert kroma('project', 'create', 'saga').strip() == 'created saga'
    assert '\taccepted\t' in kroma('upload', 'saga', str(files / style_name), '--kind', 'style')
    kroma('upload', 'saga', *(str(files / f'{s["name"]}.png') for s in scenes), '--kind', 'scene')
    kroma('bootstrap', 'import', 'saga', str(files / 'answer.json'))
    kroma('run', 'saga', '--stage', 'style', '--candidates', '1', '--mode', 'run', '--wait')
    assert 'style: 2 approved' in kroma('review', 'approve-best', 'saga', '--stage', 'style')
    # night: the style check sets the light aside on the time stage, so a night grade still passes
    kroma('run', 'saga', '--stage', 'time', '--time', 'night', '--candidates', '1', '--mode', 'run', '--wait')
    best = kroma('review', 'approve-best', 'saga', '--stage', 'time')
    assert 'time: 2 approved, 0 kept, 0 without' in best
    approved = re.findall(r'^approved (.+?): candidate .+ asset ([0-9a-f]{32})$', best, re.M)
    assert [name for name, _ in approved] == [s['name'] for s in scenes]
    day = [asset for _, asset in approved]
    dry = kroma('pages', 'layout', 'saga', '--chapter', '1', '--dry-run')
    assert 'would add 1 page(s) with 2 panel(s) (dry run)' in dry and re.findall(r'asset (\w+)$', dry, re.M) == day
    assert 'added 1 page(s) with 2 panel(s)' in kroma('pages', 'layout', 'saga', '--chapter', '1')
    kroma('pages', 'balloon', 'add', 'saga', '--text', 'Morning.', '--kind', 'caption')
    assert 'caption 1: "Morning."' in kroma('pages', 'saga')
    out = kroma('export', 'saga', '--format', 'cbz', '--dpi', '100').splitlines()
    package = Path(out[0])
    assert package.suffix == '.cbz' and out[1].startswith('sha256 ')
    assert kroma('export', 'verify', str(package)).startswith('ok: ')
    panels = panels_of(package)
    assert [p['asset_id'] for p in panels] == day and panels[0]['balloons'][0]['text'] == 'Morning.'


def test_the_demo_check_a_new_user_makes(tmp_path: Path) -> None:
    kroma = kroma_in(tmp_path / 'home')
    kroma('demo')
    kroma('run', 'demo', '--stage', 'style', '--candidates', '2', '--mode', 'run', '--wait')
    best = kroma('review', 'approve-best', 'demo', '--stage', 'style')
    chosen = re.findall(r'^approved (.+?): candidate', best, re.M)
    assert chosen, best
    kroma('pages', 'layout', 'demo', '--chapter', '1')
    package = Path(kroma('export', 'demo', '--format', 'cbz', '--dpi', '100').splitlines()[0])
    assert kroma('export', 'verify', str(package)).startswith('ok: ')
    listing = kroma('pages', 'demo')
    assert re.findall(r'panel \d+: (.+?) \(style\)', listing) == chosen  # scene order
    assert len(panels_of(package)) == len(chosen)
