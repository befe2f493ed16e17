"""remove.bg and PhotoRoom adapters against a real local HTTP fake: request shape and typed errors."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import httpx
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
from services.postprocess.remote_background import remove_background_remote
from tests.fakes.removebg_server import PHOTOROOM_PATH, REMOVEBG_PATH, FakeBackgroundServer

KEY = 'test-key'


@pytest.fixture
def server() -> Iterator[FakeBackgroundServer]:
    with FakeBackgroundServer(valid_keys={KEY}) as fake:
        yield fake


@pytest.fixture(scope='module')
def png() -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', (64, 48), (200, 120, 40)).save(buf, 'PNG')
    return buf.getvalue()


async def test_removebg_sends_multipart_and_key_and_returns_a_cutout(server: FakeBackgroundServer, png: bytes) -> None:
    out = await remove_background_remote(png, service='removebg', api_key=KEY, base_url=server.base_url)
    (req,) = server.requests
    assert req.path == REMOVEBG_PATH and req.method == 'POST'
    assert 'X-Api-Key' in req.headers and req.header('x-api-key') == KEY
    assert req.fields == {'size': 'auto', 'format': 'png'}
    assert req.files['image_file'].sha256 == hashlib.sha256(png).hexdigest()
    assert req.files['image_file'].content_type == 'image/png'
    cut = Image.open(io.BytesIO(out))
    assert cut.mode == 'RGBA' and cut.size == (64, 48) and cut.getpixel((0, 0))[3] == 0


async def test_photoroom_uses_its_own_path_and_header(server: FakeBackgroundServer, png: bytes) -> None:
    async with httpx.AsyncClient() as client:
        out = await remove_background_remote(
            png, service='photoroom', api_key=KEY, base_url=server.base_url + '/', client=client
        )
    (req,) = server.requests
    assert req.path == PHOTOROOM_PATH
    assert 'x-api-key' in req.headers and req.header('x-api-key') == KEY
    assert set(req.files) == {'image_file'}
    assert Image.open(io.BytesIO(out)).mode == 'RGBA'


@pytest.mark.parametrize('service', ['removebg', 'photoroom'])
async def test_wrong_key_is_an_auth_error_that_never_shows_the_key(
    server: FakeBackgroundServer, png: bytes, service: str
) -> None:
    wrong = 'sk-wrong-key-9f8e7d'
    with pytest.raises(ProviderAuthError) as err:
        await remove_background_remote(png, service=service, api_key=wrong, base_url=server.base_url)
    assert 'rejected the API key' in err.value.user_message
    assert wrong not in str(err.value) and wrong not in repr(err.value.to_json())


async def test_out_of_credits_is_a_bad_request_with_its_own_code(server: FakeBackgroundServer, png: bytes) -> None:
    server.fail_next(402)
    with pytest.raises(ProviderBadRequest) as err:
        await remove_background_remote(png, service='removebg', api_key=KEY, base_url=server.base_url)
    assert err.value.code == 'out_of_credits' and 'Insufficient credits' in err.value.user_message


async def test_rate_limit_surfaces_retry_after(server: FakeBackgroundServer, png: bytes) -> None:
    server.fail_next(429, retry_after='7')
    with pytest.raises(ProviderRateLimited) as err:
        await remove_background_remote(png, service='photoroom', api_key=KEY, base_url=server.base_url)
    assert err.value.retry_after == 7 and err.value.retryable


async def test_server_error_is_unavailable_and_retryable(server: FakeBackgroundServer, png: bytes) -> None:
    server.fail_next(500)
    with pytest.raises(ProviderUnavailable) as err:
        await remove_background_remote(png, service='removebg', api_key=KEY, base_url=server.base_url)
    assert err.value.retryable and 'Internal server error' in err.value.user_message
    # the script is used up: the next call succeeds
    assert await remove_background_remote(png, service='removebg', api_key=KEY, base_url=server.base_url)


async def test_slow_service_is_a_timeout(server: FakeBackgroundServer, png: bytes) -> None:
    server.fail_next(200, delay_s=1.0)
    with pytest.raises(ProviderTimeout):
        await remove_background_remote(png, service='removebg', api_key=KEY, base_url=server.base_url, timeout_s=0.2)


async def test_unreadable_upload_is_a_bad_request(server: FakeBackgroundServer) -> None:
    with pytest.raises(ProviderBadRequest, match='Failed to read'):
        await remove_background_remote(b'not a png', service='removebg', api_key=KEY, base_url=server.base_url)


async def test_refused_before_any_request(server: FakeBackgroundServer, png: bytes) -> None:
    with pytest.raises(Invalid):
        await remove_background_remote(png, service='clipdrop', api_key=KEY, base_url=server.base_url)
    with pytest.raises(ProviderAuthError):
        await remove_background_remote(png, service='removebg', api_key='', base_url=server.base_url)
    assert server.requests == []


async def test_unreachable_service_is_unavailable(png: bytes) -> None:
    with FakeBackgroundServer() as fake:
        dead = fake.base_url
    with pytest.raises(ProviderUnavailable):
        await remove_background_remote(png, service='removebg', api_key=KEY, base_url=dead, timeout_s=2)
