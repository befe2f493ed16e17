"""File primitives every writer uses: atomic writes, SHA-256, image validation by content, cached thumbnails."""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from services.errors import Invalid, StorageError

try:  # ISA-L inflates a generated panel's pixel stream in less than half zlib's time (the check every image gets)
    from isal import isal_zlib as inflater
except ImportError:  # pragma: no cover - the dependency is declared; plain zlib gives the same answers, slower
    inflater = zlib
INFLATE_ERRORS = (zlib.error, inflater.error)

ASSETS_DIR = Path(__file__).resolve().parents[1] / 'assets'  # static files: prompts, fonts, catalogues
MAX_PIXELS = 40_000_000
MAX_BYTES = 50 * 1024 * 1024
ALLOWED_FORMATS = {'PNG': 'png', 'JPEG': 'jpg', 'WEBP': 'webp'}
THUMB_SIZE = 320


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise StorageError(f'Could not write {path.name}: {e.strerror or e}') from e


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, text.encode('utf-8'))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ImageInfo:
    """What validation learned about an image, so callers never open it twice."""

    format: str
    ext: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    mode: str


def validate_image(
    data: bytes, *, name: str = 'file', max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES
) -> ImageInfo:
    """Check an upload by its bytes, not its name: real PNG/JPEG/WebP, within the pixel and size limits."""
    if not data:
        raise Invalid(f'{name}: the file is empty.', code='image_empty')
    if len(data) > max_bytes:
        raise Invalid(
            f'{name}: {len(data) / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit.', code='image_too_large'
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, width, height, mode = im.format or '', im.width, im.height, im.mode
                if width * height > max_pixels:
                    raise Invalid(
                        f'{name}: {width}×{height} is {width * height / 1e6:.0f} megapixels, over the '
                        f'{max_pixels / 1e6:.0f} megapixel limit.',
                        code='image_too_many_pixels',
                    )
                if fmt not in ALLOWED_FORMATS:
                    raise Invalid(
                        f'{name}: {fmt or "this"} format is not accepted; use PNG, JPEG or WebP.', code='image_format'
                    )
                im.verify()  # for a PNG: every chunk's CRC, up to IEND
            if fmt != 'PNG' or not _png_stream_complete(data):
                _decode_all(data, name)
    except Image.DecompressionBombError as e:
        pixels = re.search(r'\((\d+) pixels\)', str(e))
        size = f' ({int(pixels.group(1)) / 1e6:.0f} megapixels)' if pixels else ''
        raise Invalid(
            f'{name}: the image{size} is over the {max_pixels / 1e6:.0f} megapixel limit.', code='image_too_many_pixels'
        ) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise Invalid(f'{name}: not a readable PNG, JPEG or WebP image.', code='image_unreadable') from e
    return ImageInfo(fmt, ALLOWED_FORMATS[fmt], width, height, len(data), sha256_bytes(data), mode)


PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}  # colour type -> bit depths
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
PNG_PIECE = 1 << 18


def _png_stream_complete(data: bytes) -> bool:
    """True for a plain PNG (not interlaced) whose CRCs verify() checked and whose pixel stream inflates to exactly
    its rows, each with a valid filter type: every way its decoding can fail, at half the CPU of unfiltering every
    pixel (a 1536×1024 image per provider call). Any other file (interlaced, odd, or damaged) is decoded in full."""
    pos, stream, size, expected, row_bytes, palette = 8, inflater.decompressobj(), 0, 0, 0, False
    filters = bytearray()
    try:
        while pos + 8 <= len(data):
            length, kind = struct.unpack('>I4s', data[pos : pos + 8])
            body = data[pos + 8 : pos + 8 + length]
            if kind == b'IHDR':
                width, height, depth, colour, _, _, interlace = struct.unpack('>IIBBBBB', body[:13])
                if interlace or depth not in PNG_DEPTHS.get(colour, ()):
                    return False
                row_bytes = 1 + (width * depth * PNG_CHANNELS[colour] + 7) // 8
                expected, palette = height * row_bytes, colour != 3
            elif kind == b'PLTE':
                palette = True
            elif kind == b'IDAT':
                if not row_bytes or not palette:
                    return False
                for i in range(0, len(body), PNG_PIECE):
                    piece = body[i : i + PNG_PIECE]
                    while piece:  # at most PNG_PIECE of pixels in memory at once, however well they compress
                        raw = stream.decompress(piece, min(expected - size + 1, PNG_PIECE))
                        filters += raw[(-size) % row_bytes :: row_bytes]
                        size += len(raw)
                        if size > expected:
                            return False
                        piece = stream.unconsumed_tail
            elif kind == b'IEND':
                break
            pos += 12 + length
    except (struct.error, *INFLATE_ERRORS):
        return False
    return bool(row_bytes) and stream.eof and size == expected and max(filters, default=0) <= 4


def _decode_all(data: bytes, name: str) -> None:
    """Decode every pixel: a well-formed file with corrupt or truncated data fails here, not in a thumbnail later."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as e:
        raise Invalid(f'{name}: the image data is damaged or cut short.', code='image_damaged') from e


def make_thumbnail(source: Path, target: Path, size: int = THUMB_SIZE) -> Path:
    """Make a WebP thumbnail once; an existing one is reused (thumbnails are keyed by the source's hash)."""
    if target.exists():
        return target
    with Image.open(source) as im:
        im.draft('RGB', (size * 2, size * 2))
        im = im.convert('RGBA') if im.mode in ('RGBA', 'LA', 'P') else im.convert('RGB')
        im.thumbnail((size, size), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, 'WEBP', quality=80, method=4)
    atomic_write(target, buf.getvalue())
    return target


def safe_child(root: Path, *parts: str) -> Path:
    """Join parts under root and refuse anything that would escape it (.., absolute parts, symlinks out)."""
    candidate = root.joinpath(*parts).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise Invalid('That path would leave its folder.', code='path_escape')
    return candidate
