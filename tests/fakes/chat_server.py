"""A loopback server speaking the OpenAI chat-completions wire format with tool calls, scripted answers and failures."""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from tests.fakes.loopback import LoopbackFake, RecordedRequest, Reply, json_reply
from tests.fakes.openai_server import openai_error


class FakeChatServer(LoopbackFake):
    """POST /v1/chat/completions: answers with the next scripted tool call (or failure); logs every request."""

    def __init__(self, *, valid_keys: tuple[str, ...] = ('sk-chat-good',), latency_s: float = 0.0) -> None:
        super().__init__()
        self.valid_keys = set(valid_keys)
        self.latency_s = latency_s
        self.script: deque[Reply] = deque()

    def check_auth(self, header: str) -> bool:
        return not self.valid_keys or (header.startswith('Bearer ') and header[7:] in self.valid_keys)

    def answer(self, arguments: dict[str, Any] | str, *, name: str = 'propose_instruction') -> None:
        """Queue one tool call; a str is sent as it is (so a test can send broken JSON)."""
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        message = {
            'role': 'assistant',
            'content': None,
            'tool_calls': [{'id': 'call_1', 'type': 'function', 'function': {'name': name, 'arguments': args}}],
        }
        self.answer_raw(message)

    def answer_raw(self, message: dict[str, Any]) -> None:
        """Queue an assistant message exactly as given (e.g. plain text with no tool call)."""
        body = {
            'id': 'chatcmpl-fake',
            'object': 'chat.completion',
            'created': 1764028800,
            'model': 'fake-chat',
            'choices': [{'index': 0, 'message': message, 'finish_reason': 'tool_calls'}],
            'usage': {'prompt_tokens': 100, 'completion_tokens': 20, 'total_tokens': 120},
        }
        with self.lock:
            self.script.append(json_reply(200, body))

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        headers = {'Retry-After': f'{retry_after:g}'} if retry_after is not None else {}
        kind = 'server_error' if status >= 500 else 'rate_limit_exceeded' if status == 429 else 'invalid_request_error'
        with self.lock:
            self.script.extend(
                [openai_error(status, f'scripted failure {status}', type_=kind, headers=headers)] * times
            )

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == '/v1/chat/completions']

    def route(self, rec: RecordedRequest, body: bytes, content_type: str) -> Reply:
        started = time.monotonic()
        if not rec.auth_ok:
            return openai_error(401, 'Incorrect API key provided.', code='invalid_api_key')
        if rec.method != 'POST' or rec.path != '/v1/chat/completions':
            return openai_error(404, f'Invalid URL ({rec.method} {rec.path})')
        try:
            rec.json = json.loads(body or b'{}')
        except ValueError:
            return openai_error(400, 'We could not parse the JSON body of your request.')
        if not rec.json.get('messages'):
            return openai_error(400, "Missing required parameter: 'messages'.")
        with self.lock:
            reply = self.script.popleft() if self.script else None
        if reply is None:
            self.answer({'type': 'not_understood', 'objective': 'Nothing was scripted for this request.'})
            with self.lock:
                reply = self.script.popleft()
        self.sleep(started + self.latency_s - time.monotonic())
        return reply
