"""The slot transport (``aggregator.fetch.wire``): HTTP/1.1 on h11 over asyncio streams.

Real sockets on 127.0.0.1 throughout: small asyncio servers in the test's own event loop
that answer with exact bytes, and for TLS a loopback server with a certificate made for the
test by the ``openssl`` command.
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import ssl
from pathlib import Path

import httpx
import pytest

from aggregator.fetch import Fetcher, wire
from aggregator.fetch.guard import AddressBlocked, allow_all, is_public_address
from aggregator.fetch.wire import SlotTransport
from aggregator.model import FetchRequest, FetchStatus
from tests.fetch.helpers import run, self_signed_certificate, settings, tls_server

FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
NOT_MODIFIED = b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'

HOLD = "hold"  # an answer: say nothing, keep the connection open
CLOSE = "close"  # an answer: close the connection without a word
Answer = bytes | str | tuple[bytes, str]  # (bytes, CLOSE or HOLD): answer, then that


class Scripted:
    """A loopback server answering each request head with the next of ``answers``.

    Records the client port of every request, so a test sees which connection served it.
    """

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = list(answers)
        self.peers: list[int] = []
        self.heads: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.close()

    def url(self, path: str = "/feed") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                self.peers.append(writer.get_extra_info("peername")[1])
                answer = self.answers.pop(0)
                if answer == HOLD:
                    await asyncio.sleep(3600)
                if answer == CLOSE:
                    break
                if isinstance(answer, tuple):
                    writer.write(answer[0])
                    await writer.drain()
                    if answer[1] == HOLD:
                        await asyncio.sleep(3600)
                    break
                assert isinstance(answer, bytes)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def timeouts(read: float = 5.0) -> dict[str, float]:
    return {"connect": 5.0, "read": read, "write": 5.0}


def transport() -> SlotTransport:
    return SlotTransport(allow_all, httpx.create_ssl_context)


async def get(slot: SlotTransport, url: str, *, read: float = 5.0) -> tuple[int, bytes]:
    """One whole exchange, body read to its end, as the fetcher does it."""
    request = httpx.Request("GET", url, extensions={"timeout": timeouts(read)})
    response = await slot.handle_async_request(request)
    try:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return response.status_code, body


def test_kept_alive_connections_are_reused() -> None:
    async def go() -> Scripted:
        async with Scripted([NOT_MODIFIED, OK, NOT_MODIFIED]) as server:
            slot = transport()
            assert await get(slot, server.url()) == (304, b"")
            assert await get(slot, server.url()) == (200, b"ok")
            assert await get(slot, server.url()) == (304, b"")
            await slot.aclose()
        return server

    server = run(go())
    assert server.connections == 1 and len(set(server.peers)) == 1


def test_plain_http_never_builds_the_tls_context() -> None:
    """Building one loads the CA bundle (20-50 ms): only an https origin asks for it."""
    built: list[ssl.SSLContext] = []

    def tls() -> ssl.SSLContext:
        built.append(httpx.create_ssl_context())
        return built[-1]

    async def go() -> None:
        async with Scripted([OK]) as server:
            slot = SlotTransport(allow_all, tls)
            assert await get(slot, server.url()) == (200, b"ok")
            await slot.aclose()

    run(go())
    assert built == []


def test_the_request_head_is_httpxs_headers_in_order() -> None:
    async def go() -> bytes:
        async with Scripted([OK]) as server:
            slot = transport()
            request = httpx.Request(
                "GET",
                server.url("/feed?x=1"),
                headers={"User-Agent": "ua", "If-None-Match": '"v1"'},
                extensions={"timeout": timeouts()},
            )
            response = await slot.handle_async_request(request)
            await response.aread()
            await slot.aclose()
        return server.heads[0]

    head = run(go())
    lines = head.decode().split("\r\n")
    assert lines[0] == "GET /feed?x=1 HTTP/1.1"
    assert [line.split(":")[0] for line in lines[1:] if line] == [
        "Host",
        "User-Agent",
        "If-None-Match",
    ]


def test_a_connection_the_server_closes_is_not_reused() -> None:
    """``Connection: close`` from the server, and a server that closes an idle connection:
    the next request goes out on a new connection, and succeeds."""
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

    async def go() -> Scripted:
        async with Scripted([closing, OK]) as first, Scripted([(OK, CLOSE)]) as second:
            slot = transport()
            assert await get(slot, first.url()) == (200, b"ok")
            assert await get(slot, first.url()) == (200, b"ok")
            assert first.connections == 2
            # The second server answers once, then closes the idle connection.
            assert await get(slot, second.url()) == (200, b"ok")
            await asyncio.sleep(0.05)
            second.answers = [OK]
            assert await get(slot, second.url()) == (200, b"ok")
            await slot.aclose()
        return second

    assert run(go()).connections == 2


def test_a_stale_idle_connection_is_passed_over_for_a_live_one() -> None:
    """Two idle connections to one origin: the most recent was closed by the server, so it
    is dropped and the older one serves the request; the other origins' stay kept."""

    async def go() -> tuple[list[int], int]:
        async with Scripted([OK, OK, OK]) as server, Scripted([OK]) as other:
            first = transport()
            second = transport()
            await get(first, server.url())
            await get(second, server.url())
            await get(first, other.url())
            # Put the two to the same origin side by side in one slot, the older first.
            slot = transport()
            slot._idle = [first._idle[0], first._idle[1], second._idle[0]]
            first._idle, second._idle = [], []
            slot._idle[2].writer.transport.abort()  # the most recent one dies
            await asyncio.sleep(0.05)
            assert await get(slot, server.url()) == (200, b"ok")
            origins = [c.origin[2] for c in slot._idle]
            await slot.aclose()
        return origins, server.connections

    origins, connections = run(go())
    assert connections == 2  # no third connection: the older one was reused
    assert len(origins) == 2  # the other origin's and the reused one


def test_a_body_not_read_to_its_end_closes_the_connection() -> None:
    long = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000

    async def go() -> Scripted:
        async with Scripted([long, OK]) as server:
            slot = transport()
            request = httpx.Request("GET", server.url(), extensions={"timeout": timeouts()})
            response = await slot.handle_async_request(request)
            async for _chunk in response.aiter_raw():
                break  # the fetcher stops early on a body over its cap
            await response.aclose()
            assert await get(slot, server.url()) == (200, b"ok")
            await slot.aclose()
        return server

    server = run(go())
    assert server.connections == 2


def test_idle_connections_expire_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "KEEPALIVE_SECONDS", 0.05)

    async def go() -> tuple[Scripted, list[int]]:
        servers = [Scripted([OK, OK]) for _ in range(wire.MAX_IDLE + 2)]
        for server in servers:
            await server.__aenter__()
        slot = transport()
        kept = []
        for server in servers:
            await get(slot, server.url())
            kept.append(len(slot._idle))
        # The oldest were closed to stay within the bound.
        assert kept == [1, 2, 3, 4, 4, 4]
        await asyncio.sleep(0.1)
        await get(slot, servers[-1].url())  # expired: a new connection
        assert len(slot._idle) == 1  # and the expired others were closed on the way
        await slot.aclose()
        for server in servers:
            await server.__aexit__()
        return servers[-1], kept

    last, _ = run(go())
    assert last.connections == 2


def test_informational_answers_are_skipped() -> None:
    early = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + OK

    async def go() -> tuple[int, bytes]:
        async with Scripted([early]) as server:
            slot = transport()
            answer = await get(slot, server.url())
            await slot.aclose()
        return answer

    assert run(go()) == (200, b"ok")


def test_a_head_over_the_bound_is_a_protocol_error() -> None:
    """A head still incomplete past the bound (here one endless header) is refused without
    waiting for its end: h11's bound on an incomplete event, as httpcore sets it."""
    huge = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (2 * wire.MAX_HEAD_BYTES)

    async def go() -> None:
        async with Scripted([(huge + b"\r\n", HOLD)]) as server:
            slot = transport()
            try:
                with pytest.raises(httpx.RemoteProtocolError, match="buffer too long"):
                    await get(slot, server.url())
                assert slot._idle == []
            finally:
                await slot.aclose()

    run(go())


@pytest.mark.parametrize(
    "answer",
    [CLOSE, (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", CLOSE)],
    ids=["no answer", "truncated body"],
)
def test_a_server_that_closes_too_early_is_a_protocol_error(answer: Answer) -> None:
    async def go() -> None:
        async with Scripted([answer]) as server:
            slot = transport()
            with pytest.raises(httpx.RemoteProtocolError):
                await get(slot, server.url())
            assert slot._busy is None and slot._idle == []
            await slot.aclose()

    run(go())


def test_a_read_that_waits_too_long_is_a_read_timeout() -> None:
    async def go() -> None:
        async with Scripted([HOLD]) as server:
            slot = transport()
            with pytest.raises(httpx.ReadTimeout):
                await get(slot, server.url(), read=0.1)
            assert slot._busy is None and slot._idle == []
            await slot.aclose()

    run(go())


def test_an_outer_deadline_is_not_taken_for_a_read_timeout() -> None:
    """The fetcher's total deadline wraps the per-read timeout: when the deadline ends
    first, its own TimeoutError comes out, and the connection is closed, not kept."""

    async def go() -> None:
        async with Scripted([HOLD]) as server:
            slot = transport()
            with pytest.raises(TimeoutError) as caught:
                async with asyncio.timeout(0.1):
                    await get(slot, server.url(), read=30)
            assert not isinstance(caught.value, httpx.ReadTimeout)
            assert slot._busy is None and slot._idle == []
            await slot.aclose()

    run(go())


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused

    async def go() -> None:
        with pytest.raises(httpx.ConnectError) as caught:
            await get(transport(), f"http://127.0.0.1:{port}/feed")
        assert isinstance(caught.value.__cause__, ConnectionRefusedError)

    run(go())


def test_the_guard_refuses_before_connecting() -> None:
    async def go() -> Scripted:
        async with Scripted([OK]) as server:
            slot = SlotTransport(is_public_address, httpx.create_ssl_context)
            with pytest.raises(AddressBlocked, match=r"non-public address 127\.0\.0\.1"):
                await get(slot, server.url())
        return server

    assert run(go()).connections == 0


def test_stale_sees_data_eof_and_closing_as_asyncio_holds_them() -> None:
    """An idle connection with data or EOF waiting, in the socket or already read ahead
    into asyncio's buffer (a private attribute: this fails if asyncio drops it), or
    closed, is stale; a quiet one is not."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    async def go() -> list[bool]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer, _ = listener.accept()
        connection = wire._Connection(("http", "127.0.0.1", port), reader, writer)
        answers = [connection.stale()]  # quiet
        peer.sendall(b"x")
        await asyncio.sleep(0.05)
        answers.append(connection.stale())  # data waiting (read ahead by asyncio)
        assert reader._buffer  # type: ignore[attr-defined]
        assert await reader.read(1) == b"x"
        answers.append(connection.stale())  # drained: quiet again
        peer.close()
        await asyncio.sleep(0.05)
        answers.append(connection.stale())  # EOF waiting
        connection.close()
        answers.append(connection.stale())  # closed
        return answers

    try:
        assert run(go()) == [False, True, False, True, True]
    finally:
        listener.close()


def test_socket_readable_on_a_closed_socket() -> None:
    sock = socket.socket()
    sock.close()
    assert wire.socket_readable(sock) and wire.socket_readable(None)


def test_a_feed_is_fetched_over_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole fetch over HTTPS through the guard and the slot transport, twice on one
    kept-alive connection, with the certificate verified (trusted here for the test only)."""
    cert, key = self_signed_certificate(tmp_path)
    peers: list[int] = []

    class TLSHandler(http.server.BaseHTTPRequestHandler):
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

    with tls_server(cert, key, TLSHandler) as port:
        statuses = run(go(f"https://127.0.0.1:{port}/feed"))
    assert statuses == [FetchStatus.OK, FetchStatus.OK]
    assert len(peers) == 2 and len(set(peers)) == 1  # the TLS connection was reused


def test_an_untrusted_certificate_is_a_tls_error(tmp_path: Path) -> None:
    """Verification is on: a self-signed certificate nobody trusts fails the fetch, and the
    failure is classified as TLS (the ``ssl.SSLError`` is in the chain)."""
    cert, key = self_signed_certificate(tmp_path)

    class TLSHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # pragma: no cover - the handshake fails first
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    async def go(url: str) -> object:
        async with Fetcher(settings(concurrency=1)) as fetcher:
            return await fetcher.fetch(FetchRequest(url))

    with tls_server(cert, key, TLSHandler) as port:
        result = run(go(f"https://127.0.0.1:{port}/feed"))
    assert result.status is FetchStatus.ERROR  # type: ignore[attr-defined]
    assert result.error_class.value == "tls"  # type: ignore[attr-defined]
