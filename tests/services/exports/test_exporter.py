"""Export: a demo chapter of two pages with balloons as CBZ, ZIP and PDF; lineage, checksums and reproduction."""

from __future__ import annotations

import asyncio
import io
import json
import re
import struct
import zipfile
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import pytest
from PIL import Image
from sqlmodel import select

from models.assets import Asset
from models.db import create_all, make_engine, session_factory
from models.layout import ChapterCreate, Export, PageCreate
from models.runs import Candidate, Job
from services.errors import Invalid
from services.exports.exporter import Exporter, ExportRequest
from services.exports.packages import verify_package
from services.exports.reproduce import reproduce_package
from services.files import sha256_bytes, sha256_file
from services.layout import chapters
from services.layout.balloons import Balloon, layout_balloon
from services.layout.templates import page_pixels, panel_rects, reference_scale
from services.postprocess.runs import PostprocessRequest, PostprocessRunner
from services.projects.assets import AssetStore
from services.review import decisions as review
from tests.services.layout.test_chapters import approved_demo

DPI = 100
SPEECH = {'text': 'Three, two, one… liftoff!', 'x': 0.5, 'y': 0.22, 'font_size': 30, 'width': 0.5}


@pytest.fixture(scope='module')
def comic(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """Two approved style panels and a colour-graded one on two pages with balloons, exported once per format."""
    home = tmp_path_factory.mktemp('kroma-home')
    engine = make_engine(f'sqlite:///{home / "kroma.db"}')
    create_all(engine)
    sessions, store = session_factory(engine), AssetStore(home)
    demo, run_id = approved_demo(sessions, store, scenes=2)
    with sessions() as s:
        first, second = (j.candidates[0].asset for j in review.run_review(s, demo.id, run_id))
    graded = PostprocessRunner(sessions, store).run(
        'demo', PostprocessRequest(asset_ids=[second.id], steps=['color'], profile='cinematic_warm')
    )
    derived_id = graded.outputs[-1].asset_id
    with sessions() as s:
        chapter = chapters.create_chapter(s, demo.id, ChapterCreate(title='Liftoff', writer='Ann Artist'))
        one = chapters.create_page(s, demo.id, PageCreate(chapter_id=chapter.id, template='two'))
        two = chapters.create_page(s, demo.id, PageCreate(chapter_id=chapter.id, template='splash'))
        chapters.place_asset(s, demo.id, one.id, 0, first.id, crop={'zoom': 1.2, 'x': 0.4, 'y': 0.5})
        chapters.place_asset(s, demo.id, one.id, 1, second.id)
        chapters.place_asset(s, demo.id, two.id, 0, derived_id)
        chapters.edit_balloon(s, demo.id, one.id, 0, None, SPEECH)
        chapters.edit_balloon(
            s, demo.id, one.id, 1, None, {'text': 'Meanwhile…', 'x': 0.1, 'y': 0.1, 'kind': 'caption'}
        )
        chapters.edit_balloon(s, demo.id, two.id, 0, None, {'text': 'Warm.', 'x': 0.6, 'y': 0.3, 'kind': 'thought'})
        sources = {a.id: store.path_of(demo, a) for a in s.exec(select(Asset)).all()}
    progress: dict[str, list[tuple[float, str]]] = {'zip': [], 'cbz': [], 'pdf': []}
    exporter = Exporter(sessions, store)
    made = {
        fmt: exporter.run(
            'demo',
            ExportRequest(fmt, chapter=1, dpi=DPI),
            on_progress=lambda f, m, fmt=fmt: progress[fmt].append((f, m)),
        )
        for fmt in progress
    }
    paths = {fmt: store.root(demo) / e.path for fmt, e in made.items()}
    yield SimpleNamespace(
        sessions=sessions, store=store, demo=demo, run_id=run_id, home=home, made=made, paths=paths,
        ids=(first.id, second.id, derived_id), sources=sources, progress=progress,
    )  # fmt: skip
    engine.dispose()


def balloon_region(page: Image.Image, template: str, slot: int, data: dict) -> tuple[Image.Image, Image.Image]:
    """The rendered balloon body and its text box, found with the same geometry the renderer uses."""
    w, h = page_pixels('us_comic', DPI)
    scale = reference_scale('us_comic', w)
    x, y, pw, ph = panel_rects(template, w, h)[slot]
    border = max(1, round(3 * scale))
    layout = layout_balloon((x + border, y + border, pw - 2 * border, ph - 2 * border), Balloon(**data), scale=scale)
    return page.crop(layout.body).convert('L'), page.crop(layout.text_box).convert('L')


def test_cbz_opens_with_comic_info_and_balloons_drawn_over_unchanged_sources(comic) -> None:
    with zipfile.ZipFile(comic.paths['cbz']) as zf:
        names = zf.namelist()
        info = ET.fromstring(zf.read('ComicInfo.xml'))
        first_page = Image.open(io.BytesIO(zf.read('001.png')))
        first_page.load()
    assert names[:2] == ['001.png', '002.png'] and {'ComicInfo.xml', 'manifest.json', 'SHA256SUMS'} <= set(names)
    fields = {child.tag: child.text for child in info}
    assert (fields['Title'], fields['Series']) == ('Liftoff', comic.demo.name)
    assert (fields['Number'], fields['Writer'], fields['PageCount']) == ('1', 'Ann Artist', '2')
    assert len(info.find('Pages')) == 2 and first_page.size == page_pixels('us_comic', DPI)
    assert tuple(round(v) for v in first_page.info['dpi']) == (DPI, DPI)  # the page image carries its DPI

    body, text = balloon_region(first_page, 'two', 0, SPEECH)
    white = sum(body.histogram()[236:]) / (body.width * body.height)
    dark = sum(text.histogram()[:80])
    assert white > 0.5 and dark > 50  # a white balloon with black lettering on top of the art

    with comic.sessions() as s:
        placed = [s.get(Asset, i) for i in comic.ids]
    assert all(sha256_file(comic.sources[a.id]) == a.sha256 for a in placed)  # sources never baked or touched


def test_every_package_verifies_and_a_flipped_byte_is_named(comic, tmp_path: Path) -> None:
    for path in comic.paths.values():
        assert verify_package(path).ok, path.name
    broken = tmp_path / 'broken.cbz'
    flip_byte(comic.paths['cbz'], broken, '002.png')
    result = verify_package(broken)
    assert not result.ok and result.mismatches == ['002.png']
    pdf = tmp_path / comic.paths['pdf'].name
    raw = bytearray(comic.paths['pdf'].read_bytes())
    raw[len(raw) // 2] ^= 0x01
    pdf.write_bytes(bytes(raw))
    (tmp_path / f'{pdf.name}.sha256').write_bytes(comic.paths['pdf'].with_name(f'{pdf.name}.sha256').read_bytes())
    assert verify_package(pdf).mismatches == [pdf.name]
    assert len(re.findall(rb'/Type\s*/Page\b(?!s)', comic.paths['pdf'].read_bytes())) == 2


def test_zip_manifest_holds_lineage_and_export_rows_are_recorded(comic) -> None:
    with zipfile.ZipFile(comic.paths['zip']) as zf:
        text = zf.read('manifest.json').decode()
        members = {n: sha256_bytes(zf.read(n)) for n in zf.namelist()}
    manifest = json.loads(text)
    assert str(comic.home) not in text and 'api_key' not in text
    images = {e['asset_id']: e for e in manifest['images']}
    first, second, derived = (images[i] for i in comic.ids)
    with comic.sessions() as s:
        for entry in (first, second):
            gen = entry['generation']
            cand = s.get(Candidate, gen['candidate_id'])
            job = s.get(Job, cand.job_id)
            assert gen['run_id'] == comic.run_id and gen['seed'] == cand.seed and gen['prompt'] == job.prompt
            assert [(i['role'], i['sha256']) for i in gen['inputs']] == [(i['role'], i['sha256']) for i in job.inputs]
            assert gen['provider'] == 'local' and gen['qa']['verdict'] in ('pass', 'warn', 'fail')
            assert 'composition' in gen['qa']['metrics'] and gen['size'] == job.params['size']
            assert members[entry['image']] == entry['sha256']  # the source file, byte for byte
            assert all(members[i['arcname']] == i['sha256'] for i in gen['inputs'])
        exports = s.exec(select(Export)).all()
    assert first['placements'] == [
        {'chapter': 1, 'page': 1, 'slot': 0, 'crop': {'zoom': 1.2, 'x': 0.4, 'y': 0.5}, 'balloons': [
            Balloon(**SPEECH).to_dict()]}
    ]  # fmt: skip
    (step,) = derived['postprocess']
    assert (step['op'], step['method'], step['params']['profile']) == ('color', 'pil-enhance', 'cinematic_warm')
    assert derived['generation']['candidate_id'] == second['generation']['candidate_id'] and step['qa']['verdict']
    assert [p['image'] for p in manifest['pages']] == ['pages/ch01-p001.png', 'pages/ch01-p002.png']
    assert sorted(e.format for e in exports) == ['cbz', 'pdf', 'zip']
    for e in exports:
        path = comic.store.root(comic.demo) / e.path
        assert e.path.startswith('exports/') and e.size_bytes == path.stat().st_size
        assert e.checksum_sha256 == sha256_file(path) and len(e.manifest['pages']) == 2
    fractions = [f for f, _ in comic.progress['zip']]
    assert fractions == sorted(fractions) and fractions[0] == 0.0
    assert comic.progress['zip'][-1][0] == 1.0 and comic.progress['zip'][-1][1].startswith('Done:')


def test_reproduce_rerenders_local_images_and_pages_identically(comic, tmp_path: Path) -> None:
    lines = asyncio.run(reproduce_package(comic.paths['zip']))
    assert [line.status for line in lines] == ['identical'] * 6, [(x.name, x.status, x.reason) for x in lines]
    assert sum(line.name.startswith('pages/') for line in lines) == 2
    assert any(line.name.endswith('(source candidate)') for line in lines)

    tampered = tmp_path / 'tampered.zip'
    with zipfile.ZipFile(comic.paths['zip']) as src, zipfile.ZipFile(tampered, 'w') as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == 'manifest.json':
                manifest = json.loads(data)
                manifest['images'][0]['generation']['seed'] += 1  # one image only, to keep the test quick
                manifest['images'], manifest['pages'] = manifest['images'][:1], []
                data = json.dumps(manifest).encode()
            dst.writestr(item, data)
    changed = asyncio.run(reproduce_package(tampered))
    assert [line.status for line in changed] == ['different']
    reader_copy = asyncio.run(reproduce_package(comic.paths['cbz']))  # pages only: nothing to compare against
    assert {line.status for line in reader_copy} == {'skipped'} and len(reader_copy) == 5
    with pytest.raises(Invalid, match='reproduce needs the ZIP export'):
        asyncio.run(reproduce_package(comic.paths['pdf']))


def test_empty_or_unknown_scope_is_refused(comic) -> None:
    with pytest.raises(Invalid, match='Export format must be one of zip, cbz, pdf'):
        ExportRequest('tar')
    with pytest.raises(Invalid, match='DPI must be'):
        ExportRequest('zip', dpi=5000)
    with comic.sessions() as s:
        chapters.create_chapter(s, comic.demo.id, ChapterCreate(number=2, title='Empty'))
    with pytest.raises(Invalid, match='Chapter 2 has no pages yet'):
        Exporter(comic.sessions, comic.store).run('demo', ExportRequest('cbz', chapter=2, dpi=DPI))


def flip_byte(src: Path, dst: Path, member: str) -> None:
    """Flip one bit inside a stored member's data, leaving the zip structure intact."""
    with zipfile.ZipFile(src) as zf:
        offset = zf.getinfo(member).header_offset
    raw = bytearray(src.read_bytes())
    name_len, extra_len = struct.unpack('<HH', raw[offset + 26 : offset + 30])
    raw[offset + 30 + name_len + extra_len + 100] ^= 0x01
    dst.write_bytes(bytes(raw))
