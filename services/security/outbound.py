"""Outbound URLs the studio calls (S3 endpoints, provider and agent base URLs), checked before they are saved.

Credentials never ride in a URL (user:pass@, a token in the path or query string): a URL is stored in plain text,
shown on pages and copied into run logs, so keys belong in the encrypted key fields. Only http(s), and no link-local
or cloud metadata address unless an admin setting allows it, so a stored URL cannot turn the studio on its own host.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from services.errors import Invalid

METADATA_HOSTS = frozenset({'metadata.google.internal', 'metadata', 'instance-data', 'metadata.azure.com'})
METADATA_IPS = frozenset({ipaddress.ip_address('169.254.169.254'), ipaddress.ip_address('fd00:ec2::254')})
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


def refuse_credentials(url: str, what: str = 'The base URL') -> None:
    """Refuse a URL that carries a credential, before it is stored or logged; the message never quotes it."""
    if where := credential_in(url):
        raise Invalid(
            f'{what} contains {where}. Enter the URL without it and put the key in the API key field, '
            'where it is stored encrypted; nothing was saved.',
            code='credentials_in_url',
        )


def check_outbound_url(url: str, *, what: str, allow_link_local: bool = False, resolve: bool = True) -> str:
    """The URL, stripped, or a typed error that says what is wrong and where a credential belongs instead."""
    text = (url or '').strip()
    parts = urlsplit(text)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise Invalid(f'{what} must be an http:// or https:// URL with a host.', code='url_invalid')
    refuse_credentials(text, what)
    if not allow_link_local:
        _refuse_link_local(parts.hostname, what, resolve=resolve)
    return text.rstrip('/')


def _refuse_link_local(host: str, what: str, *, resolve: bool) -> None:
    name = host.strip('[]').lower().rstrip('.')
    if name in METADATA_HOSTS:
        raise _refused(what, name)
    addresses: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    try:
        addresses.add(ipaddress.ip_address(name))
    except ValueError:
        if resolve:
            # an unresolvable name is the health check's business, not a security question
            with contextlib.suppress(OSError, ValueError):
                addresses |= {ipaddress.ip_address(info[4][0].split('%')[0]) for info in socket.getaddrinfo(name, None)}
    for ip in addresses:
        mapped = getattr(ip, 'ipv4_mapped', None) or ip
        if mapped in METADATA_IPS or mapped.is_link_local:
            raise _refused(what, str(ip))


def _refused(what: str, address: str) -> Invalid:
    return Invalid(
        f'{what} points at {address}, a link-local or cloud metadata address the studio does not call '
        '(an admin can allow it with KROMA_ALLOW_LINK_LOCAL_URLS=true).',
        code='url_link_local',
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
