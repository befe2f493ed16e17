"""OpenAI Images API adapter: edits with the scene and references, generations without; the catalog decides limits."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

import httpx
import pybase64

from services.errors import (
    Invalid,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from services.providers.base import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    ConcurrencyGate,
    GeneratedImage,
    GenerationRequest,
    HealthResult,
    ProviderConfig,
    check_prompt,
    elapsed_ms,
    health_code,
    host_of,
    http_timeout,
    image_mime,
    no_complete_answer,
    parse_retry_after,
    safe_filename,
    transport_error,
)
from services.providers.catalog import check_size, model_entry, price
from services.providers.multipart import encode_multipart
from services.providers.retry import with_retries

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = 'https://api.openai.com'
MAX_INPUT_BYTES = 50 * 1024 * 1024
_KEY_LIKE = re.compile(r'sk-[A-Za-z0-9_\-*]{4,}')


class OpenAIImagesProvider:
    """Talks to /v1/images/*; one instance per account, sharing its concurrency limit across callers."""

    kind = 'openai'
    is_offline = False

    def __init__(self, config: ProviderConfig, *, catalog: dict, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.catalog = catalog
        self.model = config.model or catalog.get('default_model', '')
        self.entry = model_entry(catalog, self.model)
        self.base_url = _api_root(config.base_url or DEFAULT_BASE_URL)
        self.timeout_s = config.option_float('timeout_s', DEFAULT_TIMEOUT_S)
        self.max_retries = config.option_int('max_retries', DEFAULT_MAX_RETRIES)
        self.retry_base_s = config.option_float('retry_base_s', 0.5)
        self.max_total_s = config.option_float('max_total_s', self.timeout_s * 3)
        self.gate = ConcurrencyGate(config.option_int('concurrency', 1))
        # n > 1 shares one call (and its paid input images) between candidates; options['max_n'] may lower it
        self.max_images_per_call = max(1, min(int(self.entry.get('max_n', 1)), config.option_int('max_n', 10)))
        self._client = client

    async def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        """One API call for n images: edits when there are inputs (scene first), generations otherwise.

        Every attempt has a total deadline (connect, send and the whole answer) of the account's timeout. The slot is
        held until the answer's headers arrive: the provider has finished by then, so the next call starts while this
        one's megabytes are still downloading."""
        quality, size = self.validate(request)
        async with self._http() as client:
            async with self.gate.slot(request.admit):
                resp, deadline = await with_retries(
                    lambda: self._call_images(client, request, quality, size),
                    max_retries=self.max_retries,
                    max_total_s=self.max_total_s,
                    base_delay=self.retry_base_s,
                    trace=request.trace,
                    step='POST /v1/images/' + ('edits' if request.inputs else 'generations'),
                )
            try:  # answered, so billed: a broken or late body is never retried
                async with asyncio.timeout_at(deadline):
                    raw = await resp.aread()
            except TimeoutError:
                raise no_complete_answer(
                    provider='OpenAI', base_url=self.base_url, timeout_s=self.timeout_s, paid=True
                ) from None
            except httpx.TransportError as e:
                raise transport_error(
                    e, provider='OpenAI', base_url=self.base_url, timeout_s=self.timeout_s, paid=True
                ) from None
            finally:
                await resp.aclose()
        return await asyncio.to_thread(self._decode, raw, request, quality, size)  # megabytes of base64: off the loop

    def validate(self, request: GenerationRequest) -> tuple[str, str]:
        """Check size, n, quality and inputs against the catalog entry before any money is spent."""
        if retired := self.catalog.get('retired', {}).get(self.model):
            raise Invalid(
                f'OpenAI shut {self.model} down on {retired["shutdown_date"]}; choose '
                f'{retired.get("replacement", "a current model")} in the provider settings.',
                code='model_retired',
            )
        if not self.config.api_key:
            raise ProviderAuthError('No API key is stored for this OpenAI account; add one in the provider settings.')
        check_prompt(request)
        e = self.entry
        w, h = request.size
        size = f'{w}x{h}'
        check_size(e['sizes'], w, h, self.model)
        if not 1 <= request.n <= e.get('max_n', 10):
            raise Invalid(
                f'{self.model} makes 1 to {e.get("max_n", 10)} images per request, not {request.n}.', code='n_invalid'
            )
        if len(request.inputs) > e.get('max_input_images', 16):
            raise Invalid(
                f'{self.model} accepts at most {e["max_input_images"]} input images; this request has '
                f'{len(request.inputs)}. Use fewer references.',
                code='too_many_inputs',
            )
        if len(request.prompt) > e.get('max_prompt_chars', 32000):
            raise Invalid(
                f'The prompt is {len(request.prompt)} characters; {self.model} takes at most {e["max_prompt_chars"]}.',
                code='prompt_too_long',
            )
        for i, image in enumerate(request.inputs):
            if image_mime(image.data)[1] == 'bin' or len(image.data) > MAX_INPUT_BYTES:
                raise Invalid(
                    f'Input {i + 1} ({image.name or image.role}) must be a PNG, JPEG or WebP under 50 MB.',
                    code='input_invalid',
                )
        quality = str(request.params.get('quality') or self.config.options.get('quality') or 'medium')
        if quality not in e['qualities']:
            raise Invalid(
                f'{self.model} accepts quality {", ".join(e["qualities"])}, not {quality!r}.', code='quality_invalid'
            )
        return quality, size

    def estimate_cost(self, request: GenerationRequest) -> float:
        """USD from the catalog: n output images at the quality and size, plus each input image once."""
        quality = str(request.params.get('quality') or self.config.options.get('quality') or 'medium')
        return price(self.entry, quality, request.size, request.n, len(request.inputs))

    async def health(self) -> HealthResult:
        """Ask for the configured model with the key: says exactly whether key, model, network or TLS is the problem."""
        if retired := self.catalog.get('retired', {}).get(self.model):
            return HealthResult(
                False,
                f'OpenAI shut {self.model} down on {retired["shutdown_date"]}; choose '
                f'{retired.get("replacement", "a current model")}.',
                'unknown_model',
            )
        if not self.config.api_key:
            return HealthResult(False, 'No API key is stored for this account; add one.', 'auth')
        started = time.perf_counter()
        try:
            async with self._http() as client:
                resp = await self._send(client, 'GET', f'/v1/models/{self.model}', timeout=min(self.timeout_s, 20.0))
            body = self._check(resp)
        except ProviderError as err:
            return HealthResult(False, err.user_message, health_code(err), elapsed_ms(started))
        if body.get('id') != self.model:
            return HealthResult(
                False,
                f'{host_of(self.base_url)} answered, but not like the OpenAI API.',
                'bad_response',
                elapsed_ms(started),
            )
        note = (
            f' Note: OpenAI plans to shut it down on {self.entry["shutdown_date"]}.'
            if self.entry.get('shutdown_date')
            else ''
        )
        return HealthResult(
            True,
            f'Key accepted; model {self.model} is available at {host_of(self.base_url)}.{note}',
            'ok',
            elapsed_ms(started),
        )

    def _http(self) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        """The injected client, or a short-lived one (safe across event loops)."""
        return nullcontext(self._client) if self._client is not None else _own_client()

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        timeout: float,
        deadline: float | None = None,
        stream: bool = False,
        **kw: Any,
    ) -> httpx.Response:
        """Send within the deadline (loop time; default now + timeout): headers, and the body unless streaming."""
        headers = {'Authorization': f'Bearer {self.config.api_key}'} | kw.pop('headers', {})
        t = http_timeout(timeout)
        paid = method == 'POST'
        deadline = deadline if deadline is not None else asyncio.get_running_loop().time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                req = client.build_request(method, self.base_url + path, headers=headers, timeout=t, **kw)
                return await client.send(req, stream=stream)
        except TimeoutError:
            raise no_complete_answer(provider='OpenAI', base_url=self.base_url, timeout_s=timeout, paid=paid) from None
        except httpx.TransportError as e:
            raise transport_error(e, provider='OpenAI', base_url=self.base_url, timeout_s=timeout, paid=paid) from None

    async def _call_images(
        self, client: httpx.AsyncClient, request: GenerationRequest, quality: str, size: str
    ) -> tuple[httpx.Response, float]:
        """Send the request and wait for the answer's headers (returned with the attempt's deadline); an error
        answer is read and raised as its type."""
        fields = {
            'model': self.model,
            'prompt': request.prompt,
            'size': size,
            'quality': quality,
            'n': request.n,
            'output_format': 'png',
        }
        if not request.inputs:
            kw: dict[str, Any] = {'json': fields}
            path = '/v1/images/generations'
        else:
            if self.entry.get('input_fidelity'):
                fields['input_fidelity'] = str(
                    request.params.get('input_fidelity') or self.config.options.get('input_fidelity') or 'high'
                )
            files = []
            for i, image in enumerate(request.inputs):
                mime, ext = image_mime(image.data)
                files.append(('image[]', safe_filename(image.name, i, image.role, ext), image.data, mime))
            body, content_type = encode_multipart({k: str(v) for k, v in fields.items()}, files)
            kw = {'content': body, 'headers': {'Content-Type': content_type}}
            path = '/v1/images/edits'
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        resp = await self._send(client, 'POST', path, timeout=self.timeout_s, deadline=deadline, stream=True, **kw)
        if resp.is_success:
            return resp, deadline
        try:
            async with asyncio.timeout_at(deadline):
                await resp.aread()
        except (httpx.TransportError, TimeoutError):
            pass  # the status alone says enough
        finally:
            await resp.aclose()
        raise self._error(resp, _json_or_empty(resp))

    def _check(self, resp: httpx.Response) -> dict:
        """Return the JSON body of a success, or raise the typed error for the status and OpenAI error code."""
        body = _json_or_empty(resp)
        if not resp.is_success:
            raise self._error(resp, body)
        if not body:
            raise ProviderError(f'OpenAI answered HTTP {resp.status_code} without JSON.', code='bad_response')
        return body

    def _error(self, resp: httpx.Response, body: dict) -> ProviderError:
        err = body.get('error') if isinstance(body.get('error'), dict) else {}
        message = self._scrub(str(err.get('message') or resp.reason_phrase or 'no message'))
        code, status = str(err.get('code') or ''), resp.status_code
        details = {'status': status, 'provider_code': code, 'request_id': resp.headers.get('x-request-id', '')}
        if status == 401:
            return ProviderAuthError(
                f'The provider rejected the API key (HTTP 401{", " + code if code else ""}). '
                'Check the key or replace it in the provider settings.',
                details=details,
            )
        if status == 403:
            return ProviderAuthError(
                f'The provider rejected the API key for this request (HTTP 403): {message}', details=details
            )
        if code == 'model_not_found':
            return ProviderBadRequest(
                f"OpenAI does not know the model '{self.model}', or this key has no access to "
                'it. Check the model name in the provider settings.',
                code='unknown_model',
                details=details,
            )
        if status == 404:  # not the API's own "no such model": the URL does not lead to the Images API
            said = message if err else self._scrub(_text_of(resp)) or message
            return ProviderBadRequest(
                f'{host_of(self.base_url)} answered HTTP 404 for {self._scrub(resp.url.path)}: "{said}". The base URL is '
                f'probably wrong: it should be the API root (like {DEFAULT_BASE_URL}), without /images or other paths.',
                code='wrong_base_url',
                details=details,
            )
        if status == 429:
            wait = parse_retry_after(resp.headers)
            rl = ProviderRateLimited(
                f'OpenAI is rate-limiting this account: {message}', retry_after=wait, details=details
            )
            if code in ('insufficient_quota', 'billing_hard_limit_reached'):
                rl.code, rl.retryable = 'insufficient_quota', False
            return rl
        if status >= 500:
            return ProviderUnavailable(
                f'OpenAI had a server error (HTTP {status}): {message}',
                retry_after=parse_retry_after(resp.headers),
                details=details,
            )
        return ProviderBadRequest(f'OpenAI refused the request (HTTP {status}): {message}', details=details)

    def _scrub(self, text: str) -> str:
        """Remove the key (or anything shaped like one) from provider text before it reaches a message or log."""
        if self.config.api_key:
            text = text.replace(self.config.api_key, '***')
        return _KEY_LIKE.sub('sk-***', text)

    def _decode(self, raw: bytes, request: GenerationRequest, quality: str, size: str) -> list[GeneratedImage]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderError('OpenAI answered without JSON.', code='bad_response')
        items = body.get('data')
        if not isinstance(items, list) or not items:
            raise ProviderError('OpenAI answered without any image data.', code='bad_response')
        out = []
        for i, item in enumerate(items):
            try:  # SIMD base64: a large answer decodes without holding the GIL for long
                data = pybase64.b64decode(item['b64_json'], validate=True)
            except (KeyError, TypeError, ValueError) as e:
                raise ProviderError(
                    f'OpenAI image {i + 1} was not valid base64 image data.', code='bad_response'
                ) from e
            meta = {
                'provider': 'openai',
                'model': self.model,
                'quality': quality,
                'size': size,
                'index': i,
                'seed_honoured': False,
            }
            for key in ('created', 'usage', 'output_format'):
                if key in body:
                    meta[key] = body[key]
            if item.get('revised_prompt'):
                meta['revised_prompt'] = item['revised_prompt']
            out.append(GeneratedImage(data=data, seed=request.seed + i, meta=meta))
        return out


def _text_of(resp: httpx.Response) -> str:
    """The start of a non-JSON answer (an HTML 404 page, a proxy's note) as one line of plain text."""
    try:
        text = resp.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return ''
    return ' '.join(re.sub(r'<[^>]+>', ' ', text).split())[:200]


def _json_or_empty(resp: httpx.Response) -> dict:
    """An error answer's JSON, or {} when it was not JSON or its body broke off."""
    try:
        body = resp.json()
    except (ValueError, httpx.ResponseNotRead):
        return {}
    return body if isinstance(body, dict) else {}


@asynccontextmanager
async def _own_client():
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


def _api_root(base_url: str) -> str:
    """Accept 'https://api.openai.com' or '…/v1' alike; paths below always start with /v1."""
    url = base_url.rstrip('/')
    return url[:-3] if url.endswith('/v1') else url
