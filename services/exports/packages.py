"""Export packages (ZIP, CBZ, PDF) that are deterministic, atomic and self-verifying via SHA256SUMS and a manifest."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree as ET

from PIL import Image

from services.errors import Invalid, NotFound, StorageError
from services.files import atomic_write, atomic_write_text, sha256_bytes, sha256_file
from services.layout.templates import DPI_MAX, DPI_MIN

log = logging.getLogger(__name__)

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
PDF_EPOCH = time.struct_time((1980, 1, 1, 0, 0, 0, 1, 1, 0))
PDF_OPTIONS = {'save_all': True, 'quality': 92, 'creationDate': PDF_EPOCH, 'modDate': PDF_EPOCH, 'producer': 'Kroma'}
STORED_EXTS = {'.png', '.jpg', '.jpeg', '.webp', '.gif', '.avif', '.pdf', '.zip', '.cbz', '.gz'}
PAGE_EXTS = {'.png', '.jpg', '.jpeg', '.webp', '.gif'}
RESERVED = {'manifest.json', 'SHA256SUMS', 'ComicInfo.xml'}
CHUNK = 1 << 22
_XML_BAD = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')
_SUMS_LINE = re.compile(r'([0-9a-fA-F]{64}) [ *](.+)')
Progress = Callable[[float], None] | None
Files = Sequence['PackageFile']


@dataclass(frozen=True)
class PackageFile:
    """One member of a package: bytes from a file on disk (streamed) or from memory, never both."""

    arcname: str
    path: Path | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise Invalid(f'{self.arcname}: give either a path or data.', code='package_file')
        name = self.arcname if isinstance(self.arcname, str) else ''
        if len(name) > 255 or '\\' in name or {'', '.', '..'} & set(name.split('/')) or _XML_BAD.search(name):
            raise Invalid(f'{name!r} is not a safe name inside a package.', code='package_arcname')
        if self.path is not None and not isinstance(self.path, Path):
            object.__setattr__(self, 'path', Path(self.path))


@dataclass(frozen=True)
class ComicInfo:
    """The fields of ComicRack's ComicInfo.xml that Kroma knows; page_sizes are (width, height) in reading order."""

    title: str
    series: str
    number: int | str
    writer: str = ''
    summary: str = ''
    page_sizes: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of re-checking a package: names of members that differ, are listed but absent, or are unlisted."""

    ok: bool
    checked: int
    mismatches: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def _zinfo(name: str) -> zipfile.ZipInfo:
    """Fixed timestamp, permissions and host so identical inputs give byte-identical packages."""
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED if Path(name).suffix.lower() in STORED_EXTS else zipfile.ZIP_DEFLATED
    info.create_system, info.external_attr = 3, 0o100644 << 16
    return info


def _manifest_bytes(manifest: dict, files: list[dict]) -> bytes:
    """Caller's lineage kept as given plus our 'files' list; sorted keys so equal manifests give equal bytes."""
    try:
        text = json.dumps({**manifest, 'files': files}, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError) as e:
        raise Invalid(f'The manifest cannot be written as JSON ({e}).', code='package_manifest') from e
    return (text + '\n').encode('utf-8')


def _pump(src: BinaryIO, dst: BinaryIO | None, pool: ThreadPoolExecutor) -> tuple[str, int]:
    """Copy in chunks while hashing; sha256 runs on the pool thread (it releases the GIL) to overlap the I/O."""
    h, size, pending = hashlib.sha256(), 0, pool.submit(int)
    while block := src.read(CHUNK):
        pending.result()
        pending = pool.submit(h.update, block)
        size += len(block)
        if dst is not None:
            dst.write(block)
    pending.result()
    return h.hexdigest(), size


def _add_member(zf: zipfile.ZipFile, f: PackageFile, pool: ThreadPoolExecutor) -> tuple[str, int]:
    """Write one member from memory or streamed from disk; returns (sha256, size) of exactly what was stored."""
    info = _zinfo(f.arcname)
    with io.BytesIO(f.data) if f.data is not None else open(f.path, 'rb') as src:
        info.file_size = len(f.data) if f.data is not None else os.fstat(src.fileno()).st_size
        with zf.open(info, 'w') as dst:
            return _pump(src, dst, pool)


def _write_package(out: Path, files: list[PackageFile], manifest: dict | None, on_progress: Progress) -> str:
    """Stream members into a temp zip in the target folder, add manifest and SHA256SUMS, fsync, then rename."""
    if not all(isinstance(f, PackageFile) for f in files):
        raise Invalid('Package members must be PackageFile objects.', code='package_file')
    if dupes := sorted(n for n, c in Counter(f.arcname.lower() for f in files).items() if c > 1):
        raise Invalid(f'{dupes[0]} appears twice in the package.', code='package_duplicate')
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f'.{out.name}.', suffix='.tmp')
    try:
        total, done, listed = sum(f.path.stat().st_size if f.path else len(f.data) for f in files) or 1, 0, []
        with ThreadPoolExecutor(1, thread_name_prefix='kroma-sha256') as pool, os.fdopen(fd, 'w+b') as fh:
            with zipfile.ZipFile(fh, 'w') as zf:
                for f in files:
                    digest, size = _add_member(zf, f, pool)
                    listed.append({'arcname': f.arcname, 'sha256': digest, 'size': size})
                    done += size
                    if on_progress:
                        on_progress(min(1.0, done / total))
                if manifest is not None:
                    digest, _ = _add_member(
                        zf, PackageFile('manifest.json', data=_manifest_bytes(manifest, listed)), pool
                    )
                    sums = [f'{e["sha256"]}  {e["arcname"]}\n' for e in listed] + [f'{digest}  manifest.json\n']
                    zf.writestr(_zinfo('SHA256SUMS'), ''.join(sums).encode('utf-8'))
            fh.flush()
            package_hash = pool.submit(sha256_file, Path(tmp))  # reads the page cache while fsync hits the disk
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        digest = package_hash.result()
    except FileNotFoundError as e:
        name = Path(e.filename or '?').name
        raise NotFound(f'A package source file is missing: {name}.', code='package_source_missing') from e
    except OSError as e:
        raise StorageError(f'Could not write {out.name}: {e.strerror or e}') from e
    finally:
        Path(tmp).unlink(missing_ok=True)
    log.info('wrote package %s (%d members, sha256 %s)', out.name, len(listed), digest[:12])
    return digest


def write_zip_package(out: Path, files: Files, manifest: dict, *, on_progress: Progress = None) -> str:
    """ZIP of the given files plus manifest.json (with a 'files' list) and SHA256SUMS; returns the package sha256."""
    if reserved := [f.arcname for f in files if getattr(f, 'arcname', None) in RESERVED]:
        raise Invalid(f'{reserved[0]} is written by the exporter and cannot be supplied.', code='package_arcname')
    if not isinstance(manifest, dict):
        raise Invalid('A ZIP package needs a manifest object.', code='package_manifest')
    return _write_package(Path(out), list(files), manifest, on_progress)


def comic_info_xml(info: ComicInfo, page_count: int) -> bytes:
    """ComicRack ComicInfo.xml (schema element order), escaped by ElementTree, control characters dropped."""
    if info.page_sizes and len(info.page_sizes) != page_count:
        raise Invalid(f'ComicInfo has {len(info.page_sizes)} page sizes for {page_count} pages.', code='comic_info')
    xsd, xsi = 'http://www.w3.org/2001/XMLSchema', 'http://www.w3.org/2001/XMLSchema-instance'
    root = ET.Element('ComicInfo', {'xmlns:xsd': xsd, 'xmlns:xsi': xsi})
    values = [('Title', info.title), ('Series', info.series), ('Number', info.number), ('Summary', info.summary)]
    for tag, value in [*values, ('Writer', info.writer), ('PageCount', page_count)]:
        if text := _XML_BAD.sub('', '' if value is None else str(value)):
            ET.SubElement(root, tag).text = text
    pages = ET.SubElement(root, 'Pages')
    for i in range(page_count):
        attrs = {'Image': str(i)} | ({'Type': 'FrontCover'} if i == 0 else {})
        if info.page_sizes:
            attrs |= {'ImageWidth': str(int(info.page_sizes[i][0])), 'ImageHeight': str(int(info.page_sizes[i][1]))}
        ET.SubElement(pages, 'Page', attrs)
    ET.indent(root)
    return ET.tostring(root, encoding='utf-8', xml_declaration=True) + b'\n'


def _image_size(f: PackageFile) -> tuple[int, int] | None:
    """Read only the image header for its size; unknown sizes are simply left out of ComicInfo."""
    try:
        with Image.open(f.path if f.data is None else io.BytesIO(f.data)) as im:
            return im.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def write_cbz(
    out: Path, pages: Files, comic_info: ComicInfo, *, manifest: dict | None = None, on_progress: Progress = None
) -> str:
    """CBZ: pages stored as-is, renamed 001.png… in reading order, ComicInfo.xml, optional manifest + SHA256SUMS."""
    if not pages:
        raise Invalid('A CBZ needs at least one page.', code='package_empty')
    for i, page in enumerate(pages, 1):
        if not isinstance(page, PackageFile) or Path(page.arcname).suffix.lower() not in PAGE_EXTS:
            raise Invalid(f'CBZ page {i} must be a PNG, JPEG, WebP or GIF PackageFile.', code='package_page_format')
    width = max(3, len(str(len(pages))))
    renamed = [replace(p, arcname=f'{i:0{width}d}{Path(p.arcname).suffix.lower()}') for i, p in enumerate(pages, 1)]
    if not comic_info.page_sizes and all(sizes := [_image_size(p) for p in renamed]):
        comic_info = replace(comic_info, page_sizes=tuple(sizes))
    xml = PackageFile('ComicInfo.xml', data=comic_info_xml(comic_info, len(renamed)))
    return _write_package(Path(out), [*renamed, xml], manifest, on_progress)


def write_pdf(out: Path, pages: Sequence[Image.Image | Path], *, dpi: int) -> str:
    """One PDF page per comic page at the DPI (fixed dates, so deterministic); writes '<name>.sha256' beside it."""
    if not pages:
        raise Invalid('A PDF needs at least one page.', code='package_empty')
    if type(dpi) is not int or not DPI_MIN <= dpi <= DPI_MAX:
        raise Invalid(f'DPI must be a whole number from {DPI_MIN} to {DPI_MAX}.', code='page_dpi')
    buf = io.BytesIO()
    try:
        with ExitStack() as stack:
            opened = [p if isinstance(p, Image.Image) else stack.enter_context(Image.open(p)) for p in pages]
            images = [  # Pillow's PDF writer wants RGB or L: transparency is flattened onto white paper
                im
                if im.mode in ('RGB', 'L')
                else Image.alpha_composite(Image.new('RGBA', im.size, 'white'), im.convert('RGBA')).convert('RGB')
                for im in opened
            ]
            images[0].save(buf, 'PDF', append_images=images[1:], resolution=float(dpi), **PDF_OPTIONS)
    except FileNotFoundError as e:
        name = Path(e.filename or '?').name
        raise NotFound(f'A PDF page file is missing: {name}.', code='package_source_missing') from e
    except (OSError, ValueError) as e:
        raise Invalid(f'A PDF page could not be read ({e}).', code='package_page_format') from e
    digest, out = sha256_bytes(buf.getvalue()), Path(out)
    atomic_write(out, buf.getvalue())
    atomic_write_text(out.with_name(out.name + '.sha256'), f'{digest}  {out.name}\n')
    log.info('wrote PDF %s (%d pages at %d dpi)', out.name, len(pages), dpi)
    return digest


def _digest(zf: zipfile.ZipFile, info: zipfile.ZipInfo, pool: ThreadPoolExecutor) -> tuple[str, int]:
    """sha256 and size of one member; ('', -1) when it cannot be read back (bad CRC, broken compression)."""
    try:
        with zf.open(info) as src:
            return _pump(src, None, pool)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error):
        return '', -1


def verify_package(path: Path) -> VerifyResult:
    """Re-hash every member of a ZIP/CBZ against SHA256SUMS and manifest.json; a PDF against its sidecar."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f'{path.name} does not exist.', code='package_missing')
    if path.suffix.lower() == '.pdf':  # no inner checksums: the '<name>.sha256' sidecar is the reference
        sidecar = path.with_name(path.name + '.sha256')
        if not sidecar.is_file():
            return VerifyResult(False, 0, [], [sidecar.name], [])
        ok = sha256_file(path) == (sidecar.read_text('utf-8', 'replace').split() or [''])[0].lower()
        return VerifyResult(ok, 1, [] if ok else [path.name], [], [])
    actual, mismatches = {}, []
    try:
        with zipfile.ZipFile(path) as zf, ThreadPoolExecutor(1, thread_name_prefix='kroma-sha256') as pool:
            for info in (i for i in zf.infolist() if not i.is_dir()):
                if info.filename in actual:
                    mismatches.append(f'{info.filename} (duplicate entry)')
                actual[info.filename] = _digest(zf, info, pool)
            readable = [n for n in ('SHA256SUMS', 'manifest.json') if actual.get(n, ('', -1))[1] >= 0]
            texts = {n: zf.read(n).decode('utf-8', 'replace') for n in readable}
    except (zipfile.BadZipFile, OSError, zlib.error) as e:
        raise Invalid(f'{path.name} is not a readable ZIP/CBZ package.', code='package_unreadable') from e
    lines = texts.get('SHA256SUMS', '').splitlines()
    sums = {m[2]: m[1].lower() for line in lines if (m := _SUMS_LINE.fullmatch(line))}
    if any(line.strip() and not _SUMS_LINE.fullmatch(line) for line in lines):
        mismatches.append('SHA256SUMS')
    expected = [(name, digest, None) for name, digest in sums.items()]
    try:
        entries = json.loads(texts['manifest.json'])['files'] if 'manifest.json' in texts else []
        expected += [(str(e['arcname']), str(e['sha256']).lower(), e.get('size')) for e in entries]
    except (ValueError, TypeError, KeyError, AttributeError):
        mismatches.append('manifest.json')
    missing = [] if 'SHA256SUMS' in actual else ['SHA256SUMS']
    for name, digest, size in expected:
        got = actual.get(name)
        bucket = missing if got is None else mismatches if got[0] != digest or size not in (None, got[1]) else None
        if bucket is not None and str(name) not in bucket:
            bucket.append(str(name))
    extra = [n for n in actual if n not in sums and n != 'SHA256SUMS']
    result = VerifyResult(not (mismatches or missing or extra), len(actual), mismatches, missing, extra)
    log.info('verified %s: ok=%s checked=%d', path.name, result.ok, result.checked)
    return result
