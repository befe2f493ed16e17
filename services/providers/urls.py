"""Provider base URLs: credentials never ride in them (user:pass@, a token in the path or query string), because a
URL is stored in plain text, shown on pages and copied into run logs; keys belong in the encrypted key field."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from services.errors import Invalid

SECRET_PARAMS = {
    'key',
    'api_key',
    'apikey',
    'api-key',
    'x-api-key',
    'token',
    'access_token',
    'auth',
    'authorization',
    'secret',
    'client_secret',
    'password',
    'pass',
    'sig',
    'signature',
}
_KEY_PREFIX = re.compile(r'^(sk|pk|rk|ak|key|api|tok|token|bearer|ghp|hf|xox[a-z])[-_][A-Za-z0-9_\-]{8,}$', re.I)
_TOKEN_CHARS = re.compile(r'^[A-Za-z0-9_\-.~+=]{32,}$')
_UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', re.I)


def looks_like_token(text: str) -> bool:
    """A key-shaped word (sk-…, key_…) or a long random-looking string of letters and digits; UUIDs are ids."""
    if _KEY_PREFIX.match(text):
        return True
    if not _TOKEN_CHARS.match(text) or _UUID.match(text):
        return False
    return bool(re.search(r'[A-Za-z]', text)) and bool(re.search(r'\d', text))


def credential_in(url: str) -> str:
    """Where a URL carries a credential (a short phrase that never repeats it), or '' when it carries none."""
    parts = urlsplit(url)
    if '@' in parts.netloc:
        return 'a user name or password before the host (user:pass@)'
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if value and (name.lower() in SECRET_PARAMS or looks_like_token(value)):
            return f'a token in the query string ({name}=…)'
    if any(looks_like_token(segment) for segment in parts.path.split('/')):
        return 'a token in the path'
    if parts.fragment:
        return 'a #fragment'
    return ''


def refuse_credentials(url: str) -> None:
    """Refuse a base URL that carries a credential, before it is stored or logged; the message never quotes it."""
    if where := credential_in(url):
        raise Invalid(
            f'The base URL contains {where}. Enter the URL without it and put the key in the API key field, '
            'where it is stored encrypted; nothing was saved.',
            code='credentials_in_url',
        )


def safe_url(url: str) -> str:
    """A URL as it may be shown or logged: without user info, query string or token-like path segments."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ''
    host = parts.netloc.rsplit('@', 1)[-1]
    path = '/'.join('***' if looks_like_token(seg) else seg for seg in parts.path.split('/'))
    return urlunsplit((parts.scheme, host, path, '', ''))
