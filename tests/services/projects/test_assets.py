"""Asset store: validation by content, dedupe by hash, atomic files, cached thumbnails, paging and links."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image
from sqlmodel import select

from models.base import AssetKind, LinkRelation
from models.project import ProjectCreate
from services.errors import Invalid
from services.files import validate_image
from services.projects import assets, projects
from services.projects.assets import AssetFilter, AssetStore

pytestmark = pytest.mark.both_databases  # the same behaviour on SQLite and PostgreSQL


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', size, colour).save(buf, 'PNG')
    return buf.getvalue()


def huge_png_header(width: int, height: int) -> bytes:
    """A tiny file that claims to be enormous: a decompression bomb must be refused from its header."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (
        b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\x00' * 16)) + chunk(b'IEND', b'')
    )


def corrupt_png(size: tuple[int, int] = (64, 48)) -> bytes:
    """A well-formed PNG (right signature, chunks and CRCs) whose pixel data is garbage: only decoding finds it."""
    import struct

    good = png_bytes((200, 40, 40), size)
    pos = good.index(b'IDAT') - 4
    length = struct.unpack('>I', good[pos : pos + 4])[0]
    garbage = bytes((i * 37 + 11) % 256 for i in range(length))
    crc = struct.pack('>I', zlib.crc32(b'IDAT' + garbage) & 0xFFFFFFFF)
    return good[:pos] + struct.pack('>I', length) + b'IDAT' + garbage + crc + good[pos + 12 + length :]


def truncated_jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise(size, 60).convert('RGB').save(buf, 'JPEG', quality=90)
    return buf.getvalue()[: buf.tell() // 2]


def test_validation_refuses_each_bad_file_with_its_reason() -> None:
    with pytest.raises(Invalid, match='not a readable PNG'):
        validate_image(b'just some text pretending to be a png', name='notes.png')
    with pytest.raises(Invalid, match='megapixel'):
        validate_image(huge_png_header(20000, 20000), name='huge.png')
    with pytest.raises(Invalid, match='empty'):
        validate_image(b'', name='empty.png')
    with pytest.raises(Invalid, match='MB'):
        validate_image(png_bytes((1, 2, 3)), name='big.png', max_bytes=10)
    buf = io.BytesIO()
    Image.new('RGB', (8, 8)).save(buf, 'GIF')
    with pytest.raises(Invalid, match='GIF format is not accepted'):
        validate_image(buf.getvalue(), name='anim.gif')
    for damaged in (corrupt_png(), truncated_jpeg()):
        with pytest.raises(Invalid, match='damaged or cut short'):
            validate_image(damaged, name='damaged')
    info = validate_image(png_bytes((10, 20, 30)), name='ok.png')
    assert (info.width, info.height, info.ext) == (64, 48, 'png')


def test_batch_upload_keeps_going_and_dedupes(sessions, data_dir) -> None:
    store = AssetStore(data_dir)
    with sessions() as s:
        p = projects.create_project(s, ProjectCreate(slug='up', name='Up'), data_dir=data_dir)
        files = [(f'img{i}.png', png_bytes((i * 10, 0, 0))) for i in range(5)]
        files += [('text.png', b'hello'), ('img0-again.png', files[0][1]), ('bomb.png', huge_png_header(20000, 20000))]
        results = store.upload_many(s, p, files, kind=AssetKind.scene)
    statuses = [r.status for r in results]
    assert statuses == ['accepted'] * 5 + ['refused', 'duplicate', 'refused']
    assert 'megapixel' in results[-1].reason
    with sessions() as s:
        page = assets.list_assets(s, p.id)
    assert page.total == 5
    a = page.items[0]
    path = store.path_of(p, a)
    assert path.read_bytes() and path.name == f'{a.sha256}.png'
    thumb = store.thumb_path(p, a)
    mtime = thumb.stat().st_mtime_ns
    assert store.thumb_path(p, a).stat().st_mtime_ns == mtime  # made once, reused
    assert not list(path.parent.glob('.*.tmp'))


def test_filters_paging_and_lineage(sessions, data_dir) -> None:
    store = AssetStore(data_dir)
    with sessions() as s:
        p = projects.create_project(s, ProjectCreate(slug='gal', name='Gal'), data_dir=data_dir)
        ids = []
        for i in range(30):
            kind = AssetKind.style if i % 3 == 0 else AssetKind.scene
            a, _ = store.ingest(
                s, p, png_bytes((i, i, 200)), name=f'{i}.png', kind=kind, tags=['night'] if i < 4 else []
            )
            ids.append(a.id)
        assets.link_assets(s, p.id, ids[0], ids[1], LinkRelation.derived_from, {'op': 'upscale', 'scale': 2})
    with sessions() as s:
        assert assets.list_assets(s, p.id, AssetFilter(kind='style')).total == 10
        assert assets.list_assets(s, p.id, AssetFilter(tag='night')).total == 4
        second = assets.list_assets(s, p.id, page=1, page_size=12)
        assert len(second.items) == 12 and second.total == 30
        lin = assets.lineage(s, p.id, ids[1])
    assert lin['parents'] == [{'asset_id': ids[0], 'relation': 'derived_from', 'params': {'op': 'upscale', 'scale': 2}}]
    with sessions() as s, pytest.raises(Invalid):
        assets.link_assets(s, p.id, ids[2], ids[2], LinkRelation.derived_from)


def test_a_damaged_image_in_a_batch_leaves_nothing_behind(sessions, data_dir) -> None:
    store = AssetStore(data_dir)
    with sessions() as s:
        p = projects.create_project(s, ProjectCreate(slug='dmg', name='Damaged'), data_dir=data_dir)
    files = [('good.png', png_bytes((1, 2, 3))), ('idat.png', corrupt_png()), ('cut.jpg', truncated_jpeg())]
    with sessions() as s:
        results = store.upload_many(s, p, iter(files))
    assert [r.status for r in results] == ['accepted', 'refused', 'refused']
    with sessions() as s:
        rows = assets.list_assets(s, p.id).items
    assert [r.original_name for r in rows] == ['good.png']
    stored = [f for f in (store.root(p) / 'assets').rglob('*') if f.is_file()]
    assert len(stored) == 1


def test_a_savepoint_first_in_a_transaction_does_not_commit_it(sessions) -> None:
    """pysqlite would let the savepoint open the transaction, and its release commit it; the outer rollback wins."""
    from models.db import savepoint
    from models.project import Project

    with pytest.raises(RuntimeError), sessions() as s:
        with savepoint(s):
            s.add(Project(slug='ghost', name='Ghost'))
            s.flush()
        raise RuntimeError('the unit of work fails after the savepoint was released')
    with sessions() as s:
        assert s.exec(select(Project).where(Project.slug == 'ghost')).first() is None
