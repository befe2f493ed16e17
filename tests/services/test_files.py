"""Image validation: a plain PNG's pixel stream is checked without unfiltering every pixel, and any file that check
does not vouch for is decoded in full, so a damaged image is refused either way."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from services.errors import Invalid
from services.files import _png_stream_complete, validate_image


def png(mode: str = 'RGB', size: tuple[int, int] = (97, 61), **save) -> bytes:
    img = Image.effect_noise(size, 40).convert(mode)
    buf = io.BytesIO()
    img.save(buf, 'PNG', **save)
    return buf.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body) & 0xFFFFFFFF)


def with_pixels(data: bytes, transform) -> bytes:  # noqa: ANN001
    """The same PNG with its pixel stream replaced by transform(raw rows), recompressed with valid CRCs."""
    pos, head, idat = 8, b'', b''
    while True:
        length, kind = struct.unpack('>I4s', data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b'IDAT':
            idat += body
        elif kind == b'IEND':
            break
        else:
            head += chunk(kind, body)
        pos += 12 + length
    raw = transform(bytearray(zlib.decompress(idat)))
    return data[:8] + head + chunk(b'IDAT', zlib.compress(bytes(raw))) + chunk(b'IEND', b'')


@pytest.mark.parametrize('mode', ['RGB', 'RGBA', 'L', 'LA', 'P', 'I;16', '1'])
def test_plain_pngs_are_vouched_for_by_their_stream_and_accepted(mode: str) -> None:
    data = png(mode)
    assert _png_stream_complete(data)
    assert validate_image(data, name='ok.png').width == 97


def test_a_large_png_in_several_idat_chunks_is_vouched_for() -> None:
    data = png('RGB', (1536, 1024), compress_level=1)
    assert data.count(b'IDAT') > 1
    assert _png_stream_complete(data)


def test_an_interlaced_png_is_decoded_in_full_instead() -> None:
    data = adam7_png(Image.effect_noise((23, 17), 40).convert('RGB'))
    assert not _png_stream_complete(data)
    assert validate_image(data, name='adam7.png').size_bytes == len(data)
    with pytest.raises(Invalid, match='damaged or cut short'):  # and a damaged one is still refused
        validate_image(with_pixels(data, lambda raw: raw[: len(raw) // 2]), name='adam7.png')


ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def adam7_png(img: Image.Image) -> bytes:
    """An interlaced RGB PNG (PIL reads them but cannot write them): the seven passes, each row filter 0."""
    w, h = img.size
    px = img.load()
    raw = bytearray()
    for x0, y0, dx, dy in ADAM7:
        for y in range(y0, h, dy):
            row = [c for x in range(x0, w, dx) for c in px[x, y]]
            if row:
                raw += b'\x00' + bytes(row)
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 1)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(bytes(raw))) + chunk(b'IEND', b'')


@pytest.mark.parametrize(
    'damage',
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id='rows-missing'),
        pytest.param(lambda raw: raw + b'\x00' * 500, id='rows-extra'),
        pytest.param(lambda raw: raw[:0] + bytes([7]) + raw[1:], id='unknown-filter-type'),
    ],
)
def test_a_png_with_valid_crcs_but_a_wrong_pixel_stream_is_not_vouched_for(damage) -> None:  # noqa: ANN001
    data = with_pixels(png('RGB'), damage)
    assert not _png_stream_complete(data)


def test_a_png_whose_rows_are_cut_short_is_refused_as_damaged() -> None:
    data = with_pixels(png('RGB'), lambda raw: raw[: len(raw) // 2])
    with pytest.raises(Invalid, match='damaged or cut short'):
        validate_image(data, name='cut.png')


def test_a_png_with_an_unknown_filter_type_is_refused_as_damaged() -> None:
    data = with_pixels(png('RGB'), lambda raw: bytes([7]) + raw[1:])
    with pytest.raises(Invalid, match='damaged or cut short'):
        validate_image(data, name='filter.png')


def test_a_png_that_inflates_far_past_its_size_is_checked_in_bounded_pieces() -> None:
    """4000×3000 of one colour: 36 MB of rows from a few kilobytes, inflated a quarter megabyte at a time."""
    buf = io.BytesIO()
    Image.new('RGB', (4000, 3000), (30, 60, 90)).save(buf, 'PNG')
    data = buf.getvalue()
    assert len(data) < 200_000
    assert _png_stream_complete(data)
    assert not _png_stream_complete(with_pixels(data, lambda raw: raw[:-1]))


def test_a_png_whose_deflate_stream_is_broken_under_valid_crcs_is_refused() -> None:
    """The pixel stream's compressed bytes themselves are garbage (a broken encoder, CRCs computed over it): the
    inflater's own error is caught, whichever inflater is installed, and the file is refused as damaged."""
    good = png('RGB')
    pos, head = 8, b''
    while True:
        length, kind = struct.unpack('>I4s', good[pos : pos + 8])
        if kind == b'IDAT':
            break
        head += good[pos : pos + 12 + length]
        pos += 12 + length
    idat = bytearray(good[pos + 8 : pos + 8 + length])
    idat[2:12] = b'\xff' * 10  # just past the zlib header: an invalid deflate block type
    broken = good[:8] + head + chunk(b'IDAT', bytes(idat)) + chunk(b'IEND', b'')
    assert not _png_stream_complete(broken)
    with pytest.raises(Invalid, match='damaged or cut short'):
        validate_image(broken)
