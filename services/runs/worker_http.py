"""The worker's HTTP client: one per worker pass, its network stack imported and its TLS context built up front."""

from __future__ import annotations

import importlib
import ssl
from functools import cache

import anyio
import anyio.lowlevel
import httpx


def _preload_network_stack() -> None:
    """httpx's async stack imports ~0.2 s of modules (anyio's lazy parts and its asyncio backend) inside the first
    call, with the event loop blocked; a worker process pays that once, at import, instead of in its first run."""
    _ = anyio.Event, anyio.lowlevel.checkpoint
    importlib.import_module('anyio._backends._asyncio')
    importlib.import_module('httpcore._backends.anyio')


_preload_network_stack()


@cache
def tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~0.1 s; every worker pass reuses one context."""
    return httpx.create_ssl_context()


def worker_client() -> httpx.AsyncClient:
    """Shared by every provider of a worker pass: connections are reused between calls."""
    return httpx.AsyncClient(
        verify=tls_context(), timeout=None, limits=httpx.Limits(max_connections=64, max_keepalive_connections=16)
    )
