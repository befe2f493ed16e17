"""The OpenAI adapter against a real loopback server speaking the Images API wire format."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import time

import numpy as np
import pytest
from PIL import Image

from services.errors import (
    Invalid,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.files import sha256_bytes
from services.providers.base import GenerationRequest, InputImage, ProviderConfig
from services.providers.registry import build_provider
from tests.fakes.openai_server import FakeOpenAIServer

GOOD_KEY = 'sk-test-good'
BAD_KEY = 'sk-test-WRONG-0123456789abcdef'


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 96)) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', size, colour).save(buf, 'PNG')
    return buf.getvalue()


def image(role: str, colour: tuple[int, int, int], name: str = '') -> InputImage:
    data = png(colour)
    return InputImage(role=role, data=data, name=name, sha256=sha256_bytes(data))


INPUTS = (
    image('scene', (200, 40, 40), 'street.png'),
    image('style', (40, 200, 40), 'ink.png'),
    image('character', (40, 40, 200), 'Mara'),
)


@pytest.fixture
def fake():
    with FakeOpenAIServer(valid_keys=(GOOD_KEY,)) as server:
        yield server


def openai(base_url: str, *, key: str | None = GOOD_KEY, model: str = 'gpt-image-2', **options):
    options.setdefault('max_retries', 2)
    options.setdefault('timeout_s', 10)
    options.setdefault('retry_base_s', 0.05)
    return build_provider(
        ProviderConfig(kind='openai', name='acct', base_url=base_url, model=model, api_key=key, options=options)
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


async def test_edits_sends_scene_first_then_references_as_multipart(fake) -> None:
    provider = openai(fake.base_url, quality='high')
    out = await provider.generate(GenerationRequest('ink the street', INPUTS, size=(1024, 1536), n=2, seed=5))
    [rec] = fake.requests
    assert (rec.method, rec.path, rec.auth_ok) == ('POST', '/v1/images/edits', True)
    assert rec.headers['Content-Type'].startswith('multipart/form-data')
    assert rec.fields == {
        'model': 'gpt-image-2',
        'prompt': 'ink the street',
        'size': '1024x1536',
        'quality': 'high',
        'n': '2',
        'output_format': 'png',
    }
    assert [p['field'] for p in rec.images] == ['image[]'] * 3
    assert [p['sha256'] for p in rec.images] == [i.sha256 for i in INPUTS]
    assert [p['content_type'] for p in rec.images] == ['image/png'] * 3
    assert [img.seed for img in out] == [5, 6]
    for img in out:
        with Image.open(io.BytesIO(img.data)) as im:
            assert (im.format, im.size) == ('PNG', (1024, 1536))
        assert img.meta['revised_prompt'] == 'ink the street' and img.meta['model'] == 'gpt-image-2'
    # the fake fits the scene into the output, so the first input's colour dominates
    with Image.open(io.BytesIO(out[0].data)) as im:
        r, g, b = np.asarray(im.convert('RGB')).reshape(-1, 3).mean(0)
    assert r > g and r > b


async def test_input_fidelity_only_where_the_catalog_allows_it(fake) -> None:
    await openai(fake.base_url, model='gpt-image-1.5').generate(GenerationRequest('x', INPUTS[:1], size=(1024, 1024)))
    assert fake.requests[-1].fields['input_fidelity'] == 'high'
    await openai(fake.base_url, model='gpt-image-2.6-flare').generate(GenerationRequest('x', INPUTS[:1]))
    assert 'input_fidelity' not in fake.requests[-1].fields


async def test_generations_json_without_inputs(fake) -> None:
    out = await openai(fake.base_url).generate(GenerationRequest('a quiet harbour', size=(1536, 1024)))
    [rec] = fake.requests
    assert rec.path == '/v1/images/generations' and rec.headers['Content-Type'] == 'application/json'
    assert rec.json == {
        'model': 'gpt-image-2',
        'prompt': 'a quiet harbour',
        'size': '1536x1024',
        'quality': 'medium',
        'n': 1,
        'output_format': 'png',
    }
    with Image.open(io.BytesIO(out[0].data)) as im:
        assert im.size == (1536, 1024)


async def test_wrong_key_is_reported_as_rejected_without_the_key(fake, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    provider = openai(fake.base_url, key=BAD_KEY)
    with pytest.raises(ProviderAuthError) as info:
        await provider.generate(GenerationRequest('x', INPUTS))
    err = info.value
    assert 'rejected the API key' in err.user_message
    for text in (str(err), repr(err), str(err.to_json()), str(err.details), repr(provider.config), caplog.text):
        assert BAD_KEY not in text
    assert len(fake.requests) == 1 and not fake.requests[0].auth_ok  # auth errors are never retried
    health = await provider.health()
    assert (health.ok, health.code) == (False, 'auth') and BAD_KEY not in health.message


async def test_429_with_retry_after_is_waited_out_then_succeeds(fake) -> None:
    fake.fail_next(429, retry_after=1, message='Rate limit reached for images per minute')
    started = time.monotonic()
    out = await openai(fake.base_url).generate(GenerationRequest('x', INPUTS[:1]))
    assert len(out) == 1
    assert [r.status for r in fake.image_requests()] == [429, 200]
    assert time.monotonic() - started >= 0.95


async def test_500_is_retried(fake) -> None:
    fake.fail_next(500, message='The server had an error while processing your request.')
    await openai(fake.base_url).generate(GenerationRequest('x'))
    assert [r.status for r in fake.image_requests()] == [500, 200]


async def test_retries_are_bounded_and_the_last_error_raised(fake) -> None:
    fake.fail_next(503, times=5)
    with pytest.raises(ProviderUnavailable) as info:
        await openai(fake.base_url, max_retries=1).generate(GenerationRequest('x'))
    assert info.value.details['attempts'] == 2 and len(fake.image_requests()) == 2
    assert 'gave up after 2 attempts' in info.value.user_message


async def test_bad_request_and_exhausted_quota_are_not_retried(fake) -> None:
    fake.fail_next(400, message='Your request was rejected by the safety system.', code='moderation_blocked')
    with pytest.raises(ProviderBadRequest, match='rejected by the safety system'):
        await openai(fake.base_url).generate(GenerationRequest('x'))
    fake.fail_next(429, message='You exceeded your current quota.', code='insufficient_quota')
    with pytest.raises(ProviderRateLimited) as info:
        await openai(fake.base_url).generate(GenerationRequest('x'))
    assert info.value.code == 'insufficient_quota'
    assert len(fake.image_requests()) == 2


async def test_slow_server_beyond_timeout_raises_provider_timeout() -> None:
    with FakeOpenAIServer(valid_keys=(GOOD_KEY,), latency_s=3.0) as slow:
        started = time.monotonic()
        with pytest.raises(ProviderTimeout, match='no complete answer within 0.4 s') as info:
            await openai(slow.base_url, timeout_s=0.4, max_retries=2).generate(GenerationRequest('x'))
        assert time.monotonic() - started < 2.0
        # the image may have been made and billed: a paid POST that timed out is not sent again
        assert slow.max_in_flight == 1 and info.value.details['maybe_billed'] and 'billed' in info.value.user_message
        slow.models_latency_s = 3.0
        health = await openai(slow.base_url, timeout_s=0.4).health()
        assert (health.ok, health.code) == (False, 'timeout')


async def test_unreachable_host_is_named() -> None:
    provider = openai(f'http://127.0.0.1:{free_port()}', max_retries=0)
    with pytest.raises(ProviderUnavailable, match='Cannot reach host 127.0.0.1') as info:
        await provider.generate(GenerationRequest('x'))
    assert info.value.code == 'unreachable'
    assert (await provider.health()).code == 'unreachable'


async def test_tls_failure_is_reported_as_tls(fake) -> None:
    provider = openai(fake.base_url.replace('http://', 'https://'), max_retries=0)
    health = await provider.health()
    assert (health.ok, health.code) == (False, 'tls')


async def test_health_reports_ok_and_unknown_model(fake) -> None:
    ok = await openai(fake.base_url).health()
    assert (ok.ok, ok.code) == (True, 'ok') and 'gpt-image-2' in ok.message and ok.latency_ms > 0
    unknown = await openai(fake.base_url, model='gpt-image-9-turbo').health()
    assert (unknown.ok, unknown.code) == (False, 'unknown_model') and 'gpt-image-9-turbo' in unknown.message
    with pytest.raises(ProviderBadRequest) as info:
        await openai(fake.base_url, model='gpt-image-9-turbo').generate(GenerationRequest('x'))
    assert info.value.code == 'unknown_model'
    retired = await openai(fake.base_url, model='gpt-image-1').health()
    assert retired.code == 'unknown_model' and '2026-10-23' in retired.message


async def test_health_reports_rate_limit_and_timeout(fake) -> None:
    fake.fail_next(429, retry_after=3, path_prefix='/v1/models')
    assert (await openai(fake.base_url).health()).code == 'rate_limited'
    with FakeOpenAIServer(valid_keys=(GOOD_KEY,)) as other:
        other.fail_next(500, path_prefix='/v1/models')
        assert (await openai(other.base_url).health()).code == 'bad_response'


async def test_concurrency_limit_is_respected_at_the_server() -> None:
    with FakeOpenAIServer(valid_keys=(GOOD_KEY,), latency_s=0.25) as slow:
        provider = openai(slow.base_url, concurrency=2)
        started = time.monotonic()
        await asyncio.gather(*(provider.generate(GenerationRequest(f'p{i}', size=(1024, 1024))) for i in range(6)))
        elapsed = time.monotonic() - started
    assert slow.max_in_flight == 2
    assert 0.7 < elapsed < 2.0  # ceil(6 / 2) × 0.25 s, plus overhead


async def test_requests_are_validated_against_the_catalog_before_any_call(fake) -> None:
    provider = openai(fake.base_url)
    cases = [
        (GenerationRequest('x', size=(1000, 1000)), 'multiples of 16'),
        (GenerationRequest('x', size=(4096, 1024)), 'longest side'),
        (GenerationRequest('x', n=11), '1 to 10'),
        (GenerationRequest('x', INPUTS * 6), 'at most 16 input images'),
        (GenerationRequest('x', params={'quality': 'ultra'}), 'quality'),
        (GenerationRequest(' \n'), 'prompt is empty'),
    ]
    for request, rule in cases:
        with pytest.raises(Invalid, match=rule):
            await provider.generate(request)
    with pytest.raises(Invalid, match='accepts sizes'):
        await openai(fake.base_url, model='gpt-image-1.5').generate(GenerationRequest('x', size=(1024, 1792)))
    with pytest.raises(Invalid, match='shut gpt-image-1 down'):
        await openai(fake.base_url, model='gpt-image-1').generate(GenerationRequest('x'))
    with pytest.raises(ProviderAuthError, match='No API key'):
        await openai(fake.base_url, key=None).generate(GenerationRequest('x'))
    assert fake.requests == []


def test_estimate_cost_uses_catalog_prices() -> None:
    provider = openai('http://127.0.0.1:9')
    two_medium = GenerationRequest('x', INPUTS[:2], size=(1024, 1536), n=2)
    assert provider.estimate_cost(two_medium) == pytest.approx(2 * 0.041 + 2 * 0.024)
    high = GenerationRequest('x', size=(1024, 1024), params={'quality': 'high'})
    assert provider.estimate_cost(high) == pytest.approx(0.211)
    auto = GenerationRequest('x', size=(1024, 1024), params={'quality': 'auto'})
    assert provider.estimate_cost(auto) == pytest.approx(0.211)  # auto is estimated as high: never under-count
    custom = GenerationRequest('x', size=(1536, 1536), params={'quality': 'low'})
    assert 0.006 < provider.estimate_cost(custom) < 0.014


@pytest.mark.parametrize('mode', ['drip', 'hang'])
async def test_a_call_ends_within_its_total_deadline(fake, mode: str) -> None:
    """A server that sends its headers and then a byte a second (or nothing at all) cannot keep a call waiting."""
    fake.stall_next(mode, path_prefix='/v1/images')
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match='no complete answer within 2 s') as info:
        await openai(fake.base_url, timeout_s=2).generate(GenerationRequest('x', INPUTS[:1]))
    assert time.monotonic() - started < 3.0
    assert info.value.details['maybe_billed'] and 'billed' in info.value.user_message
    assert len(fake.image_requests()) == 1  # a paid call that may have been processed is never sent again


async def test_health_ends_within_its_deadline(fake) -> None:
    fake.stall_next('drip', path_prefix='/v1/models')
    started = time.monotonic()
    health = await openai(fake.base_url, timeout_s=1).health()
    assert (health.ok, health.code) == (False, 'timeout') and time.monotonic() - started < 2.0


async def test_unknown_model_and_wrong_base_path_are_told_apart(fake) -> None:
    with pytest.raises(ProviderBadRequest) as unknown:
        await openai(fake.base_url, model='gpt-image-9').generate(GenerationRequest('x'))
    assert (
        unknown.value.code == 'unknown_model' and "does not know the model 'gpt-image-9'" in unknown.value.user_message
    )
    with pytest.raises(ProviderBadRequest) as wrong:
        await openai(fake.base_url + '/proxy').generate(GenerationRequest('x'))
    assert wrong.value.code == 'wrong_base_url'
    message = wrong.value.user_message
    assert 'HTTP 404 for /proxy/v1/images/generations' in message and 'base URL is probably wrong' in message
    assert '"Invalid URL (POST /proxy/v1/images/generations)"' in message  # the server's own words
    health = await openai(fake.base_url + '/proxy').health()
    assert (health.ok, health.code) == (False, 'wrong_base_url') and 'Invalid URL (GET' in health.message


async def test_a_404_page_that_is_not_json_is_quoted() -> None:
    from tests.fakes.comfyui_server import FakeComfyUIServer

    with FakeComfyUIServer() as not_openai:
        with pytest.raises(ProviderBadRequest, match='"404: Not Found"') as info:
            await openai(not_openai.base_url).generate(GenerationRequest('x'))
    assert info.value.code == 'wrong_base_url'


async def test_the_retries_of_a_call_are_noted_with_status_and_wait(fake) -> None:
    fake.fail_next(429, retry_after=0, times=4)
    trace: list[dict] = []
    await openai(fake.base_url, max_retries=4).generate(GenerationRequest('x', trace=trace))
    assert [n['status'] for n in trace] == [429, 429, 429, 429, 'ok']
    assert all(n['wait_s'] >= 0 for n in trace[:4]) and 'wait_s' not in trace[4]
    assert [n['attempt'] for n in trace] == [1, 2, 3, 4, 5] and {n['step'] for n in trace} == {
        'POST /v1/images/generations'
    }


def test_how_many_images_one_call_may_make() -> None:
    assert openai('http://127.0.0.1:9').max_images_per_call == 10  # the catalogue's max_n
    assert openai('http://127.0.0.1:9', max_n=1).max_images_per_call == 1  # an account may lower it
