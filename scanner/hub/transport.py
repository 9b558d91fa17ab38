"""The HTTP client a run's requests go through: one of its own, never huggingface_hub's shared
one (`get_session()`), which belongs to the whole process. From the pytest plugin that process
is the user's own test session, whose tests use huggingface_hub too: nothing of that library,
nor of the HTTP stack below it, is changed."""

from __future__ import annotations

import urllib.request
from typing import Any

import httpcore2
import httpx2 as httpx

#: The socket read size: the HTTP stack reads 64 KiB at a time, and larger reads cut the CPU
#: time of a fast fetch (figures: docs/performance.md, "Constants and what chose them").
READ_BYTES = 1024 * 1024


def own_client(timeout: float, auth: tuple[str, str] | None) -> httpx.Client:
    """A client with the run's timeout (huggingface_hub's waits forever for an answer, and a
    Hub that accepts the connection and never answers hung the run), following redirects (httpx
    drops the credentials when a redirect leaves the endpoint's origin, as the Hub's CDN
    redirects do)."""
    return httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True, auth=auth,
                        transport=_large_reads())


def _large_reads() -> httpx.BaseTransport | None:
    """A transport that reads the socket `READ_BYTES` at a time; None (httpx's own, which
    routes through them) when the environment names a proxy (`HTTPS_PROXY`, `ALL_PROXY`...):
    httpx reads that setting only for a client without a transport of its own."""
    if urllib.request.getproxies():
        return None
    return _Transport()


class _Transport(httpx.HTTPTransport):
    """httpx's transport over a connection pool of its own whose network backend reads more
    per call (`network_backend` is the pool's documented hook; the connection classes keep
    their defaults)."""

    def __init__(self) -> None:  # not httpx's: its pool would be made, then dropped
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=100,  # httpx's defaults
            max_keepalive_connections=20, keepalive_expiry=5.0, network_backend=_Backend())


class _Backend(httpcore2.SyncBackend):
    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore2.NetworkStream:
        return _Stream(super().connect_tcp(*args, **kwargs))


class _Stream(httpcore2.NetworkStream):
    """A socket stream whose reads ask for at least `READ_BYTES`."""

    def __init__(self, stream: httpcore2.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max(max_bytes, READ_BYTES), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore2.NetworkStream:
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
