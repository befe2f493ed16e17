"""U01 without a project: one-off operations, a scratch area that cannot be escaped, and its scheduled sweep."""

from __future__ import annotations

import asyncio
import io
import os
import time

import pytest
from PIL import Image, ImageDraw

from services.errors import Invalid, NotFound, PolicyRefused
from services.providers.base import ProviderConfig
from services.utilities.scratch import OFFLINE, ScratchArea, apply_utility, clean_name, generate_once


def portrait(size: tuple[int, int] = (240, 300)) -> bytes:
    im = Image.new('RGB', size, (230, 236, 240))
    d = ImageDraw.Draw(im)
    w, h = size
    d.ellipse((w * 0.3, h * 0.1, w * 0.7, h * 0.45), fill=(235, 190, 160), outline=(10, 10, 10), width=3)
    d.rectangle((w * 0.25, h * 0.48, w * 0.75, h), fill=(40, 70, 160))
    buf = io.BytesIO()
    im.save(buf, 'JPEG', quality=92)
    return buf.getvalue()


def test_operations_give_pngs_of_the_right_size_and_alpha() -> None:
    data = portrait()
    cut = apply_utility(data, 'remove-bg')
    with Image.open(io.BytesIO(cut.png)) as im:
        assert im.format == 'PNG' and im.mode == 'RGBA' and im.size == (240, 300)
        assert im.getpixel((2, 2))[3] == 0 and im.getpixel((120, 250))[3] == 255
    big = apply_utility(cut.png, 'upscale', scale=4)
    assert (big.width, big.height, big.has_alpha) == (960, 1200, True)
    warm = apply_utility(data, 'recolor', profile='cinematic_warm')
    assert warm.method == 'pil-enhance' and not warm.has_alpha and warm.png != data


@pytest.mark.parametrize(
    ('data', 'kwargs', 'message'),
    [
        (b'just some text, not an image', {'op': 'remove-bg'}, 'not a readable PNG, JPEG or WebP'),
        (b'', {'op': 'upscale'}, 'empty'),
        (None, {'op': 'upscale', 'scale': 3}, 'must be 2 or 4'),
        (None, {'op': 'recolor', 'profile': 'sunset'}, 'Unknown colour profile'),
        (None, {'op': 'sharpen'}, 'Unknown utility'),
    ],
)
def test_bad_input_is_refused_with_the_reason(data: bytes | None, kwargs: dict, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        apply_utility(portrait() if data is None else data, **kwargs)


def test_scratch_files_stay_in_their_session_folder(data_dir) -> None:
    area = ScratchArea(data_dir)
    sid = area.new_session()
    path = area.save(sid, '../../projects/evil name.png', b'png-bytes')
    assert path.parent == data_dir / 'scratch' / sid and path.name == 'evil_name.png'
    assert area.path(sid, 'evil_name.png').read_bytes() == b'png-bytes'
    assert clean_name('...') == 'image' and clean_name('a/b/c.PNG') == 'c.PNG'
    with pytest.raises(Invalid):
        area.session_dir('../x')
    for bad in ('../kroma.db', 'missing.png', ''):
        with pytest.raises(NotFound):
            area.path(sid, bad)
    assert not (data_dir / 'projects').exists()


def test_clear_older_than_removes_only_stale_sessions(data_dir) -> None:
    area = ScratchArea(data_dir)
    assert area.clear_older_than(24) == 0  # no scratch folder yet
    old, fresh = area.new_session(), area.new_session()
    stale = area.save(old, 'a.png', b'1')
    area.save(fresh, 'b.png', b'2')
    past = time.time() - 30 * 3600
    for p in (stale, stale.parent):
        os.utime(p, (past, past))
    assert area.clear_older_than(24) == 1
    assert not (data_dir / 'scratch' / old).exists() and (data_dir / 'scratch' / fresh / 'b.png').is_file()


def test_generate_once_offline_and_paid_needs_confirmation() -> None:
    data, cost = asyncio.run(generate_once(OFFLINE, 'a lighthouse at dusk', size=(256, 192), seed=3))
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (256, 192) and cost == 0.0
    with pytest.raises(Invalid, match='prompt'):
        asyncio.run(generate_once(OFFLINE, '   '))
    paid = ProviderConfig(kind='openai', name='My OpenAI', model='gpt-image-1', api_key='sk-test')
    with pytest.raises(PolicyRefused, match='confirm the spend'):
        asyncio.run(generate_once(paid, 'a lighthouse', size=(1024, 1024)))
