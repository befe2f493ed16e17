"""A loopback external agent: takes instruction POSTs, checks the bearer token, answers or fails as scripted."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from tests.fakes.loopback import LoopbackFake, RecordedRequest, Reply, json_reply


class FakeAgentServer(LoopbackFake):
    """POST /instructions → {'status': ...}; the next scripted reply first, else the default status."""

    def __init__(self, *, token: str = 'agent-token-123', status: str = 'done', latency_s: float = 0.0) -> None:
        super().__init__()
        self.token, self.status, self.latency_s = token, status, latency_s
        self.script: deque[Reply] = deque()

    @property
    def url(self) -> str:
        return f'{self.base_url}/instructions'

    def check_auth(self, header: str) -> bool:
        return header == f'Bearer {self.token}'

    def fail_next(self, status: int, *, times: int = 1) -> None:
        with self.lock:
            self.script.extend([json_reply(status, {'error': {'message': f'scripted failure {status}'}})] * times)

    def route(self, rec: RecordedRequest, body: bytes, content_type: str) -> Reply:
        if not rec.auth_ok:
            return json_reply(401, {'error': {'message': 'bad token'}})
        if rec.method != 'POST' or rec.path != '/instructions':
            return json_reply(404, {'error': {'message': 'not found'}})
        rec.json = json.loads(body or b'{}')
        self.sleep(self.latency_s)
        with self.lock:
            reply = self.script.popleft() if self.script else None
        return reply or json_reply(200, self._answer(rec.json))

    def _answer(self, req: dict[str, Any]) -> dict[str, Any]:
        return {
            'status': self.status,
            'instruction_id': req.get('instruction_id'),
            'result': {'echo': req.get('objective')},
        }
