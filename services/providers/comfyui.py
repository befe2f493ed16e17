"""ComfyUI adapter: upload inputs, queue an API-format workflow filled from a template, poll history, download."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import httpx

from services.errors import (
    Invalid,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.files import sha256_bytes
from services.providers.base import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    ConcurrencyGate,
    GeneratedImage,
    GenerationRequest,
    HealthResult,
    InputImage,
    ProviderConfig,
    check_prompt,
    elapsed_ms,
    health_code,
    host_of,
    http_timeout,
    image_mime,
    no_complete_answer,
    parse_retry_after,
    transport_error,
)
from services.providers.comfyui_answers import (
    checkpoint_verdict,
    execution_error,
    installed_checkpoints,
    lost_input,
    node_error,
    output_images,
    used_inputs,
)
from services.providers.multipart import encode_multipart
from services.providers.retry import with_retries
from services.providers.workflow import fill_workflow, placeholders, to_txt2img

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = 'http://127.0.0.1:8188'


class UploadCache:
    """The server's file name of each input already uploaded, by server and SHA-256: one per worker pass, shared by
    every account the pass uses, so a file goes to a server once however many jobs and accounts need it."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], str] = {}
        self._locks: dict[tuple[int, str, str], asyncio.Lock] = {}

    def name(self, server: str, sha: str) -> str | None:
        return self._names.get((server, sha))

    def remember(self, server: str, sha: str, name: str) -> None:
        self._names[(server, sha)] = name

    def forget(self, server: str, sha: str) -> None:
        """The server lost the file (restarted with a clean input folder): the next call uploads it again."""
        self._names.pop((server, sha), None)

    def lock(self, server: str, sha: str) -> asyncio.Lock:
        return self._locks.setdefault((id(asyncio.get_running_loop()), server, sha), asyncio.Lock())


class ComfyUIProvider:
    """A local or remote ComfyUI server; one instance per server, its concurrency limit shared by all callers."""

    kind = 'comfyui'
    is_offline = False

    def __init__(self, config: ProviderConfig, *, template: dict, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.template = config.options.get('workflow') or template
        self.base_url = (config.base_url or DEFAULT_BASE_URL).rstrip('/')
        self.checkpoint = config.model or str(config.options.get('checkpoint') or '')
        self.timeout_s = config.option_float('timeout_s', DEFAULT_TIMEOUT_S)
        self.max_retries = config.option_int('max_retries', DEFAULT_MAX_RETRIES)
        self.retry_base_s = config.option_float('retry_base_s', 0.5)
        self.gate = ConcurrencyGate(config.option_int('concurrency', 1))
        self.client_id = uuid.uuid4().hex
        self.max_images_per_call = 1  # n images are n queued prompts: one candidate per call keeps the slots busy
        self.uploads = UploadCache()  # a worker pass hands every account the same one (JobLoader)
        self._client = client

    async def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        """Upload the inputs the workflow uses (each distinct file once per server), queue n prompts (seed, seed+1,
        …), wait for each, and download every output image."""
        self.validate(request)
        graph = self.template if request.inputs else to_txt2img(self.template)
        used = used_inputs(graph, request.inputs)
        trace = request.trace
        async with self.gate.slot(request.admit), self._http() as client:
            names = {i: await self._input_name(client, request.inputs[i], trace) for i in used}
            queued = []
            for i in range(request.n):
                try:
                    queued.append(await self._queue_filled(client, graph, request, names, request.seed + i))
                except ProviderBadRequest as err:
                    if not (used and lost_input(err)):
                        raise
                    # the server lost files uploaded earlier (restarted with a clean input folder): upload them again
                    log.warning('ComfyUI at %s no longer has an uploaded input; uploading again', self.base_url)
                    for j in used:
                        self.uploads.forget(self.base_url, _sha(request.inputs[j]))
                    names = {j: await self._input_name(client, request.inputs[j], trace) for j in used}
                    queued.append(await self._queue_filled(client, graph, request, names, request.seed + i))
            out = []
            for i, prompt_id in enumerate(queued):
                entry = await self._wait(client, prompt_id, trace)
                for node_id, image in output_images(entry):
                    data = await self._retry(lambda im=image: self._view(client, im), trace=trace, step='GET /view')
                    meta = dict(provider='comfyui', prompt_id=prompt_id, node=node_id, checkpoint=self.checkpoint)
                    meta['filename'] = image.get('filename', '')
                    out.append(GeneratedImage(data=data, seed=request.seed + i, meta=meta))
        return out

    async def _queue_filled(
        self, client: httpx.AsyncClient, graph: dict, request: GenerationRequest, names: dict[int, str], seed: int
    ) -> str:
        filled = fill_workflow(graph, self._values(request, names, seed))
        return await self._retry(lambda: self._queue(client, filled), trace=request.trace, step='POST /prompt')

    async def _input_name(self, client: httpx.AsyncClient, image: InputImage, trace: list[dict] | None) -> str:
        """The server's name for an input, uploading it only the first time this server sees its content."""
        sha = _sha(image)
        if name := self.uploads.name(self.base_url, sha):
            return name
        async with self.uploads.lock(self.base_url, sha):  # two calls needing the same new file upload it once
            if name := self.uploads.name(self.base_url, sha):
                return name
            name = await self._retry(lambda: self._upload(client, image, sha), trace=trace, step='POST /upload/image')
            self.uploads.remember(self.base_url, sha, name)
            return name

    def validate(self, request: GenerationRequest) -> None:
        """Refuse what ComfyUI would reject later, before anything is uploaded."""
        w, h = request.size
        if w % 8 or h % 8 or not (64 <= w <= 8192 and 64 <= h <= 8192):
            raise Invalid(f'{w}x{h}: ComfyUI sizes must be multiples of 8 between 64 and 8192 px.', code='size_invalid')
        if not 1 <= request.n <= 16:
            raise Invalid(f'n={request.n}: queue 1 to 16 images per request.', code='n_invalid')
        check_prompt(request)
        if not self.checkpoint and 'checkpoint' in placeholders(self.template):
            raise Invalid('Set the checkpoint (model) name for this ComfyUI account.', code='checkpoint_missing')
        for i, image in enumerate(request.inputs):
            if image_mime(image.data)[1] == 'bin':
                raise Invalid(
                    f'Input {i + 1} ({image.name or image.role}) is not a PNG, JPEG or WebP.', code='input_invalid'
                )

    def estimate_cost(self, request: GenerationRequest) -> float:
        """Own hardware costs nothing unless the account sets options['price_per_image'] (e.g. rented GPUs)."""
        return round(self.config.option_float('price_per_image', 0.0) * request.n, 6)

    async def health(self) -> HealthResult:
        """Reachable and which version; then whether a checkpoint is set and installed."""
        started = time.perf_counter()
        try:
            async with self._http() as client:
                stats = await self._json(client, 'GET', '/system_stats', timeout=min(self.timeout_s, 15.0))
                version = (stats.get('system') or {}).get('comfyui_version', 'unknown version')
                info = await self._json(
                    client, 'GET', '/object_info/CheckpointLoaderSimple', timeout=min(self.timeout_s, 15.0)
                )
        except ProviderError as err:
            return HealthResult(False, err.user_message, health_code(err), elapsed_ms(started))
        ok, message, code = checkpoint_verdict(
            version, host_of(self.base_url), self.checkpoint, installed_checkpoints(info), placeholders(self.template)
        )
        return HealthResult(ok, message, code, elapsed_ms(started))

    def _values(self, request: GenerationRequest, names: dict[int, str], seed: int) -> dict[str, Any]:
        o, p = self.config.options, request.params
        values: dict[str, Any] = {
            'prompt': request.prompt,
            'seed': seed % 2**63,
            'width': request.size[0],
            'height': request.size[1],
            'checkpoint': self.checkpoint,
            'steps': int(p.get('steps') or o.get('steps') or 24),
            'cfg': float(p.get('cfg') or o.get('cfg') or 6.5),
            'denoise': float(p.get('denoise') or o.get('denoise') or 0.55),
            'negative_prompt': str(p.get('negative_prompt') or o.get('negative_prompt') or 'blurry, watermark, text'),
            'filename_prefix': f'kroma/{request.stage}',
        }
        for i, image in enumerate(request.inputs):
            if i not in names:
                continue  # not used by the workflow, so never uploaded
            name = names[i]
            values[f'image_{i}'] = name
            values.setdefault(f'{image.role}_image', name)
            values.setdefault('image', name)
        return values

    def _http(self) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return nullcontext(self._client) if self._client is not None else httpx.AsyncClient()

    async def _retry(self, call: Any, *, trace: list[dict] | None = None, step: str = '', quiet: bool = False) -> Any:
        return await with_retries(
            call,
            max_retries=self.max_retries,
            max_total_s=self.timeout_s,
            base_delay=self.retry_base_s,
            trace=trace,
            step=step,
            quiet=quiet,
        )

    async def _send(self, client: httpx.AsyncClient, method: str, path: str, *, timeout: float, **kw: Any):
        """One request with a total deadline: connect, send and the whole answer within `timeout`."""
        headers = {'Authorization': f'Bearer {self.config.api_key}'} if self.config.api_key else {}
        headers |= kw.pop('headers', {})
        t = http_timeout(timeout)
        paid = path == '/prompt' and self.config.option_float('price_per_image', 0.0) > 0
        try:
            async with asyncio.timeout(timeout):
                resp = await client.request(method, self.base_url + path, headers=headers, timeout=t, **kw)
        except TimeoutError:
            raise no_complete_answer(provider='ComfyUI', base_url=self.base_url, timeout_s=timeout, paid=paid) from None
        except httpx.TransportError as e:
            raise transport_error(e, provider='ComfyUI', base_url=self.base_url, timeout_s=timeout, paid=paid) from None
        if resp.status_code in (401, 403):
            raise ProviderAuthError(
                f'ComfyUI (or the proxy in front of it) rejected the credentials '
                f'(HTTP {resp.status_code}); check the key in the provider settings.'
            )
        if resp.status_code == 429:
            raise ProviderRateLimited(
                'ComfyUI is rate-limiting requests.',
                retry_after=parse_retry_after(resp.headers),
                details={'status': 429},
            )
        if resp.status_code >= 500:
            raise ProviderUnavailable(
                f'ComfyUI had a server error (HTTP {resp.status_code}) on {path.split("?")[0]}.',
                retry_after=parse_retry_after(resp.headers),
                details={'status': resp.status_code},
            )
        return resp

    async def _json(self, client: httpx.AsyncClient, method: str, path: str, *, timeout: float, **kw: Any) -> dict:
        resp = await self._send(client, method, path, timeout=timeout, **kw)
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if resp.status_code == 404:
                raise ProviderBadRequest(
                    f'{host_of(self.base_url)} answered HTTP 404 for {path}: "{resp.text.strip()[:120]}". Is the base '
                    f'URL right? It should be the ComfyUI server root, like {DEFAULT_BASE_URL}.',
                    code='wrong_base_url',
                    details={'status': 404},
                )
            raise ProviderError(f'ComfyUI answered {path} with HTTP {resp.status_code}, not JSON.', code='bad_response')
        if resp.status_code >= 400 and path != '/prompt':
            raise ProviderBadRequest(f'ComfyUI refused {path} (HTTP {resp.status_code}).')
        return body

    async def _upload(self, client: httpx.AsyncClient, image: InputImage, sha: str) -> str:
        mime, ext = image_mime(image.data)
        name = f'kroma_{sha[:20]}.{ext}'
        content, content_type = encode_multipart(
            {'overwrite': 'true', 'type': 'input'}, [('image', name, image.data, mime)]
        )
        body = await self._json(
            client,
            'POST',
            '/upload/image',
            timeout=self.timeout_s,
            content=content,
            headers={'Content-Type': content_type},
        )
        if not body.get('name'):
            raise ProviderError('ComfyUI accepted the upload but returned no file name.', code='bad_response')
        return f'{body["subfolder"]}/{body["name"]}' if body.get('subfolder') else body['name']

    async def _queue(self, client: httpx.AsyncClient, graph: dict) -> str:
        body = await self._json(
            client, 'POST', '/prompt', timeout=self.timeout_s, json={'prompt': graph, 'client_id': self.client_id}
        )
        if body.get('error') or body.get('node_errors'):
            raise node_error(body)
        if not body.get('prompt_id'):
            raise ProviderError('ComfyUI queued the workflow but returned no prompt id.', code='bad_response')
        return str(body['prompt_id'])

    async def _wait(self, client: httpx.AsyncClient, prompt_id: str, trace: list[dict] | None = None) -> dict:
        """Poll /history until the prompt has outputs or failed, within the account's timeout."""
        deadline, delay = time.monotonic() + self.timeout_s, 0.05
        poll = min(self.timeout_s, 30.0)
        while True:
            hist = await self._retry(
                lambda: self._json(client, 'GET', f'/history/{prompt_id}', timeout=poll),
                trace=trace,
                step='GET /history',
                quiet=True,
            )
            entry = hist.get(prompt_id)
            if entry:
                status = entry.get('status') or {}
                if status.get('status_str') == 'error':
                    raise execution_error(prompt_id, status)
                if entry.get('outputs') and status.get('completed', True):
                    return entry
            if time.monotonic() + delay > deadline:
                raise ProviderTimeout(
                    f'ComfyUI did not finish prompt {prompt_id} within {self.timeout_s:g} s; it may '
                    'still be queued behind other work.'
                )
            await asyncio.sleep(delay)
            delay = min(0.25, delay * 1.5)

    async def _view(self, client: httpx.AsyncClient, image: dict) -> bytes:
        params = {
            'filename': image.get('filename', ''),
            'subfolder': image.get('subfolder', ''),
            'type': image.get('type', 'output'),
        }
        resp = await self._send(client, 'GET', '/view', timeout=self.timeout_s, params=params)
        if resp.status_code != 200 or image_mime(resp.content)[1] == 'bin':
            raise ProviderError(
                f'ComfyUI could not serve output {params["filename"]} (HTTP {resp.status_code}).', code='bad_response'
            )
        return resp.content


def _sha(image: InputImage) -> str:
    return image.sha256 or sha256_bytes(image.data)
