"""The offline renderer on real pixels: determinism, seed variety, stage effects and detectable faces."""

from __future__ import annotations

import asyncio
import io

import cv2
import dlib
import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image, ImageOps
from skimage import data as skdata

from services.errors import Invalid
from services.files import sha256_bytes
from services.providers.base import GenerationRequest, InputImage, ProviderConfig
from services.providers.registry import build_provider

SMALL = (512, 768)


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, 'PNG')
    return buf.getvalue()


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert('RGB')).astype(np.float32)


def luma(data: bytes) -> np.ndarray:
    return cv2.cvtColor(pixels(data).astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)


def image_input(role: str, data: bytes, name: str = '') -> InputImage:
    return InputImage(role=role, data=data, name=name, sha256=sha256_bytes(data))


@pytest.fixture(scope='module')
def scene() -> InputImage:
    return image_input('scene', png(skdata.coffee()), 'coffee.png')


@pytest.fixture(scope='module')
def style() -> InputImage:
    return image_input('style', png(skdata.chelsea()), 'chelsea.png')


@pytest.fixture(scope='module')
def faces() -> list[InputImage]:
    with open(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), 'rb') as fh:
        grace = fh.read()
    return [image_input('character', grace, 'Grace'), image_input('character', png(skdata.astronaut()), 'Eileen')]


@pytest.fixture
def provider():
    return build_provider(ProviderConfig(kind='local', name='offline'))


async def render(provider, request: GenerationRequest) -> list[bytes]:
    return [img.data for img in await provider.generate(request)]


async def test_same_request_gives_identical_png_bytes(provider, scene, style) -> None:
    req = GenerationRequest('a cafe table', (scene, style), size=SMALL, seed=7, params={'palette': ['#102030']})
    first, second = await render(provider, req), await render(provider, req)
    assert first == second
    assert first[0][:8] == b'\x89PNG\r\n\x1a\n'
    assert b'tIME' not in first[0] and b'tEXt' not in first[0]
    with Image.open(io.BytesIO(first[0])) as im:
        assert im.size == SMALL


async def test_different_seeds_give_visibly_different_candidates(provider, scene, style) -> None:
    imgs = await render(provider, GenerationRequest('a cafe table', (scene, style), size=SMALL, seed=1, n=3))
    arrays = [pixels(b) for b in imgs]
    diffs = [np.abs(arrays[i] - arrays[j]).mean() for i, j in ((0, 1), (0, 2), (1, 2))]
    assert min(diffs) > 6.0, diffs  # out of 255: clearly visible
    # the composition stays recognisable: each candidate still correlates with the scene it came from
    base = cv2.cvtColor(np.asarray(ImageOps.fit(Image.fromarray(skdata.coffee()), SMALL)), cv2.COLOR_RGB2GRAY)
    for b in imgs:
        assert np.corrcoef(base.astype(np.float32).ravel(), luma(b).ravel())[0, 1] > 0.5


async def test_n_images_use_consecutive_seeds(provider, scene) -> None:
    batch = await provider.generate(GenerationRequest('x', (scene,), size=(256, 384), seed=40, n=2))
    assert [img.seed for img in batch] == [40, 41]
    single = await render(provider, GenerationRequest('x', (scene,), size=(256, 384), seed=41))
    assert batch[1].data == single[0]


async def test_style_reference_pulls_colour_toward_it(provider, scene) -> None:
    blue = np.zeros((200, 200, 3), np.uint8)
    blue[..., 2], blue[..., 1] = 200, 60
    plain = await render(provider, GenerationRequest('x', (scene,), size=SMALL, seed=3))
    styled = await render(
        provider, GenerationRequest('x', (scene, image_input('style', png(blue))), size=SMALL, seed=3)
    )
    b_minus_r = [pixels(d)[..., 2].mean() - pixels(d)[..., 0].mean() for d in (plain[0], styled[0])]
    assert b_minus_r[1] > b_minus_r[0] + 30


async def test_palette_param_limits_colours_toward_it(provider, scene) -> None:
    req = GenerationRequest('x', (scene,), size=SMALL, seed=2, params={'palette': ['#1b2a49', '#e94f37', '#f6f7eb']})
    out = pixels((await render(provider, req))[0])
    palette = np.array([[0x1B, 0x2A, 0x49], [0xE9, 0x4F, 0x37], [0xF6, 0xF7, 0xEB]], np.float32)
    free = pixels((await render(provider, GenerationRequest('x', (scene,), size=SMALL, seed=2)))[0])

    def dist(img: np.ndarray) -> float:
        return float(np.min(np.linalg.norm(img.reshape(-1, 1, 3) - palette[None], axis=2), axis=1).mean())

    assert dist(out) < dist(free)


async def test_night_is_darker_than_day_and_dusk_between(provider, scene) -> None:
    means = {}
    for t in ('day', 'dusk', 'night'):
        req = GenerationRequest('x', (scene,), size=SMALL, seed=5, stage='time', params={'time': t})
        means[t] = luma((await render(provider, req))[0]).mean()
    assert means['night'] < means['dusk'] < means['day']
    assert means['night'] < 0.6 * means['day']


async def test_fog_lowers_contrast_and_rain_snow_change_the_scene(provider, scene) -> None:
    out = {}
    for w in ('clear', 'fog', 'rain', 'snow'):
        req = GenerationRequest('x', (scene,), size=SMALL, seed=9, stage='weather', params={'weather': w})
        out[w] = (await render(provider, req))[0]
    assert luma(out['fog']).std() < 0.8 * luma(out['clear']).std()
    for w in ('rain', 'snow'):
        assert np.abs(pixels(out[w]) - pixels(out['clear'])).mean() > 5


async def test_without_scene_a_procedural_scene_is_drawn_from_the_prompt(provider) -> None:
    a = await render(provider, GenerationRequest('a harbour at noon', size=(384, 576), seed=1))
    b = await render(provider, GenerationRequest('a harbour at noon', size=(384, 576), seed=1))
    c = await render(provider, GenerationRequest('a mountain pass', size=(384, 576), seed=1))
    assert a == b and a != c
    assert luma(a[0]).std() > 20


async def test_character_stage_composites_faces_dlib_can_find(provider, scene, faces) -> None:
    detector = dlib.get_frontal_face_detector()
    req = GenerationRequest(
        'Grace and Eileen at the cafe', (scene, *faces), size=(1024, 1536), seed=3, stage='character'
    )
    out = pixels((await render(provider, req))[0]).astype(np.uint8)
    found = detector(out, 0)
    assert len(found) == 2, f'found {len(found)} faces'
    assert min(d.width() for d in found) >= 100
    # placement follows the seed
    other = pixels(
        (await render(provider, GenerationRequest('x', (scene, faces[0]), size=SMALL, seed=4, stage='character')))[0]
    )
    again = pixels(
        (await render(provider, GenerationRequest('x', (scene, faces[0]), size=SMALL, seed=5, stage='character')))[0]
    )
    assert np.abs(other - again).mean() > 3


async def test_generate_runs_off_the_event_loop(provider, scene) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await provider.generate(GenerationRequest('x', (scene,), size=SMALL, seed=1))
    task.cancel()
    assert ticks >= 3


async def test_invalid_requests_are_refused_with_the_rule(provider, scene) -> None:
    with pytest.raises(Invalid, match='weather'):
        await provider.generate(
            GenerationRequest('x', (scene,), size=SMALL, stage='weather', params={'weather': 'hail'})
        )
    with pytest.raises(Invalid, match='stage'):
        await provider.generate(GenerationRequest('x', (scene,), stage='lighting'))
    with pytest.raises(Invalid, match='readable'):
        await provider.generate(GenerationRequest('x', (image_input('scene', b'not an image'),), size=SMALL))


async def test_health_and_cost(provider, scene) -> None:
    result = await provider.health()
    assert result.ok and result.code == 'ok'
    assert result.message == 'Offline renderer ready (image processing, not an AI model)'
    assert provider.estimate_cost(GenerationRequest('x', (scene,), n=4)) == 0.0
    assert provider.is_offline and provider.kind == 'local'
