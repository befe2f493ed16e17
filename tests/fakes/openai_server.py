"""A loopback server speaking the OpenAI Images wire format, with real PNGs, honest latency and scripted failures."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import deque
from typing import Any

from tests.fakes.loopback import (
    LoopbackFake,
    RecordedRequest,
    Reply,
    json_reply,
    make_png,
    parse_multipart,
)

log = logging.getLogger(__name__)

# model id -> whether it accepts input_fidelity
DEFAULT_MODELS = dict.fromkeys(('gpt-image-2', 'gpt-image-2.5-flare', 'gpt-image-2.6-flare'), False) | {
    'gpt-image-1.5': True
}


def openai_error(
    status: int,
    message: str,
    *,
    type_: str = 'invalid_request_error',
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    return json_reply(status, {'error': {'message': message, 'type': type_, 'param': None, 'code': code}}, headers)


class FakeOpenAIServer(LoopbackFake):
    """/v1/images/generations, /v1/images/edits, /v1/models[/{id}] with keys, latency and a queue of failures."""

    def __init__(
        self,
        *,
        valid_keys: tuple[str, ...] = ('sk-test-good',),
        latency_s: float = 0.0,
        models: dict[str, bool] | None = None,
    ) -> None:
        super().__init__()
        self.valid_keys = set(valid_keys)
        self.latency_s = latency_s
        self.models_latency_s = 0.0  # delay for /v1/models (health checks)
        self.models = dict(DEFAULT_MODELS if models is None else models)
        self.failures: deque[tuple[str, Reply]] = deque()
        self.answers: deque[list[bytes]] = deque()  # scripted image bytes for the next image answers
        self._images_cache: dict[str, str] = {}

    def fail_next(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        message: str | None = None,
        code: str | None = None,
        times: int = 1,
        path_prefix: str = '/v1/images',
    ) -> None:
        """Script the next matching request(s) to fail with an OpenAI-style error."""
        headers = {'Retry-After': f'{retry_after:g}'} if retry_after is not None else {}
        type_ = 'server_error' if status >= 500 else 'rate_limit_exceeded' if status == 429 else 'invalid_request_error'
        reply = openai_error(status, message or f'scripted failure {status}', type_=type_, code=code, headers=headers)
        with self.lock:
            self.failures.extend([(path_prefix, reply)] * times)

    def answer_next(self, *images: bytes) -> None:
        """Script the next successful image answer to carry exactly these bytes (junk, a truncated PNG, a bomb)."""
        with self.lock:
            self.answers.append(list(images))

    def check_auth(self, header: str) -> bool:
        return header.startswith('Bearer ') and header[7:] in self.valid_keys

    def image_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith('/v1/images')]

    def route(self, rec: RecordedRequest, body: bytes, content_type: str) -> Reply:
        started = time.monotonic()
        if not rec.auth_ok:
            return openai_error(
                401,
                'Incorrect API key provided. You can find your API key at '
                'https://platform.openai.com/account/api-keys.',
                code='invalid_api_key',
            )
        with self.lock:
            failure = next((f for f in self.failures if rec.path.startswith(f[0])), None)
            if failure:
                self.failures.remove(failure)
        if failure:
            self.sleep(self.latency_s / 4)
            return failure[1]
        if rec.path.startswith('/v1/models'):
            self.sleep(self.models_latency_s)
        if rec.method == 'GET' and rec.path == '/v1/models':
            return json_reply(200, {'object': 'list', 'data': [self._model(m) for m in self.models]})
        if rec.method == 'GET' and rec.path.startswith('/v1/models/'):
            model = rec.path.removeprefix('/v1/models/')
            return json_reply(200, self._model(model)) if model in self.models else self._no_model(model)
        if rec.method == 'POST' and rec.path in ('/v1/images/generations', '/v1/images/edits'):
            reply = self._images(rec, body, content_type)
            self.sleep(started + self.latency_s - time.monotonic())
            return reply
        return openai_error(404, f'Invalid URL ({rec.method} {rec.path})')

    def _b64_png(self, size: tuple[int, int], key: str, source: bytes | None) -> str:
        """Equal requests get equal images (the key holds the inputs' hashes), so each is drawn and encoded once:
        the fake's own CPU then stays out of the timings of the calls it serves concurrently."""
        with self.lock:
            cached = self._images_cache.get(key)
        if cached is None:
            cached = base64.b64encode(make_png(size, key, source)).decode()
            with self.lock:
                if len(self._images_cache) >= 64:
                    self._images_cache.pop(next(iter(self._images_cache)))
                self._images_cache[key] = cached
        return cached

    def _model(self, model: str) -> dict:
        return {'id': model, 'object': 'model', 'created': 1776729600, 'owned_by': 'system'}

    def _no_model(self, model: str) -> Reply:
        return openai_error(
            404, f"The model '{model}' does not exist or you do not have access to it.", code='model_not_found'
        )

    def _images(self, rec: RecordedRequest, body: bytes, content_type: str) -> Reply:
        if rec.path.endswith('/edits'):
            if not content_type.startswith('multipart/form-data'):
                return openai_error(400, 'Edits must be sent as multipart/form-data.')
            rec.fields, parts = parse_multipart(content_type, body)
            rec.images = [{k: v for k, v in p.items() if k != 'data'} for p in parts]
            images = [p for p in parts if p['field'] in ('image[]', 'image')]
            if not images:
                return openai_error(400, "Missing required parameter: 'image'.", code='missing_required_parameter')
            params: dict[str, Any] = dict(rec.fields)
        else:
            try:
                params = rec.json = json.loads(body or b'{}')
            except ValueError:
                return openai_error(400, 'We could not parse the JSON body of your request.')
            images = []
        model = str(params.get('model', ''))
        if model not in self.models:
            return self._no_model(model)
        if 'input_fidelity' in params and not self.models[model]:
            return openai_error(
                400, f"Unknown parameter: 'input_fidelity' is not supported with {model}.", code='unknown_parameter'
            )
        if not params.get('prompt'):
            return openai_error(400, "Missing required parameter: 'prompt'.", code='missing_required_parameter')
        try:
            w, h = (int(x) for x in str(params.get('size', '1024x1024')).split('x'))
            n = int(params.get('n', 1))
        except ValueError:
            return openai_error(400, f"Invalid value for 'size' or 'n': {params.get('size')!r}, {params.get('n')!r}.")
        key = '|'.join([model, str(params['prompt']), f'{w}x{h}'] + [i['sha256'] for i in images])
        source = images[0]['data'] if images else None
        with self.lock:
            scripted = self.answers.popleft() if self.answers else None
        encoded = (
            [base64.b64encode(b).decode() for b in scripted]
            if scripted is not None
            else [self._b64_png((w, h), f'{key}|{i}', source) for i in range(n)]
        )
        data = [{'b64_json': b64, 'revised_prompt': str(params['prompt'])} for b64 in encoded]
        usage = {'input_tokens': 50 + 1000 * len(images), 'output_tokens': 1756 * n, 'total_tokens': 0}
        return json_reply(
            200,
            {
                'created': 1764028800,
                'data': data,
                'background': 'opaque',
                'output_format': 'png',
                'quality': params.get('quality', 'auto'),
                'size': f'{w}x{h}',
                'usage': usage,
            },
        )
