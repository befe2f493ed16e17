"""The LLM copilot interpreter: an OpenAI-compatible chat endpoint forced to answer with one instruction tool call."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from services.copilot import interpreter
from services.copilot.interpreter import NotUnderstood, Proposal, Vocabulary
from services.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from services.providers.base import ProviderConfig, parse_retry_after, transport_error
from services.providers.retry import with_retries

log = logging.getLogger(__name__)

T = TypeVar('T')
TOOL_NAME = 'propose_instruction'
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_RETRIES = 2


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code: in this thread when no loop runs here, else in a short-lived thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())  # type: ignore[arg-type]
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()  # type: ignore[arg-type]


def http_error(resp: httpx.Response, provider: str) -> ProviderError:
    """Map an HTTP error answer to the typed provider error, with the server's own message when it sent one."""
    try:
        detail = resp.json().get('error', {})
        message = detail.get('message') if isinstance(detail, dict) else str(detail)
    except (ValueError, AttributeError):
        message = resp.text[:200]
    text = f'{provider} answered HTTP {resp.status_code}: {message or resp.reason_phrase}'
    if resp.status_code in (401, 403):
        return ProviderAuthError(f'{provider} refused the key (HTTP {resp.status_code}); replace it in Setup.')
    if resp.status_code == 429:
        return ProviderRateLimited(text, retry_after=parse_retry_after(resp.headers))
    if resp.status_code >= 500:
        return ProviderUnavailable(text, retry_after=parse_retry_after(resp.headers))
    return ProviderBadRequest(text)


async def post_json(
    url: str,
    body: dict[str, Any],
    *,
    provider: str,
    token: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_retries: int = DEFAULT_RETRIES,
    base_delay: float = 0.5,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Any:
    """POST JSON with a timeout and bounded retries; rate limits and outages are retried, the rest fail at once."""
    headers = {'Authorization': f'Bearer {token}'} if token else {}

    async with httpx.AsyncClient(timeout=timeout_s, transport=transport) as client:

        async def once() -> Any:
            try:
                resp = await client.post(url, json=body, headers=headers)
            except httpx.TransportError as e:
                raise transport_error(e, provider=provider, base_url=url, timeout_s=timeout_s) from e
            if resp.status_code >= 400:
                raise http_error(resp, provider)
            try:
                return resp.json()
            except ValueError as e:
                raise ProviderError(f'{provider} sent an answer that is not JSON.', code='bad_response') from e

        total = timeout_s * (max_retries + 1) + 30
        return await with_retries(once, max_retries=max_retries, max_total_s=total, base_delay=base_delay)


def tool_arguments(data: Any) -> dict[str, Any]:
    """choices[0].message.tool_calls[0].function.arguments as a dict; anything else is a broken answer."""
    try:
        call = data['choices'][0]['message']['tool_calls'][0]['function']
        args = call['arguments']
        args = json.loads(args) if isinstance(args, str) else args
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise ProviderError('The chat model did not answer with an instruction.', code='bad_tool_call') from e
    if not isinstance(args, dict) or 'type' not in args:
        raise ProviderError('The chat model answered with a malformed instruction.', code='bad_tool_call')
    return args


def system_prompt(vocab: Vocabulary) -> str:
    scenes = '; '.join(f'{i}. {s.name}' for i, s in enumerate(vocab.scenes, 1)) or 'none yet'
    chars = ', '.join(c.name for c in vocab.characters) or 'none yet'
    return (
        "You turn a comic artist's request into exactly one Kroma Studio instruction by calling "
        f'{TOOL_NAME}. Types: pipeline_run (stages style, time with day/dusk/night, weather with '
        'clear/rain/fog/snow, character), qa_check, postprocess (steps bg, upscale, color), layout (chapter, '
        'optional template and stage: approved panels onto new pages), export (cbz, zip, pdf), '
        'backup, custom (anything else, for an external agent). Use only these names. '
        f'Scenes, numbered in project order: {scenes}. Characters: {chars}. '
        f'Colour profiles: {", ".join(vocab.profiles)}. If the request is unclear or names something not listed, '
        'answer type not_understood and say why in objective. Never invent scenes or characters.'
    )


class LLMInterpreter:
    """One chat account's interpreter; the key is decrypted by the caller just before it is built."""

    def __init__(self, config: ProviderConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.transport = transport
        self.timeout_s = config.option_float('timeout_s', DEFAULT_TIMEOUT_S)
        self.max_retries = config.option_int('max_retries', DEFAULT_RETRIES)
        self.base_delay = config.option_float('retry_base_s', 0.5)

    @property
    def url(self) -> str:
        base = self.config.base_url.rstrip('/')
        return f'{base}/chat/completions' if base.endswith('/v1') else f'{base}/v1/chat/completions'

    def request_body(self, text: str, vocab: Vocabulary) -> dict[str, Any]:
        tool = {
            'type': 'function',
            'function': {
                'name': TOOL_NAME,
                'description': 'Propose one instruction for the artist to confirm.',
                'parameters': interpreter.schema(),
            },
        }
        body: dict[str, Any] = {
            'messages': [{'role': 'system', 'content': system_prompt(vocab)}, {'role': 'user', 'content': text}],
            'tools': [tool],
            'tool_choice': {'type': 'function', 'function': {'name': TOOL_NAME}},
            'temperature': 0,
        }
        if self.config.model:
            body['model'] = self.config.model
        return body

    async def ainterpret(self, text: str, vocab: Vocabulary) -> Proposal | NotUnderstood:
        """Ask the model, then hold its answer to the same schema and vocabulary as the grammar."""
        data = await post_json(
            self.url,
            self.request_body(text, vocab),
            provider=self.config.name or 'the chat model',
            token=self.config.api_key,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            base_delay=self.base_delay,
            transport=self.transport,
        )
        return interpreter.build(tool_arguments(data), vocab, source='llm')

    def interpret(self, text: str, vocab: Vocabulary) -> Proposal | NotUnderstood:
        return run_sync(lambda: self.ainterpret(text, vocab))


def interpret_with_fallback(
    text: str, vocab: Vocabulary, llm: LLMInterpreter | None
) -> tuple[Proposal | NotUnderstood, str]:
    """The LLM when configured; if it fails, the offline grammar, with a note that says so."""
    if llm is None:
        return interpreter.interpret(text, vocab), ''
    try:
        return llm.interpret(text, vocab), ''
    except ProviderError as e:
        log.warning('chat interpreter failed (%s); falling back to the offline grammar', e.code)
        note = f'The chat model could not help ({e.user_message}); I used the offline interpreter instead.'
        return interpreter.interpret(text, vocab), note
