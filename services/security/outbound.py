"""Outbound URLs the studio will call (S3 endpoints, provider and agent base URLs): checked before they are saved.

No credentials ride in a URL (they go to the encrypted key fields), only http(s), and no link-local or cloud
metadata address unless an admin setting allows it, so a stored URL cannot turn the studio against its own host.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from urllib.parse import parse_qsl, urlsplit

from services.errors import Invalid

METADATA_HOSTS = frozenset({'metadata.google.internal', 'metadata', 'instance-data', 'metadata.azure.com'})
METADATA_IPS = frozenset({ipaddress.ip_address('169.254.169.254'), ipaddress.ip_address('fd00:ec2::254')})
SECRETISH = re.compile(r'(?i)(api[_-]?key|token|secret|password|passwd|access[_-]?key|signature|sig|auth)')
KEYLIKE = re.compile(r'(sk-[A-Za-z0-9_-]{8,}|kroma_[A-Za-z0-9_-]{8,}|[A-Za-z0-9_-]{32,})')


def check_outbound_url(url: str, *, what: str, allow_link_local: bool = False, resolve: bool = True) -> str:
    """The URL, stripped, or a typed error that says what is wrong and where the credential belongs instead."""
    text = (url or '').strip()
    parts = urlsplit(text)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise Invalid(f'{what} must be an http:// or https:// URL with a host (got "{text[:80]}").', code='url_invalid')
    if parts.username or parts.password or '@' in parts.netloc:
        raise Invalid(
            f'{what} must not contain a user name or password; put the key in the key field, where it is encrypted.',
            code='url_has_credentials',
        )
    if any(SECRETISH.search(k) for k, _ in parse_qsl(parts.query, keep_blank_values=True)) or KEYLIKE.search(
        parts.path + '?' + parts.query
    ):
        raise Invalid(
            f'{what} looks like it carries a key or token in its path or query; put the key in the key field, '
            'where it is encrypted, and keep the URL to the server address.',
            code='url_has_credentials',
        )
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
