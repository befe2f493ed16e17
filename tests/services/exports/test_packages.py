"""Export packages with real files: CBZ/ZIP contents, determinism, verification, tamper detection, PDF pages."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from PIL import Image, PdfParser

from services.errors import Invalid, NotFound
from services.exports.packages import (
    ComicInfo,
    PackageFile,
    comic_info_xml,
    verify_package,
    write_cbz,
    write_pdf,
    write_zip_package,
)
from services.files import sha256_file

MANIFEST = {'run': 'run-1', 'job': 'job-7', 'provider': 'local', 'model': 'noise', 'seed': 42, 'qa': {'score': 0.9}}


def _page(path: Path, seed: int, size: tuple[int, int] = (300, 450)) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def pages(tmp_path: Path) -> list[Path]:
    (tmp_path / 'in').mkdir()
    return [_page(tmp_path / 'in' / f'page-{i}.png', i) for i in range(2)]


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    """Copy a zip member by member, replacing (bytes) or dropping (None) the named members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w') as zout:
        for info in zin.infolist():
            data = change.get(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)


def test_cbz_two_pages(tmp_path: Path, pages: list[Path]) -> None:
    out = tmp_path / 'out' / 'issue-1.cbz'
    info = ComicInfo('The Lighthouse', 'Kroma Tales', 1, writer='A. Writer', summary='Storm & <secrets>')
    digest = write_cbz(out, [PackageFile(p.name, path=p) for p in pages], info, manifest=MANIFEST)
    assert digest == sha256_file(out)
    assert [p.name for p in out.parent.iterdir()] == ['issue-1.cbz']  # no temp file left behind
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names == ['001.png', '002.png', 'ComicInfo.xml', 'manifest.json', 'SHA256SUMS']
        for name, src in zip(['001.png', '002.png'], pages, strict=True):
            assert zf.read(name) == src.read_bytes()
            assert zf.getinfo(name).compress_type == zipfile.ZIP_STORED
        assert zf.getinfo('ComicInfo.xml').compress_type == zipfile.ZIP_DEFLATED
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        root = ET.fromstring(zf.read('ComicInfo.xml'))
        manifest = json.loads(zf.read('manifest.json'))
        sums = zf.read('SHA256SUMS').decode()
    assert root.tag == 'ComicInfo'
    assert root.findtext('PageCount') == '2' and root.findtext('Title') == 'The Lighthouse'
    assert root.findtext('Summary') == 'Storm & <secrets>' and root.findtext('Number') == '1'
    page_els = root.findall('Pages/Page')
    assert [p.get('Image') for p in page_els] == ['0', '1']
    assert page_els[0].get('Type') == 'FrontCover' and page_els[1].get('Type') is None
    assert (page_els[0].get('ImageWidth'), page_els[0].get('ImageHeight')) == ('300', '450')
    assert {k: manifest[k] for k in MANIFEST} == MANIFEST
    assert [f['arcname'] for f in manifest['files']] == ['001.png', '002.png', 'ComicInfo.xml']
    assert manifest['files'][0] == {
        'arcname': '001.png',
        'sha256': sha256_file(pages[0]),
        'size': pages[0].stat().st_size,
    }
    lines = sums.splitlines()
    assert lines[0] == f'{sha256_file(pages[0])}  001.png'
    assert [line.split('  ')[1] for line in lines] == ['001.png', '002.png', 'ComicInfo.xml', 'manifest.json']


def test_same_inputs_give_the_same_package(tmp_path: Path, pages: list[Path]) -> None:
    files = [PackageFile(p.name, path=p) for p in pages]
    info = ComicInfo('T', 'S', '1a')
    first = write_cbz(tmp_path / 'a.cbz', files, info, manifest=dict(MANIFEST))
    second = write_cbz(tmp_path / 'b.cbz', files, info, manifest=dict(reversed(MANIFEST.items())))
    assert first == second
    assert (tmp_path / 'a.cbz').read_bytes() == (tmp_path / 'b.cbz').read_bytes()


def test_verify_passes_then_names_a_tampered_page(tmp_path: Path, pages: list[Path]) -> None:
    out = tmp_path / 'book.cbz'
    write_cbz(out, [PackageFile(p.name, path=p) for p in pages], ComicInfo('T', 'S', 1), manifest=MANIFEST)
    good = verify_package(out)
    assert good.ok and good.checked == 5 and not (good.mismatches or good.missing or good.extra)

    data = bytearray(pages[1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered = tmp_path / 'tampered.cbz'
    _rewrite(out, tampered, {'002.png': bytes(data)})
    bad = verify_package(tampered)
    assert not bad.ok and bad.mismatches == ['002.png'] and not bad.missing and not bad.extra


def test_verify_catches_corruption_in_place_missing_and_extra(tmp_path: Path, pages: list[Path]) -> None:
    out = tmp_path / 'book.cbz'
    write_cbz(out, [PackageFile(p.name, path=p) for p in pages], ComicInfo('T', 'S', 1), manifest=MANIFEST)
    raw = bytearray(out.read_bytes())
    raw[raw.find(pages[0].read_bytes()[:64]) + 200] ^= 0x01  # flip a byte inside 001.png: CRC no longer matches
    flipped = tmp_path / 'flipped.cbz'
    flipped.write_bytes(bytes(raw))
    assert verify_package(flipped).mismatches == ['001.png']

    dropped, added = tmp_path / 'dropped.cbz', tmp_path / 'added.cbz'
    _rewrite(out, dropped, {'001.png': None})
    result = verify_package(dropped)
    assert not result.ok and result.missing == ['001.png']
    _rewrite(out, added, {})
    with zipfile.ZipFile(added, 'a') as zf:
        zf.writestr('sneaky.txt', b'hello')
    result = verify_package(added)
    assert not result.ok and result.extra == ['sneaky.txt']


def test_cbz_without_manifest_has_no_sums(tmp_path: Path, pages: list[Path]) -> None:
    out = tmp_path / 'plain.cbz'
    write_cbz(out, [PackageFile('cover.png', data=pages[0].read_bytes())], ComicInfo('T', 'S', 1))
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ['001.png', 'ComicInfo.xml']
    assert verify_package(out).missing == ['SHA256SUMS']


def test_zip_package_compression_progress_and_refusals(tmp_path: Path, pages: list[Path]) -> None:
    files = [
        PackageFile('pages/001.png', path=pages[0]),
        PackageFile('script/notes.txt', data=('notes ' * 500).encode()),
    ]
    seen: list[float] = []
    out = tmp_path / 'export.zip'
    digest = write_zip_package(out, files, MANIFEST, on_progress=seen.append)
    assert digest == sha256_file(out)
    assert seen == sorted(seen) and seen[-1] == 1.0 and seen[0] > 0
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo('pages/001.png').compress_type == zipfile.ZIP_STORED
        assert zf.getinfo('script/notes.txt').compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo('script/notes.txt').compress_size < 500
    assert verify_package(out).ok

    with pytest.raises(Invalid, match='manifest.json'):
        write_zip_package(tmp_path / 'x.zip', [PackageFile('manifest.json', data=b'{}')], MANIFEST)
    with pytest.raises(Invalid, match='twice'):
        write_zip_package(tmp_path / 'x.zip', [PackageFile('a.txt', data=b'1'), PackageFile('A.txt', data=b'2')], {})
    for bad in ['../up.png', '/abs.png', 'a//b.png', 'a\\b.png', '']:
        with pytest.raises(Invalid):
            PackageFile(bad, data=b'x')
    with pytest.raises(Invalid):
        PackageFile('both.png', path=pages[0], data=b'x')
    with pytest.raises(NotFound):
        write_zip_package(tmp_path / 'x.zip', [PackageFile('gone.png', path=tmp_path / 'gone.png')], {})
    assert not (tmp_path / 'x.zip').exists()
    assert not list(tmp_path.glob('.x.zip.*'))


def test_progress_callback_can_cancel_without_leaving_files(tmp_path: Path, pages: list[Path]) -> None:
    def cancel(fraction: float) -> None:
        raise RuntimeError('cancelled')

    with pytest.raises(RuntimeError):
        write_cbz(
            tmp_path / 'c.cbz', [PackageFile(p.name, path=p) for p in pages], ComicInfo('T', 'S', 1), on_progress=cancel
        )
    assert list(tmp_path.glob('*.cbz')) == [] and list(tmp_path.glob('.c.cbz.*')) == []


def test_comic_info_xml_escapes_and_drops_control_characters() -> None:
    info = ComicInfo('A <b> & "c"\x07', 'Série', 12, page_sizes=((10, 20), (30, 40)))
    root = ET.fromstring(comic_info_xml(info, 2))
    assert root.findtext('Title') == 'A <b> & "c"' and root.findtext('Series') == 'Série'
    assert root.find('Writer') is None  # empty fields are left out
    assert root.findall('Pages/Page')[1].get('ImageHeight') == '40'
    with pytest.raises(Invalid):
        comic_info_xml(info, 3)


def test_pdf_pages_match_dpi_and_verify(tmp_path: Path, pages: list[Path]) -> None:
    rgba = Image.new('RGBA', (150, 300), (10, 20, 30, 128))
    out = tmp_path / 'book.pdf'
    digest = write_pdf(out, [pages[0], rgba], dpi=150)
    assert digest == sha256_file(out)
    assert (tmp_path / 'book.pdf.sha256').read_text() == f'{digest}  book.pdf\n'
    assert out.read_bytes().count(b'/Type /Page\n') == 2
    parser = PdfParser.PdfParser(str(out))
    try:
        boxes = [list(parser.read_indirect(ref)[b'MediaBox']) for ref in parser.pages]
    finally:
        parser.close()
    assert boxes == [[0, 0, 144.0, 216.0], [0, 0, 72.0, 144.0]]  # 300x450 px and 150x300 px at 150 dpi
    assert write_pdf(tmp_path / 'again.pdf', [pages[0], rgba], dpi=150) == digest  # fixed dates: deterministic
    assert verify_package(out).ok

    data = bytearray(out.read_bytes())
    data[-100] ^= 0x01
    out.write_bytes(bytes(data))
    assert verify_package(out).mismatches == ['book.pdf']
    (tmp_path / 'book.pdf.sha256').unlink()
    assert verify_package(out).missing == ['book.pdf.sha256']
    with pytest.raises(Invalid, match='DPI'):
        write_pdf(tmp_path / 'x.pdf', [rgba], dpi=10)


def test_verify_refuses_non_packages(tmp_path: Path) -> None:
    junk = tmp_path / 'junk.zip'
    junk.write_bytes(b'this is not a zip')
    with pytest.raises(Invalid, match='not a readable'):
        verify_package(junk)
    with pytest.raises(NotFound):
        verify_package(tmp_path / 'nothing.zip')
