"""The ComfyUI adapter against a real loopback server: upload → prompt → history → view, errors and health."""

from __future__ import annotations

import asyncio
import io
import socket
import time

import pytest
from PIL import Image

from services.errors import Invalid, ProviderBadRequest, ProviderError, ProviderTimeout
from services.files import sha256_bytes
from services.providers.base import GenerationRequest, InputImage, ProviderConfig
from services.providers.registry import build_provider
from tests.fakes.comfyui_server import FakeComfyUIServer

CKPT = 'sdxl_comic.safetensors'


def image(role: str, colour: tuple[int, int, int], name: str = '') -> InputImage:
    buf = io.BytesIO()
    Image.new('RGB', (96, 64), colour).save(buf, 'PNG')
    data = buf.getvalue()
    return InputImage(role=role, data=data, name=name, sha256=sha256_bytes(data))


SCENE, STYLE = image('scene', (30, 120, 200), 'harbour.png'), image('style', (220, 180, 40), 'ink.png')


@pytest.fixture
def fake():
    with FakeComfyUIServer(checkpoints=(CKPT, 'other.safetensors'), latency_s=0.15) as server:
        yield server


def comfy(base_url: str, *, model: str = CKPT, **options):
    options.setdefault('timeout_s', 10)
    options.setdefault('max_retries', 2)
    options.setdefault('retry_base_s', 0.05)
    return build_provider(ProviderConfig(kind='comfyui', base_url=base_url, model=model, options=options))


def prompt_graphs(fake: FakeComfyUIServer) -> list[dict]:
    return [r.json['prompt'] for r in fake.requests if r.path == '/prompt' and r.status == 200]


def by_class(graph: dict, cls: str) -> dict:
    return next(node['inputs'] for node in graph.values() if node['class_type'] == cls)


async def test_round_trip_upload_prompt_history_view(fake) -> None:
    out = await comfy(fake.base_url).generate(
        GenerationRequest('ink the harbour', (SCENE, STYLE), size=(512, 768), n=2, seed=41, params={'denoise': 0.6})
    )
    paths = [r.path for r in fake.requests]
    assert paths[:3] == ['/upload/image', '/prompt', '/prompt']  # the default workflow uses only the scene
    assert '/history/' in ' '.join(paths) and paths.count('/view') == 2
    uploads = [r for r in fake.requests if r.path == '/upload/image']
    assert [u.images[0]['sha256'] for u in uploads] == [SCENE.sha256]
    assert all(u.fields == {'overwrite': 'true', 'type': 'input'} for u in uploads)
    graphs = prompt_graphs(fake)
    assert [by_class(g, 'KSampler')['seed'] for g in graphs] == [41, 42]
    g = graphs[0]
    sampler, scale = by_class(g, 'KSampler'), by_class(g, 'ImageScale')
    assert (sampler['denoise'], sampler['steps'], scale['width'], scale['height']) == (0.6, 24, 512, 768)
    assert by_class(g, 'CheckpointLoaderSimple')['ckpt_name'] == CKPT
    assert by_class(g, 'LoadImage')['image'] in fake.uploads
    assert fake.uploads[by_class(g, 'LoadImage')['image']] == SCENE.data
    texts = [n['inputs']['text'] for n in g.values() if n['class_type'] == 'CLIPTextEncode']
    assert texts[0] == 'ink the harbour'
    assert [img.seed for img in out] == [41, 42]
    for img in out:
        with Image.open(io.BytesIO(img.data)) as im:
            assert (im.format, im.size) == ('PNG', (512, 768))
        assert img.meta['prompt_id'] and img.meta['filename'].startswith('style_')


async def test_without_inputs_the_workflow_becomes_txt2img(fake) -> None:
    out = await comfy(fake.base_url).generate(GenerationRequest('a lighthouse', size=(640, 512), seed=3))
    [g] = prompt_graphs(fake)
    classes = {n['class_type'] for n in g.values()}
    assert 'EmptyLatentImage' in classes and not classes & {'LoadImage', 'ImageScale', 'VAEEncode'}
    assert by_class(g, 'KSampler')['denoise'] == 1.0
    with Image.open(io.BytesIO(out[0].data)) as im:
        assert im.size == (640, 512)


async def test_custom_workflow_option_overrides_the_template(fake) -> None:
    workflow = {
        '1': {'class_type': 'CheckpointLoaderSimple', 'inputs': {'ckpt_name': 'other.safetensors'}},
        '2': {'class_type': 'CLIPTextEncode', 'inputs': {'text': 'comic panel, {{prompt}}', 'clip': ['1', 1]}},
        '3': {'class_type': 'CLIPTextEncode', 'inputs': {'text': 'photo', 'clip': ['1', 1]}},
        '4': {'class_type': 'LoadImage', 'inputs': {'image': '{{style_image}}'}},
        '5': {'class_type': 'VAEEncode', 'inputs': {'pixels': ['4', 0], 'vae': ['1', 2]}},
        '6': {
            'class_type': 'KSampler',
            'inputs': {
                'seed': '{{seed}}',
                'steps': 8,
                'cfg': 5.0,
                'denoise': 0.4,
                'sampler_name': 'euler',
                'scheduler': 'normal',
                'model': ['1', 0],
                'positive': ['2', 0],
                'negative': ['3', 0],
                'latent_image': ['5', 0],
            },
        },
        '7': {'class_type': 'VAEDecode', 'inputs': {'samples': ['6', 0], 'vae': ['1', 2]}},
        '8': {'class_type': 'SaveImage', 'inputs': {'filename_prefix': 'custom', 'images': ['7', 0]}},
    }
    await comfy(fake.base_url, model='', workflow=workflow).generate(
        GenerationRequest('a dock', (SCENE, STYLE), seed=9, size=(512, 512))
    )
    [g] = prompt_graphs(fake)
    assert g['2']['inputs']['text'] == 'comic panel, a dock' and g['6']['inputs']['seed'] == 9
    assert fake.uploads[g['4']['inputs']['image']] == STYLE.data
    with pytest.raises(Invalid, match='character_image'):
        workflow['4']['inputs']['image'] = '{{character_image}}'
        await comfy(fake.base_url, model='', workflow=workflow).generate(GenerationRequest('x', (SCENE,)))


async def test_node_errors_become_a_readable_bad_request(fake) -> None:
    fake.node_error_next()
    with pytest.raises(ProviderBadRequest) as info:
        await comfy(fake.base_url).generate(GenerationRequest('x', (SCENE,), size=(512, 512)))
    assert info.value.code == 'unknown_model'
    assert 'CheckpointLoaderSimple (node 4): Value not in list' in info.value.user_message
    with pytest.raises(ProviderBadRequest, match='not in') as info:
        await comfy(fake.base_url, model='missing.safetensors').generate(GenerationRequest('x', (SCENE,)))
    assert info.value.code == 'unknown_model'
    assert len([r for r in fake.requests if r.path == '/prompt']) == 2  # validation errors are not retried


async def test_execution_error_in_history_is_reported(fake) -> None:
    fake.execution_error_next('CUDA out of memory. Tried to allocate 2.00 GiB')
    with pytest.raises(ProviderError, match='KSampler .*CUDA out of memory') as info:
        await comfy(fake.base_url).generate(GenerationRequest('x', (SCENE,), size=(512, 512)))
    assert info.value.code == 'execution_error'


async def test_transient_upload_failure_is_retried(fake) -> None:
    fake.fail_next(500, path_prefix='/upload/image')
    out = await comfy(fake.base_url).generate(GenerationRequest('x', (SCENE,), size=(512, 512)))
    assert len(out) == 1
    assert [r.status for r in fake.requests if r.path == '/upload/image'] == [500, 200]


async def test_a_job_that_never_finishes_times_out() -> None:
    with FakeComfyUIServer(checkpoints=(CKPT,), latency_s=30) as slow:
        started = time.monotonic()
        with pytest.raises(ProviderTimeout, match='did not finish'):
            await comfy(slow.base_url, timeout_s=0.6).generate(GenerationRequest('x', (SCENE,), size=(512, 512)))
        assert time.monotonic() - started < 2.5


async def test_one_server_runs_one_job_at_a_time(fake) -> None:
    started = time.monotonic()
    out = await comfy(fake.base_url, concurrency=3).generate(GenerationRequest('x', (SCENE,), size=(256, 256), n=3))
    assert len(out) == 3 and time.monotonic() - started >= 3 * 0.15


async def test_health_reports_version_checkpoint_and_unreachable(fake) -> None:
    ok = await comfy(fake.base_url).health()
    assert (ok.ok, ok.code) == (True, 'ok') and '0.3.68' in ok.message and CKPT in ok.message
    missing = await comfy(fake.base_url, model='flux-dev.safetensors').health()
    assert (missing.ok, missing.code) == (False, 'unknown_model') and 'other.safetensors' in missing.message
    assert "the checkpoint set for this account, 'flux-dev.safetensors', is not installed" in missing.message
    unset = await comfy(fake.base_url, model='').health()
    assert (unset.ok, unset.code) == (False, 'checkpoint_missing')
    assert 'no checkpoint is set' in unset.message and CKPT in unset.message
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    down = await comfy(f'http://127.0.0.1:{port}').health()
    assert (down.ok, down.code) == (False, 'unreachable') and 'Cannot reach host' in down.message


async def test_validation_and_cost(fake) -> None:
    with pytest.raises(Invalid, match='multiples of 8'):
        await comfy(fake.base_url).generate(GenerationRequest('x', (SCENE,), size=(500, 500)))
    with pytest.raises(Invalid, match='checkpoint'):
        await comfy(fake.base_url, model='').generate(GenerationRequest('x', (SCENE,)))
    with pytest.raises(Invalid, match='prompt is empty') as info:
        await comfy(fake.base_url).generate(GenerationRequest('  ', (SCENE,), size=(512, 512)))
    assert info.value.code == 'prompt_required'
    assert fake.requests == []
    assert comfy(fake.base_url).estimate_cost(GenerationRequest('x', n=3)) == 0.0
    assert comfy(fake.base_url, price_per_image=0.01).estimate_cost(GenerationRequest('x', n=3)) == pytest.approx(0.03)


async def test_each_distinct_input_is_uploaded_once_per_server(fake) -> None:
    provider = comfy(fake.base_url, concurrency=2)
    other_scene = image('scene', (90, 20, 20), 'dock.png')
    requests = [
        GenerationRequest(f'p{i}', (scene, STYLE), size=(256, 256), seed=i)
        for i in range(3)
        for scene in (SCENE, other_scene)
    ]
    await asyncio.gather(*(provider.generate(r) for r in requests))
    uploads = [r.images[0]['sha256'] for r in fake.requests if r.path == '/upload/image']
    assert sorted(uploads) == sorted([SCENE.sha256, other_scene.sha256])  # 6 calls, 2 distinct scenes, no style
    assert len(prompt_graphs(fake)) == 6


async def test_a_workflow_that_uses_the_style_image_uploads_only_that(fake) -> None:
    workflow = comfy(fake.base_url).template | {
        '10': {'class_type': 'LoadImage', 'inputs': {'image': '{{style_image}}'}}
    }
    await comfy(fake.base_url, workflow=workflow).generate(GenerationRequest('x', (SCENE, STYLE), size=(256, 256)))
    assert [r.images[0]['sha256'] for r in fake.requests if r.path == '/upload/image'] == [STYLE.sha256]


async def test_an_input_the_server_lost_is_uploaded_again(fake) -> None:
    provider = comfy(fake.base_url)
    await provider.generate(GenerationRequest('x', (SCENE,), size=(256, 256)))
    fake.uploads.clear()  # the server restarted with an empty input folder
    out = await provider.generate(GenerationRequest('y', (SCENE,), size=(256, 256)))
    assert len(out) == 1
    assert [r.status for r in fake.requests if r.path == '/upload/image'] == [200, 200]


@pytest.mark.parametrize('mode, path', [('drip', '/view'), ('hang', '/prompt'), ('drip', '/upload')])
async def test_every_request_ends_within_its_deadline(fake, mode: str, path: str) -> None:
    fake.stall_next(mode, path_prefix=path, byte_every_s=0.5)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match='no complete answer within 1 s'):
        await comfy(fake.base_url, timeout_s=1).generate(GenerationRequest('x', (SCENE,), size=(256, 256)))
    assert time.monotonic() - started < 3.0
