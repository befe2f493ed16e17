"""Offline upscaling: Anime4K's ACNet (line-art aware, weights ship inside pyanime4k) or Pillow Lanczos."""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
from PIL import Image

from services.errors import Invalid
from services.files import MAX_PIXELS

log = logging.getLogger(__name__)

METHODS = ('auto', 'acnet', 'lanczos')
SCALES = (2, 4)
ACNET_MODEL = 'acnet-gan'  # pyanime4k 3.x: acnet-gan (detail), acnet-hdn0..3 (denoise levels), arnet-hdn
ACNET_METHOD = f'anime4k-{ACNET_MODEL}'
LANCZOS_METHOD = 'lanczos'


def upscale(image: Image.Image, scale: int = 2, *, method: str = 'auto') -> tuple[Image.Image, str]:
    """Enlarge by 2 or 4 and say which method did it, so lineage records what really ran; alpha is kept."""
    if scale not in SCALES:
        raise Invalid(f'Upscale factor must be 2 or 4, got {scale}.', code='invalid_scale')
    if method not in METHODS:
        raise Invalid(f'Upscale method must be one of {", ".join(METHODS)}, got {method!r}.', code='invalid_method')
    if image.width * image.height * scale * scale > MAX_PIXELS:
        raise Invalid(
            f'{image.width}×{image.height} at ×{scale} would be {image.width * scale}×{image.height * scale}, '
            f'over the {MAX_PIXELS / 1e6:.0f} megapixel limit.',
            code='image_too_many_pixels',
        )
    use_acnet = method == 'acnet' or (method == 'auto' and acnet_available()[0])
    if method == 'acnet' and not acnet_available()[0]:
        raise Invalid(acnet_available()[1], code='upscaler_unavailable')
    colour, alpha = _split(image)
    size = (image.width * scale, image.height * scale)
    used = LANCZOS_METHOD
    if use_acnet:
        try:
            colour, used = _acnet(colour, scale), ACNET_METHOD
        except (RuntimeError, ValueError, TypeError) as e:
            if method == 'acnet':
                raise Invalid(f'ACNet could not upscale this image: {e}', code='upscaler_failed') from e
            log.warning('ACNet failed (%s); falling back to Lanczos', e)
    if used == LANCZOS_METHOD:
        colour = colour.resize(size, Image.Resampling.LANCZOS)
    if alpha is not None:
        colour.putalpha(alpha.resize(size, Image.Resampling.LANCZOS))
    log.info('upscaled %dx%d ×%d with %s', image.width, image.height, scale, used)
    return colour, used


@lru_cache(maxsize=1)
def acnet_available() -> tuple[bool, str]:
    """Check once that pyanime4k loads and really runs on this CPU, so 'auto' never fails half-way."""
    try:
        from pyanime4k import pyac
    except ImportError as e:
        return False, f"pyanime4k is not importable ({e}); install it with: pip install 'pyanime4k>=3'."
    try:
        processor = pyac.core.Processor('cpu', 0, ACNET_MODEL)
        ok = bool(processor.ok()) and processor(np.zeros((4, 4, 3), np.uint8), 2.0).shape == (8, 8, 3)
    except (RuntimeError, ValueError, TypeError) as e:
        return False, f'pyanime4k is installed but ACNet could not run here: {e}'
    if not ok:
        return False, f'pyanime4k is installed but its CPU processor reports: {processor.error()}'
    return True, f'ACNet ({ACNET_MODEL}) on {processor.name()}'


def _split(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Separate colour from transparency: ACNet only takes colour, and alpha must not be sharpened or lost."""
    has_alpha = image.mode in ('RGBA', 'LA', 'PA') or 'transparency' in image.info
    if image.mode in ('L', 'LA'):
        colour = image.getchannel('L')
    else:
        colour = image.convert('RGBA' if has_alpha else 'RGB').convert('RGB')
    alpha = image.convert('RGBA').getchannel('A') if has_alpha else None
    return colour, alpha


def _acnet(colour: Image.Image, scale: int) -> Image.Image:
    """ACNet is a 2× network, so ×4 is two passes; a fresh processor per call keeps threads independent."""
    from pyanime4k import pyac

    processor = pyac.core.Processor('cpu', 0, ACNET_MODEL)
    arr = np.ascontiguousarray(np.asarray(colour))
    for _ in range(scale // 2):
        arr = processor(arr, 2.0)
    return Image.fromarray(np.ascontiguousarray(arr))
