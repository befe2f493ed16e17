"""The utility lab (U01): one-off image operations with no project, in a scratch area that is swept on a schedule."""

from __future__ import annotations

import io
import logging
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from services.errors import Invalid, NotFound, PolicyRefused
from services.files import atomic_write, safe_child, validate_image
from services.postprocess.chain import ChainStep, run_chain, to_png_bytes
from services.postprocess.colour import builtin_profiles
from services.providers.base import GenerationRequest, InputImage, ProviderConfig
from services.providers.registry import build_provider

log = logging.getLogger(__name__)

SESSION_RE = re.compile(r'^[A-Za-z0-9_-]{8,64}$')
NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$')
OPS = ('remove-bg', 'upscale', 'recolor')
OFFLINE = ProviderConfig(kind='local', name='Offline renderer', model='kroma-local-v1')


@dataclass(frozen=True)
class UtilityResult:
    """A finished PNG and what made it, so the lab can preview, describe and download it."""

    png: bytes
    op: str
    method: str
    width: int
    height: int
    has_alpha: bool
    ms: float


class ScratchArea:
    """Files under <data dir>/scratch/<session id>/, written atomically; never inside any project."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / 'scratch'

    @staticmethod
    def new_session() -> str:
        return uuid.uuid4().hex

    def session_dir(self, session_id: str) -> Path:
        if not SESSION_RE.match(session_id or ''):
            raise Invalid('That scratch session id is not valid.', code='scratch_session')
        return safe_child(self.root, session_id)

    def save(self, session_id: str, name: str, data: bytes) -> Path:
        """Store bytes under a cleaned name; a later file of the same name replaces the earlier one."""
        target = safe_child(self.session_dir(session_id), clean_name(name))
        atomic_write(target, data)
        return target

    def path(self, session_id: str, name: str) -> Path:
        """The file for a download or preview route; names are checked so no request leaves its session folder."""
        if not NAME_RE.match(name or ''):
            raise NotFound('No such scratch file.')
        target = safe_child(self.session_dir(session_id), name)
        if not target.is_file():
            raise NotFound('No such scratch file (scratch files are cleared after a while).')
        return target

    def clear_older_than(self, hours: float, *, now: float | None = None) -> int:
        """Remove session folders untouched for `hours`; returns how many went. For the scheduled cleanup job."""
        if not self.root.is_dir():
            return 0
        cutoff = (now if now is not None else time.time()) - hours * 3600
        removed = 0
        for folder in (f for f in self.root.iterdir() if f.is_dir()):
            newest = max([p.stat().st_mtime for p in folder.rglob('*')] + [folder.stat().st_mtime])
            if newest < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        if removed:
            log.info('scratch cleanup: %d session folder(s) older than %g h removed', removed, hours)
        return removed


def clean_name(name: str) -> str:
    """A plain file name that the download route accepts: no folders, no odd characters, at most 120 long."""
    clean = re.sub(r'[^A-Za-z0-9._-]+', '_', Path(name or '').name)[-120:]
    clean = re.sub(r'^[^A-Za-z0-9]+', '', clean)
    return clean if NAME_RE.match(clean) else 'image'


def open_image(data: bytes, name: str = 'image') -> Image.Image:
    """Check the upload by content (type, pixels, size) before any work; a text file is refused in one line."""
    validate_image(data, name=name)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.copy()


def apply_utility(
    data: bytes, op: str, *, scale: int = 2, profile: str = 'neutral', feather: int = 3, name: str = 'image'
) -> UtilityResult:
    """Run one operation on uploaded bytes; blocking (Pillow/OpenCV), so callers run it in a worker thread."""
    if op not in OPS:
        raise Invalid(f'Unknown utility {op!r}; use {", ".join(OPS)}.', code='invalid_op')
    profiles = builtin_profiles()
    if op == 'recolor' and profile not in profiles:
        raise Invalid(f'Unknown colour profile {profile!r}; available: {", ".join(sorted(profiles))}.')
    if op == 'upscale' and scale not in (2, 4):
        raise Invalid(f'Upscale factor must be 2 or 4, got {scale}.', code='invalid_scale')
    image = open_image(data, name)
    step = {
        'remove-bg': ChainStep('bg', {'method': 'grabcut', 'feather_px': feather}),
        'upscale': ChainStep('upscale', {'scale': scale, 'method': 'auto'}),
        'recolor': ChainStep('color', {'profile': profile}),
    }[op]
    started = time.perf_counter()
    (res,) = run_chain(image, [step])
    ms = round((time.perf_counter() - started) * 1000, 1)
    out = res.image
    has_alpha = out.mode in ('RGBA', 'LA')
    log.info('utility %s on %dx%d with %s in %.0f ms', op, image.width, image.height, res.method, ms)
    return UtilityResult(to_png_bytes(out), op, res.method, out.width, out.height, has_alpha, ms)


async def generate_once(
    config: ProviderConfig,
    prompt: str,
    *,
    size: tuple[int, int] = (1024, 1024),
    seed: int = 0,
    image: bytes | None = None,
    confirm_spend: bool = False,
) -> tuple[bytes, float]:
    """One image from one provider, outside any project; a paid provider needs the spend confirmed first."""
    if not prompt.strip():
        raise Invalid('Write a prompt first.', code='prompt_required')
    if image is not None:
        validate_image(image, name='scene')
    provider = build_provider(config)
    inputs = (InputImage('scene', image, name='scene.png'),) if image else ()
    request = GenerationRequest(prompt=prompt.strip(), inputs=inputs, size=size, n=1, seed=seed)
    cost = provider.estimate_cost(request)
    if not provider.is_offline and not confirm_spend:
        raise PolicyRefused(f'{config.name or config.kind} is paid (about ${cost:.2f}); confirm the spend first.')
    (first, *_) = await provider.generate(request)
    log.info('utility generation with %s (%s): %d bytes', config.kind, config.model, len(first.data))
    return first.data, cost
