"""A loopback server speaking ComfyUI's HTTP API: uploads, graph validation, a serial queue, history and /view."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.loopback import LoopbackFake, RecordedRequest, Reply, json_reply, make_png, parse_multipart

REQUIRED_NODES = ('CheckpointLoaderSimple', 'CLIPTextEncode', 'KSampler', 'VAEDecode', 'SaveImage')
INT_INPUTS = {'KSampler': ('seed', 'steps'), 'ImageScale': ('width', 'height'), 'EmptyLatentImage': ('width', 'height')}
FLOAT_INPUTS = {'KSampler': ('cfg', 'denoise')}


@dataclass
class Job:
    prompt_id: str
    number: int
    graph: dict
    ready_at: float
    outputs: dict = field(default_factory=dict)
    render_lock: threading.Lock = field(default_factory=threading.Lock)


class FakeComfyUIServer(LoopbackFake):
    """Runs `workers` prompts at a time (a real ComfyUI runs one); each takes `latency_s` once it starts."""

    def __init__(
        self,
        *,
        checkpoints: tuple[str, ...] = ('sdxl_comic.safetensors', 'v1-5-pruned-emaonly.safetensors'),
        latency_s: float = 0.2,
        workers: int = 1,
        version: str = '0.3.68',
    ) -> None:
        super().__init__()
        self.checkpoints = list(checkpoints)
        self.latency_s = latency_s
        self.workers = workers
        self.version = version
        self.uploads: dict[str, bytes] = {}
        self.outputs: dict[tuple[str, str], bytes] = {}
        self.jobs: dict[str, Job] = {}
        self.execution_errors: deque[str] = deque()
        self.node_errors: deque[dict] = deque()
        self.failures: deque[tuple[str, int]] = deque()
        self._free_at = [0.0] * workers
        self._counter = 0

    def fail_next(self, status: int, *, path_prefix: str = '/upload', times: int = 1) -> None:
        """Script the next request(s) under path_prefix to fail with an HTTP status (e.g. 500)."""
        with self.lock:
            self.failures.extend([(path_prefix, status)] * times)

    def node_error_next(self, node_errors: dict | None = None) -> None:
        """Script the next /prompt to fail validation with these node errors (a realistic default if None)."""
        default = {
            '4': {
                'errors': [
                    {
                        'type': 'value_not_in_list',
                        'message': 'Value not in list',
                        'details': "ckpt_name: 'missing.safetensors' not in [...]",
                        'extra_info': {},
                    }
                ],
                'dependent_outputs': ['9'],
                'class_type': 'CheckpointLoaderSimple',
            }
        }
        with self.lock:
            self.node_errors.append(node_errors or default)

    def execution_error_next(self, message: str = 'CUDA out of memory') -> None:
        """Script the next queued prompt to fail while running (history status 'error')."""
        with self.lock:
            self.execution_errors.append(message)

    def route(self, rec: RecordedRequest, body: bytes, content_type: str) -> Reply:
        path = rec.path.removeprefix('/api') if rec.path.startswith('/api/') else rec.path
        with self.lock:
            failure = next((f for f in self.failures if path.startswith(f[0])), None)
            if failure:
                self.failures.remove(failure)
        if failure:
            return json_reply(failure[1], {'error': f'scripted failure {failure[1]}'})
        if rec.method == 'POST' and path == '/upload/image':
            return self._upload(rec, body, content_type)
        if rec.method == 'POST' and path == '/prompt':
            try:
                rec.json = json.loads(body or b'{}')
            except ValueError:
                return json_reply(400, {'error': {'type': 'invalid_prompt', 'message': 'Invalid JSON'}})
            return self._prompt(rec.json)
        if rec.method == 'GET' and path.startswith('/history/'):
            return self._history(path.removeprefix('/history/'))
        if rec.method == 'GET' and path == '/view':
            q = {k: v[0] for k, v in rec.query.items()}
            data = self.outputs.get((q.get('subfolder', ''), q.get('filename', '')))
            if q.get('type', 'output') == 'input':
                data = self.uploads.get(q.get('filename', ''))
            return Reply(200, data, 'image/png') if data else Reply(404, b'404: Not Found', 'text/plain')
        if rec.method == 'GET' and path == '/system_stats':
            system = {
                'os': 'posix',
                'python_version': '3.12.7',
                'embedded_python': False,
                'comfyui_version': self.version,
                'pytorch_version': '2.9.0',
                'ram_total': 64 << 30,
            }
            devices = [{'name': 'cuda:0 Fake GPU', 'type': 'cuda', 'index': 0, 'vram_total': 24 << 30}]
            return json_reply(200, {'system': system, 'devices': devices})
        if rec.method == 'GET' and path == '/object_info/CheckpointLoaderSimple':
            spec = {
                'input': {'required': {'ckpt_name': [list(self.checkpoints), {'tooltip': 'checkpoint'}]}},
                'output': ['MODEL', 'CLIP', 'VAE'],
                'name': 'CheckpointLoaderSimple',
                'category': 'loaders',
            }
            return json_reply(200, {'CheckpointLoaderSimple': spec})
        return Reply(404, b'404: Not Found', 'text/plain')

    def _upload(self, rec: RecordedRequest, body: bytes, content_type: str) -> Reply:
        rec.fields, parts = parse_multipart(content_type, body)
        rec.images = [{k: v for k, v in p.items() if k != 'data'} for p in parts]
        part = next((p for p in parts if p['field'] == 'image'), None)
        if part is None:
            return Reply(400, b'400: Bad Request', 'text/plain')
        name = part['filename'] or 'image.png'
        with self.lock:
            if name in self.uploads and rec.fields.get('overwrite') != 'true':
                stem, _, ext = name.rpartition('.')
                name = f'{stem} ({len(self.uploads)}).{ext}'
            self.uploads[name] = part['data']
        return json_reply(200, {'name': name, 'subfolder': rec.fields.get('subfolder', ''), 'type': 'input'})

    def _prompt(self, payload: Any) -> Reply:
        graph = payload.get('prompt') if isinstance(payload, dict) else None
        if not isinstance(graph, dict) or not graph:
            return json_reply(
                400,
                {
                    'error': {
                        'type': 'invalid_prompt',
                        'message': 'No prompt provided',
                        'details': '',
                        'extra_info': {},
                    },
                    'node_errors': {},
                },
            )
        with self.lock:
            scripted = self.node_errors.popleft() if self.node_errors else None
        errors = scripted or self.validate(graph)
        if errors:
            return json_reply(
                400,
                {
                    'error': {
                        'type': 'prompt_outputs_failed_validation',
                        'details': '',
                        'message': 'Prompt outputs failed validation',
                        'extra_info': {},
                    },
                    'node_errors': errors,
                },
            )
        with self.lock:
            self._counter += 1
            now = time.monotonic()
            slot = min(range(self.workers), key=lambda i: self._free_at[i])
            ready = max(now, self._free_at[slot]) + self.latency_s
            self._free_at[slot] = ready
            job = Job(uuid.uuid4().hex, self._counter, graph, ready)
            if self.execution_errors:
                job.outputs = {'error': self.execution_errors.popleft()}
            self.jobs[job.prompt_id] = job
        if not job.outputs:  # produce the image while the "GPU" is busy, so history answers at once when ready
            threading.Thread(target=self._render, args=(job,), daemon=True).start()
        return json_reply(200, {'prompt_id': job.prompt_id, 'number': job.number, 'node_errors': {}})

    def validate(self, graph: dict) -> dict:
        """Node errors the way ComfyUI reports them: missing nodes, bad links, leftover placeholders, wrong types."""
        errors: dict[str, dict] = {}

        def add(node_id: str, cls: str, type_: str, message: str, details: str) -> None:
            entry = errors.setdefault(node_id, {'errors': [], 'dependent_outputs': [], 'class_type': cls})
            entry['errors'].append({'type': type_, 'message': message, 'details': details, 'extra_info': {}})

        classes = {node.get('class_type') for node in graph.values() if isinstance(node, dict)}
        for missing in [c for c in REQUIRED_NODES if c not in classes]:
            add('graph', missing, 'missing_node', 'Required node missing', f'no {missing} node in the workflow')
        for node_id, node in graph.items():
            cls = node.get('class_type', '?')
            for name, value in (node.get('inputs') or {}).items():
                if isinstance(value, str) and '{{' in value:
                    add(node_id, cls, 'invalid_input', 'Unsubstituted placeholder', f'{name}: {value!r}')
                if isinstance(value, list) and (len(value) != 2 or str(value[0]) not in graph):
                    add(node_id, cls, 'bad_linked_input', 'Bad linked input', f'{name}: {value!r}')
            for name in INT_INPUTS.get(cls, ()):
                if not isinstance(node['inputs'].get(name), int):
                    add(node_id, cls, 'invalid_input_type', 'Expected INT', f'{name}: {node["inputs"].get(name)!r}')
            for name in FLOAT_INPUTS.get(cls, ()):
                if not isinstance(node['inputs'].get(name), int | float):
                    add(node_id, cls, 'invalid_input_type', 'Expected FLOAT', f'{name}: {node["inputs"].get(name)!r}')
            if cls == 'CheckpointLoaderSimple' and node['inputs'].get('ckpt_name') not in self.checkpoints:
                add(
                    node_id,
                    cls,
                    'value_not_in_list',
                    'Value not in list',
                    f"ckpt_name: '{node['inputs'].get('ckpt_name')}' not in {self.checkpoints}",
                )
            if cls == 'LoadImage' and node['inputs'].get('image') not in self.uploads:
                add(
                    node_id,
                    cls,
                    'value_not_in_list',
                    'Value not in list',
                    f"image: '{node['inputs'].get('image')}' not in the input folder",
                )
        return errors

    def _history(self, prompt_id: str) -> Reply:
        with self.lock:
            job = self.jobs.get(prompt_id)
        if job is None or time.monotonic() < job.ready_at:
            return json_reply(200, {})
        if 'error' in job.outputs:
            msg = [
                'execution_error',
                {
                    'prompt_id': prompt_id,
                    'node_id': '3',
                    'node_type': 'KSampler',
                    'exception_message': job.outputs['error'],
                    'exception_type': 'RuntimeError',
                },
            ]
            status = {'status_str': 'error', 'completed': False, 'messages': [msg]}
            return json_reply(
                200,
                {prompt_id: {'prompt': [job.number, prompt_id, job.graph, {}, []], 'outputs': {}, 'status': status}},
            )
        outputs = self._render(job)
        status = {
            'status_str': 'success',
            'completed': True,
            'messages': [['execution_start', {'prompt_id': prompt_id}], ['execution_success', {}]],
        }
        return json_reply(
            200,
            {
                prompt_id: {
                    'prompt': [job.number, prompt_id, job.graph, {}, list(outputs)],
                    'outputs': outputs,
                    'status': status,
                }
            },
        )

    def _render(self, job: Job) -> dict:
        """Make the job's output PNG once: the loaded image fitted to the requested size and tinted by the seed."""
        with job.render_lock:
            if not job.outputs:
                job.outputs = self._draw(job)
        return job.outputs

    def _draw(self, job: Job) -> dict:
        g = job.graph
        nodes = {node.get('class_type'): node['inputs'] for node in g.values()}
        size_node = nodes.get('ImageScale') or nodes.get('EmptyLatentImage') or {'width': 512, 'height': 512}
        source = self.uploads.get(nodes['LoadImage']['image']) if 'LoadImage' in nodes else None
        key = hashlib.sha256(json.dumps(g, sort_keys=True).encode()).hexdigest()
        png = make_png((int(size_node['width']), int(size_node['height'])), key, source)
        outputs = {}
        for node_id, node in g.items():
            if node.get('class_type') == 'SaveImage':
                subfolder, _, stem = str(node['inputs'].get('filename_prefix', 'ComfyUI')).rpartition('/')
                filename = f'{stem}_{job.number:05d}_.png'
                with self.lock:
                    self.outputs[(subfolder, filename)] = png
                outputs[node_id] = {'images': [{'filename': filename, 'subfolder': subfolder, 'type': 'output'}]}
        return outputs
