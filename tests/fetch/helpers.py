"""Shared pieces of the fetch tests: settings, a fixed clock, raw-socket replies, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

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


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate and its key for 127.0.0.1, valid one day, made by ``openssl``."""
    openssl = shutil.which("openssl")
    if openssl is None:  # pragma: no cover - Debian images have it
        pytest.skip("the openssl command is needed to make a certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.contextmanager
def tls_server(
    cert: Path, key: Path, handler: type[http.server.BaseHTTPRequestHandler]
) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 with ``cert``, in a thread; yields its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
