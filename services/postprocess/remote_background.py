"""Paid cut-out services (remove.bg, PhotoRoom) over async httpx, used only when the project holds a key."""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass

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
from services.providers.multipart import encode_multipart

log = logging.getLogger(__name__)

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


@dataclass(frozen=True)
class RemoteService:
    """How one vendor is called; both take a multipart image_file and answer PNG bytes."""

    label: str
    base_url: str
    path: str
    key_header: str
    fields: tuple[tuple[str, str], ...]


SERVICES = {
    'removebg': RemoteService(
        'remove.bg', 'https://api.remove.bg', '/v1.0/removebg', 'X-Api-Key', (('size', 'auto'), ('format', 'png'))
    ),
    'photoroom': RemoteService('PhotoRoom', 'https://sdk.photoroom.com', '/v1/segment', 'x-api-key', ()),
}
SERVICE_ALIASES = {'removebg': 'removebg', 'remove.bg': 'removebg', 'remove_bg': 'removebg', 'photoroom': 'photoroom'}


async def remove_background_remote(
    image_png: bytes,
    *,
    service: str,
    api_key: str,
    base_url: str | None = None,
    client: httpx.AsyncClient | None = None,
    timeout_s: float = 60,
) -> bytes:
    """Send one image to the vendor and return its PNG cut-out; every failure becomes a typed provider error."""
    spec = SERVICES.get(SERVICE_ALIASES.get(service.strip().lower(), ''))
    if spec is None:
        raise Invalid(f'Unknown background service {service!r}; use removebg or photoroom.', code='invalid_service')
    if not api_key:
        raise ProviderAuthError(f'No {spec.label} API key is configured for this project.')
    if not image_png:
        raise Invalid('The image to cut out is empty.', code='image_empty')
    base = (base_url or spec.base_url).rstrip('/')
    if not base.startswith(('https://', 'http://')):
        raise Invalid(f'{spec.label} base URL must start with https:// or http://.', code='invalid_base_url')
    url = base + spec.path
    headers = {spec.key_header: api_key, 'Accept': 'image/png, application/json'}
    body, headers['Content-Type'] = encode_multipart(
        dict(spec.fields), [('image_file', 'image.png', image_png, 'image/png')]
    )
    started = time.perf_counter()
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=timeout_s) as own:
                response = await own.post(url, headers=headers, content=body)
        else:
            response = await client.post(url, headers=headers, content=body, timeout=timeout_s)
    except httpx.TimeoutException as e:
        raise ProviderTimeout(f'{spec.label} did not answer within {timeout_s:g} s.') from e
    except httpx.TransportError as e:
        raise ProviderUnavailable(f'{spec.label} could not be reached: {type(e).__name__}.') from e
    ms = (time.perf_counter() - started) * 1000
    if response.status_code == 200:
        if not response.content.startswith(PNG_SIGNATURE):
            raise ProviderError(f'{spec.label} answered without a PNG image.', code='provider_bad_response')
        log.info('%s cut-out: %d bytes in %.0f ms', spec.label, len(response.content), ms)
        return response.content
    log.warning('%s answered HTTP %d in %.0f ms', spec.label, response.status_code, ms)
    raise _error_for(spec, response, api_key)


def _error_for(spec: RemoteService, response: httpx.Response, api_key: str) -> ProviderError:
    """Map the vendor's status and error body to the project's typed errors; the key never reaches a message."""
    status = response.status_code
    detail = _vendor_message(response)
    if len(api_key) >= 4:
        detail = detail.replace(api_key, '***')
    suffix = f': {detail}' if detail else ''
    if status in (401, 403):
        return ProviderAuthError(
            f'{spec.label} rejected the API key (HTTP {status}). Check the key in the project secrets.'
        )
    if status == 402:
        return ProviderBadRequest(f'{spec.label} account is out of credits (HTTP 402){suffix}', code='out_of_credits')
    retry_after = _retry_after(response.headers.get('Retry-After'))
    if status == 429:
        wait = f' Retry after {retry_after:g} s.' if retry_after is not None else ''
        return ProviderRateLimited(f'{spec.label} rate limit reached (HTTP 429).{wait}', retry_after=retry_after)
    if status >= 500:
        return ProviderUnavailable(f'{spec.label} is unavailable (HTTP {status}){suffix}', retry_after=retry_after)
    return ProviderBadRequest(f'{spec.label} refused the image (HTTP {status}){suffix}')


def _vendor_message(response: httpx.Response) -> str:
    """remove.bg sends {"errors": [{"title", "code"}]}, PhotoRoom {"detail"} or {"message"}; anything else is ignored."""
    try:
        body = response.json()
    except ValueError:
        return ''
    if not isinstance(body, dict):
        return ''
    errors = body.get('errors')
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = f' ({first["code"]})' if first.get('code') else ''
        return f'{first.get("title") or first.get("detail") or "error"}{code}'[:300]
    for key in ('detail', 'message', 'error'):
        if isinstance(body.get(key), str):
            return body[key][:300]
    return ''


def _retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date; both become seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
