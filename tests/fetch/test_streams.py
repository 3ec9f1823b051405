"""The asyncio network backend (``aggregator.fetch.streams``) behaves as httpcore's own.

Real sockets on 127.0.0.1 throughout; TLS against a loopback server with a certificate made
for the test by the ``openssl`` command.
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpcore
import httpx
import pytest

from aggregator.fetch import Fetcher
from aggregator.fetch.guard import GuardedBackend, allow_all
from aggregator.fetch.streams import AsyncioBackend, AsyncioStream
from aggregator.model import FetchRequest, FetchStatus
from tests.fetch.helpers import run, self_signed_certificate, settings, tls_server

FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


def test_the_guard_connects_through_asyncio_streams(listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    async def go() -> None:
        stream = await GuardedBackend(allow_all).connect_tcp("127.0.0.1", port)
        assert isinstance(stream, AsyncioStream)
        await stream.aclose()

    run(go())


def test_streams_answer_the_pools_liveness_check_like_httpcore(listener: socket.socket) -> None:
    """Our cheap ``is_readable`` (one poll of the socket looked up once) agrees with the anyio
    backend's answer on the same events: idle → not readable; data or EOF waiting →
    readable (the pool then drops the connection); closed → readable, never reused."""
    port = listener.getsockname()[1]

    async def go() -> list[tuple[bool, bool]]:
        ours = await AsyncioBackend().connect_tcp("127.0.0.1", port)
        ours_peer, _ = listener.accept()
        theirs = await httpcore.AnyIOBackend().connect_tcp("127.0.0.1", port)
        theirs_peer, _ = listener.accept()
        answers = []

        def both() -> tuple[bool, bool]:
            return ours.get_extra_info("is_readable"), theirs.get_extra_info("is_readable")

        answers.append(both())  # idle
        for peer in (ours_peer, theirs_peer):
            peer.sendall(b"x")
        await asyncio.sleep(0.05)
        answers.append(both())  # data waiting
        assert await ours.read(1) == b"x"
        assert await theirs.read(1) == b"x"
        for peer in (ours_peer, theirs_peer):
            peer.close()
        await asyncio.sleep(0.05)
        answers.append(both())  # EOF waiting
        assert await ours.read(10) == b""  # EOF reads as no bytes, as httpcore expects
        assert ours.get_extra_info("socket").getpeername()[1] == port
        assert ours.get_extra_info("server_addr")[1] == port
        await ours.aclose()
        await ours.aclose()  # twice is harmless
        await theirs.aclose()
        answers.append((ours.get_extra_info("is_readable"), True))
        return answers

    assert run(go()) == [(False, False), (True, True), (True, True), (True, True)]


def test_a_read_that_waits_too_long_is_a_read_timeout(listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    async def go() -> None:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port)
        try:
            with pytest.raises(httpcore.ReadTimeout):
                await stream.read(10, timeout=0.1)
        finally:
            await stream.aclose()

    run(go())


def test_an_outer_deadline_is_not_taken_for_a_read_timeout(listener: socket.socket) -> None:
    """The fetcher's total deadline wraps httpcore's per-read timeout: when the deadline
    ends first, its own TimeoutError comes out, not an httpcore ReadTimeout."""
    port = listener.getsockname()[1]

    async def go() -> None:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port)
        try:
            with pytest.raises(TimeoutError) as caught:
                async with asyncio.timeout(0.1):
                    await stream.read(10, timeout=30)
            assert not isinstance(caught.value, httpcore.ReadTimeout)
        finally:
            await stream.aclose()

    run(go())


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused

    async def go() -> None:
        with pytest.raises(httpcore.ConnectError) as caught:
            await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        assert isinstance(caught.value.__cause__, ConnectionRefusedError)

    run(go())


def test_a_write_to_a_reset_connection_is_a_write_or_read_error(listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    async def go() -> None:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port)
        peer, _ = listener.accept()
        # RST on close: the next writes fail.
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        peer.close()
        await asyncio.sleep(0.05)
        with pytest.raises((httpcore.WriteError, httpcore.ReadError)):
            for _ in range(50):
                await stream.write(b"x" * 65536, timeout=5)
                await stream.read(10, timeout=5)
        await stream.aclose()

    run(go())


def test_a_feed_is_fetched_over_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole fetch over HTTPS through the guard and these streams, twice on one kept-alive
    connection, with the certificate verified (trusted here for the test only)."""
    cert, key = self_signed_certificate(tmp_path)
    peers: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            peers.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Length", str(len(FEED)))
            self.send_header("ETag", '"v1"')
            self.end_headers()
            self.wfile.write(FEED)

        def log_message(self, *_args: object) -> None:
            pass

    def trusting(**_kwargs: object) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(cert))
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
        return context

    monkeypatch.setattr(httpx, "create_ssl_context", trusting)

    async def go(url: str) -> list[FetchStatus]:
        async with Fetcher(settings(concurrency=1)) as fetcher:
            results = [await fetcher.fetch(FetchRequest(url)) for _ in range(2)]
        assert all(r.body == FEED and r.etag == '"v1"' for r in results)
        return [r.status for r in results]

    with tls_server(cert, key, Handler) as port:
        statuses = run(go(f"https://127.0.0.1:{port}/feed"))
    assert statuses == [FetchStatus.OK, FetchStatus.OK]
    assert len(peers) == 2 and len(set(peers)) == 1  # the TLS connection was reused
