"""Shared pieces of the fetch tests: settings, a fixed clock, raw-socket replies."""

from __future__ import annotations

import asyncio
import http.server
import socket
import struct
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from aggregator.fetch import Fetcher
from aggregator.model import FetchRequest, FetchResult, FetchSettings

T = TypeVar("T")

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def settings(**overrides: Any) -> FetchSettings:
    """Loopback-friendly settings: private networks allowed, no per-host spacing."""
    values: dict[str, Any] = {"allow_private_networks": True, "per_host_delay_seconds": 0.0}
    values.update(overrides)
    return FetchSettings(**values)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fetch_once(
    url: str, *, etag: str | None = None, last_modified: str | None = None, **overrides: Any
) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings(**overrides), clock=clock) as fetcher:
            return await fetcher.fetch(FetchRequest(url, etag=etag, last_modified=last_modified))

    return run(go())


def write_raw(handler: http.server.BaseHTTPRequestHandler, data: bytes) -> None:
    """Write bytes straight to the socket (no automatic Date/Server headers)."""
    try:
        handler.wfile.write(data)
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass


def raw_response(status: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def reset_connection(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Close with RST instead of FIN."""
    sock = handler.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
