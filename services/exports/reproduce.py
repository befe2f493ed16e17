"""Reproduce an export from its package alone: re-render local-provider images and pages, compare every hash."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from services.errors import Invalid, KromaError, NotFound
from services.exports.exporter import encode_png
from services.files import sha256_bytes
from services.layout.render import PageSpec, PanelSpec, render_page
from services.postprocess.chain import ChainStep, run_chain, to_png_bytes
from services.postprocess.colour import profile_from_dict
from services.providers.base import GenerationRequest, InputImage, Provider, ProviderConfig
from services.providers.registry import build_provider

log = logging.getLogger(__name__)

# Post-process methods that run offline and deterministically; remote services and optional models are skipped.
REDERIVABLE = {'bg': {'grabcut'}, 'upscale': {'lanczos'}, 'color': {'pil-enhance'}}


@dataclass(frozen=True)
class ReproduceLine:
    """One re-made file: identical, different (the hashes differ) or skipped (with the reason)."""

    name: str
    status: str
    expected: str = ''
    actual: str = ''
    reason: str = ''


def _line(name: str, expected: str, data: bytes) -> ReproduceLine:
    actual = sha256_bytes(data)
    return ReproduceLine(name, 'identical' if actual == expected else 'different', expected, actual)


def read_manifest(zf: zipfile.ZipFile, name: str) -> dict:
    """The package's manifest.json, or a clear refusal (a PDF or a foreign zip cannot be reproduced)."""
    try:
        return json.loads(zf.read('manifest.json'))
    except KeyError as e:
        raise Invalid(f'{name} has no manifest.json; reproduce needs the ZIP export.', code='no_manifest') from e
    except ValueError as e:
        raise Invalid(f'{name}: manifest.json is not valid JSON.', code='bad_manifest') from e


async def reproduce_package(path: Path, *, provider: Provider | None = None) -> list[ReproduceLine]:
    """Re-render each local-provider image from its recorded request and inputs, then every page from its panels."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f'{path.name} does not exist.', code='package_missing')
    if path.suffix.lower() == '.pdf':
        raise Invalid(
            f'{path.name} is a PDF; reproduce needs the ZIP export (manifest and inputs).', code='no_manifest'
        )
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise Invalid(f'{path.name} is not a readable ZIP package.', code='package_unreadable') from e
    with zf:
        manifest = read_manifest(zf, path.name)
        members = set(zf.namelist())
        provider = provider or build_provider(ProviderConfig(kind='local', name='Offline renderer'))
        lines: list[ReproduceLine] = []
        for entry in manifest.get('images') or ():
            lines += await _image(zf, members, entry, provider)
        lines += await asyncio.to_thread(_pages, zf, members, manifest)
    log.info('reproduced %s: %d lines', path.name, len(lines))
    return lines


async def _image(zf: zipfile.ZipFile, members: set[str], entry: dict, provider: Provider) -> list[ReproduceLine]:
    name, gen = entry.get('image') or f'asset {entry.get("asset_id", "?")}', entry.get('generation')
    if not gen:
        return [ReproduceLine(name, 'skipped', entry.get('sha256', ''), reason='not generated (uploaded)')]
    if gen.get('provider') != 'local':
        reason = f'made by {gen.get("provider") or "an unknown provider"}; only the local renderer runs offline'
        return [ReproduceLine(name, 'skipped', entry.get('sha256', ''), reason=reason)]
    inputs = []
    for i in gen.get('inputs') or ():
        if i.get('arcname') not in members:
            reason = f'input {i.get("sha256", "?")[:12]} ({i.get("role")}) is not in the package'
            return [ReproduceLine(name, 'skipped', entry.get('sha256', ''), reason=reason)]
        inputs.append(InputImage(i['role'], zf.read(i['arcname']), i.get('name', ''), i.get('sha256', '')))
    request = GenerationRequest(
        prompt=gen['prompt'],
        inputs=tuple(inputs),
        size=tuple(gen['size']),
        n=1,
        seed=gen['seed'],
        stage=gen['stage'],
        params=gen.get('stage_params') or {},
    )
    try:
        data = (await provider.generate(request))[0].data
    except KromaError as e:
        return [ReproduceLine(name, 'different', entry.get('sha256', ''), reason=e.user_message)]
    steps = entry.get('postprocess') or []
    if not steps:
        return [_line(name, entry['sha256'], data)]
    lines = [_line(f'{name} (source candidate)', gen['sha256'], data)]
    return lines + [await asyncio.to_thread(_rederive, name, entry['sha256'], data, steps)]


def _rederive(name: str, expected: str, data: bytes, steps: list[dict]) -> ReproduceLine:
    """Apply the recorded post-process steps again when every one is offline and deterministic."""
    if bad := [s for s in steps if s.get('method') not in REDERIVABLE.get(s.get('op') or '', ())]:
        reason = f'post-process {bad[0].get("op")} with {bad[0].get("method")} is not re-run offline'
        return ReproduceLine(name, 'skipped', expected, reason=reason)
    with Image.open(io.BytesIO(data)) as im:
        image = im.copy()
    try:
        for s in steps:
            params = dict(s.get('params') or {})
            profiles = {}
            if s['op'] == 'color':
                profile = profile_from_dict({**params.get('settings', {}), 'name': params.get('profile', 'custom')})
                profiles, params = {profile.name: profile}, {'profile': profile.name}
            step = ChainStep(s['op'], {**params, 'method': s['method']} if s['op'] != 'color' else params)
            image = run_chain(image, [step], profiles=profiles)[0].image
    except KromaError as e:
        return ReproduceLine(name, 'different', expected, reason=e.user_message)
    return _line(name, expected, to_png_bytes(image))


def _pages(zf: zipfile.ZipFile, members: set[str], manifest: dict) -> list[ReproduceLine]:
    """Lay out every page again from the packaged panel files and the recorded crops and balloons."""
    sums = {f['arcname']: f['sha256'] for f in manifest.get('files') or ()}
    lines = []
    with tempfile.TemporaryDirectory(prefix='kroma-reproduce-') as tmp:
        for page in manifest.get('pages') or ():
            name = page.get('image') or '?'
            panels_in = [p.get('image') in members for p in page.get('panels') or () if p.get('asset_id')]
            if name not in members or not all(panels_in):
                lines.append(ReproduceLine(name, 'skipped', reason='its panel files are not in this package'))
                continue
            panels = []
            for p in page.get('panels') or ():
                local = Path(tmp) / Path(p['image']).name if p.get('image') else None
                if local is not None and not local.exists():
                    local.write_bytes(zf.read(p['image']))
                panels.append(PanelSpec(p['slot'], local, p.get('crop') or {}, tuple(p.get('balloons') or ())))
            spec = PageSpec(page['number'], page['template'], page['size_preset'], tuple(panels), page.get('grid'))
            dpi = page.get('dpi') or manifest['dpi']
            data = encode_png(render_page(spec, dpi=dpi), dpi=dpi)
            lines.append(_line(name, sums.get(name, ''), data))
    return lines
