"""ComfyUI's answers read into sentences: node errors, execution errors, outputs, installed checkpoints; and which
inputs a workflow uses, so only those are uploaded."""

from __future__ import annotations

from services.errors import ProviderBadRequest, ProviderError
from services.providers.base import InputImage
from services.providers.workflow import placeholders


def used_inputs(graph: dict, inputs: tuple[InputImage, ...]) -> list[int]:
    """Indexes of the inputs the workflow names ({{image}}, {{<role>_image}} or {{image_N}}); others stay home."""
    names = placeholders(graph)
    used, roles = [], set()
    for i, image in enumerate(inputs):
        first_of_role = image.role not in roles
        roles.add(image.role)
        if f'image_{i}' in names or (first_of_role and f'{image.role}_image' in names) or (i == 0 and 'image' in names):
            used.append(i)
    return used


def lost_input(err: ProviderBadRequest) -> bool:
    """ComfyUI refused a LoadImage value: a file uploaded earlier is no longer in its input folder."""
    return any(
        info.get('class_type') == 'LoadImage'
        and any(e.get('type') == 'value_not_in_list' for e in info.get('errors', []))
        for info in (err.details.get('node_errors') or {}).values()
    )


def node_error(body: dict) -> ProviderBadRequest:
    """A readable sentence from ComfyUI's {error, node_errors}: which node, which input, what is wrong."""
    parts, code = [], 'workflow_invalid'
    for node_id, info in (body.get('node_errors') or {}).items():
        for err in info.get('errors', []):
            detail = str(err.get('details') or '')[:200]
            parts.append(
                f'{info.get("class_type", "node")} (node {node_id}): {err.get("message", "error")}'
                + (f' — {detail}' if detail else '')
            )
            if info.get('class_type') == 'CheckpointLoaderSimple' and err.get('type') == 'value_not_in_list':
                code = 'unknown_model'
    top = body.get('error')
    head = top.get('message', 'invalid workflow') if isinstance(top, dict) else str(top or 'invalid workflow')
    return ProviderBadRequest(
        f'ComfyUI rejected the workflow: {head}' + (': ' + '; '.join(parts) if parts else '.'),
        code=code,
        details={'node_errors': body.get('node_errors') or {}},
    )


def execution_error(prompt_id: str, status: dict) -> ProviderError:
    """The failing node and exception from a history entry whose status is error."""
    for kind, data in status.get('messages') or []:
        if kind == 'execution_error':
            return ProviderError(
                f'ComfyUI failed in {data.get("node_type", "a node")} (node {data.get("node_id")}): '
                f'{data.get("exception_message", "unknown error")}'.strip(),
                code='execution_error',
            )
    return ProviderError(f'ComfyUI reported an error for prompt {prompt_id}.', code='execution_error')


def output_images(entry: dict) -> list[tuple[str, dict]]:
    """(node id, image ref) for every saved output image, in node order."""
    out = []
    for node_id, node_out in sorted((entry.get('outputs') or {}).items(), key=lambda kv: kv[0]):
        out += [(node_id, im) for im in node_out.get('images', []) if im.get('type', 'output') == 'output']
    if not out:
        raise ProviderError('ComfyUI finished the workflow but saved no output image.', code='bad_response')
    return out


def installed_checkpoints(info: dict) -> list[str]:
    """Checkpoint names from /object_info/CheckpointLoaderSimple (both the old and the new list shape)."""
    spec = ((info.get('CheckpointLoaderSimple') or {}).get('input') or {}).get('required', {}).get('ckpt_name') or []
    first = spec[0] if spec else []
    if isinstance(first, list):
        return [str(x) for x in first]
    if first == 'COMBO' and len(spec) > 1 and isinstance(spec[1], dict):
        return [str(x) for x in spec[1].get('options', [])]
    return []


def checkpoint_verdict(
    version: str, where: str, checkpoint: str, installed: list[str], names: set[str]
) -> tuple[bool, str, str]:
    """The health check's verdict on the checkpoint: set and installed, set but missing, or not set at all."""
    listing = ', '.join(installed[:8]) or 'none'
    if not checkpoint:
        if 'checkpoint' not in names:
            return True, f'ComfyUI {version} is reachable at {where}; the workflow names its own checkpoint.', 'ok'
        return (
            False,
            f'ComfyUI {version} is reachable at {where}, but no checkpoint is set for this account. '
            f'Set one in the provider settings; installed: {listing}.',
            'checkpoint_missing',
        )
    if checkpoint in installed:
        return True, f"ComfyUI {version} is reachable at {where} and checkpoint '{checkpoint}' is installed.", 'ok'
    return (
        False,
        f"ComfyUI {version} is reachable, but the checkpoint set for this account, '{checkpoint}', is not installed "
        f'on it. Installed: {listing}.',
        'unknown_model',
    )
