"""HTTP/1.1 for one fetcher slot: an httpx transport speaking h11 over asyncio streams.

Why not httpx's default transport (httpcore's connection pool): a slot serves one exchange
at a time, so a pool's queue, its locks (taken through anyio), its cancel shields and its
per-request scan of every connection it holds are work with nothing to share. Measured
with ``python -m bench.httpfloor`` (1,000 conditional GETs answered 304, one process,
interleaved): through this transport they take about a fifth of the time they take
through ``httpx.AsyncClient`` (docs/performance.md). The protocol itself stays h11's,
the parser httpcore uses, with httpcore's bounds: a response head may not exceed 100 KiB,
and the socket is read 64 KiB at a time. The fetcher still speaks httpx: ``httpx.Request``
in, ``httpx.Response`` out, httpx's exceptions for every failure. Through a proxy the
fetcher keeps httpx's own transport (``guard.build_proxy_transport``).

The SSRF guard lives here, at connect time: the host is resolved, every address checked
(``guard.resolve_checked``), and the socket opened to the vetted address, on every hop;
TLS still verifies and sends SNI for the URL's host name.

A connection is kept for reuse only when its exchange ended cleanly in both directions
(h11's states), and only for ``KEEPALIVE_SECONDS``; before reuse it must not be readable:
data or EOF waiting means the server closed it or spoke out of turn.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import AsyncIterator, Callable

import h11
import httpx

from aggregator.fetch.guard import AddressPolicy, resolve_checked

__all__ = ["KEEPALIVE_SECONDS", "MAX_HEAD_BYTES", "SlotTransport", "socket_readable"]

#: Bytes asked of the socket per read (httpcore's ``READ_NUM_BYTES``).
READ_BYTES = 64 * 1024
#: The largest response head accepted (httpcore's ``MAX_INCOMPLETE_EVENT_SIZE``).
MAX_HEAD_BYTES = 100 * 1024
#: How long an idle connection is kept (httpcore's default ``keepalive_expiry``).
KEEPALIVE_SECONDS = 5.0
#: Idle connections a slot keeps, to the hosts it served last.
MAX_IDLE = 4
_DEFAULT_PORTS = {"http": 80, "https": 443}


def socket_readable(sock: socket.socket | None) -> bool:
    """True when ``sock`` has data or EOF waiting, or is gone: an idle kept-alive connection
    in that state was closed (or spoken to) by the server and must not be reused."""
    if sock is None or sock.fileno() < 0:
        return True
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _failure(
    err: OSError, timeout: type[httpx.TimeoutException], other: type[httpx.TransportError]
) -> httpx.TransportError:
    """httpx's exception for ``err``: ``timeout`` when this operation's own
    ``asyncio.timeout`` expired (an outer deadline passes through as a cancellation),
    ``other`` for any other ``OSError`` (``ssl.SSLError`` included)."""
    if isinstance(err, TimeoutError):  # an OSError too: tested first
        return timeout(str(err) or "timed out")
    return other(str(err) or err.__class__.__name__)


class _Connection:
    """One TCP (or TLS) connection to one origin, and its h11 state."""

    __slots__ = ("h11", "idle_since", "origin", "reader", "socket", "writer")

    def __init__(
        self,
        origin: tuple[str, str, int],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        # Looked up once: asked before every reuse.
        self.socket: socket.socket | None = writer.get_extra_info("socket")
        self.idle_since = 0.0

    def stale(self) -> bool:
        """Closed, or holding bytes nobody asked for: not to be reused.

        asyncio reads ahead into the reader's buffer, so what it holds counts too.
        ``_buffer`` is private to asyncio (typeshed omits it); tests/fetch/test_wire.py
        fails if it goes.
        """
        reader = self.reader
        return (
            self.writer.transport.is_closing()
            or bool(reader._buffer)  # type: ignore[attr-defined]
            or reader.at_eof()
            or reader.exception() is not None
            or socket_readable(self.socket)
        )

    def close(self) -> None:
        # No close_notify handshake on TLS, and nothing of ours is left to flush: a peer
        # that never answers must not hold the fetcher.
        self.writer.transport.abort()

    async def write(self, data: bytes, timeout: float | None) -> None:
        try:
            async with asyncio.timeout(timeout):
                self.writer.write(data)
                await self.writer.drain()
        except OSError as err:
            raise _failure(err, httpx.WriteTimeout, httpx.WriteError) from err

    async def next_event(self, timeout: float | None) -> object:
        """h11's next event, reading from the socket as long as it needs data.

        Only this read's own ``timeout`` is a ``ReadTimeout``; an outer deadline passes
        through as the cancellation it is.
        """
        state = self.h11
        try:
            while True:
                event = state.next_event()
                if event is not h11.NEED_DATA:
                    return event
                try:
                    async with asyncio.timeout(timeout):
                        data = await self.reader.read(READ_BYTES)
                except OSError as err:
                    raise _failure(err, httpx.ReadTimeout, httpx.ReadError) from err
                state.receive_data(data)  # b"": the peer closed; h11 decides if that is fine
        except h11.RemoteProtocolError as err:
            raise httpx.RemoteProtocolError(str(err)) from err


class _Body(httpx.AsyncByteStream):
    """The response body as h11 delivers it; closing hands the connection back."""

    def __init__(
        self, transport: SlotTransport, connection: _Connection, timeout: float | None
    ) -> None:
        self._transport = transport
        self._connection = connection
        self._timeout = timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        while True:
            event = await connection.next_event(self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return
            else:  # pragma: no cover - h11 sends nothing else after a response head
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__}")

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._transport.release(self._connection)


class SlotTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 to any origin, one exchange at a time, under the address policy."""

    def __init__(self, policy: AddressPolicy, tls: Callable[[], ssl.SSLContext]) -> None:
        """``tls`` gives the TLS context, when the first https origin is met: building one
        loads the CA bundle (20-50 ms), which a pass over plain-http feeds never needs."""
        self._policy = policy
        self._tls = tls
        self._ssl_context: ssl.SSLContext | None = None
        self._idle: list[_Connection] = []
        self._busy: _Connection | None = None

    def _context(self) -> ssl.SSLContext:
        context = self._ssl_context
        if context is None:
            context = self._ssl_context = self._tls()
            # httpcore sets this on the context it is given, for every TLS connection.
            context.set_alpn_protocols(["http/1.1"])
        return context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"scheme {scheme!r} is not fetched")
        origin = (scheme, url.host, url.port or _DEFAULT_PORTS[scheme])
        timeouts = request.extensions.get("timeout", {})
        connection = self._reuse(origin)
        if connection is None:
            connection = await self._connect(origin, timeouts.get("connect"))
        self._busy = connection
        read_timeout = timeouts.get("read")
        try:
            state = connection.h11
            data = state.send(
                h11.Request(method=request.method, target=url.raw_path, headers=request.headers.raw)
            )
            async for chunk in request.stream:  # type: ignore[union-attr]
                if chunk:
                    data += state.send(h11.Data(data=chunk))
            data += state.send(h11.EndOfMessage())
            await connection.write(data, timeouts.get("write"))
            while True:
                event = await connection.next_event(read_timeout)
                if isinstance(event, h11.Response):
                    break
                if isinstance(event, h11.InformationalResponse):
                    if event.status_code == 101:
                        break  # never asked for; the connection is not reused after it
                    continue  # 100 Continue, 103 Early Hints: the answer follows
                raise httpx.RemoteProtocolError("the server closed without an answer")
        except h11.LocalProtocolError as err:
            self.release(connection)
            raise httpx.LocalProtocolError(str(err)) from err
        except BaseException:
            self.release(connection)
            raise
        return httpx.Response(
            status_code=event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self, connection, read_timeout),
            extensions={
                "http_version": b"HTTP/" + event.http_version,
                "reason_phrase": event.reason,
            },
        )

    def _reuse(self, origin: tuple[str, str, int]) -> _Connection | None:
        """An idle connection to ``origin`` still fit for a request; expired ones go."""
        now = asyncio.get_running_loop().time()
        found = None
        kept: list[_Connection] = []
        for connection in reversed(self._idle):  # most recently used first
            if now - connection.idle_since > KEEPALIVE_SECONDS:
                connection.close()
            elif found is None and connection.origin == origin:
                if connection.stale():
                    connection.close()
                else:
                    found = connection
            else:
                kept.append(connection)
        kept.reverse()
        self._idle = kept
        return found

    async def _connect(self, origin: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = origin
        # DNS is under the fetcher's deadline, not the connect timeout (as through httpcore).
        address = await resolve_checked(host, port, self._policy)
        tls = self._context() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    address,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                    limit=READ_BYTES,
                )
        except OSError as err:  # ssl.SSLError included: the fetcher finds it in the chain
            raise _failure(err, httpx.ConnectTimeout, httpx.ConnectError) from err
        return _Connection(origin, reader, writer)

    def release(self, connection: _Connection) -> None:
        """Keep ``connection`` for the next request if its exchange ended cleanly."""
        if self._busy is connection:
            self._busy = None
        state = connection.h11
        if state.our_state is h11.DONE and state.their_state is h11.DONE:
            state.start_next_cycle()
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
            if len(self._idle) > MAX_IDLE:
                self._idle.pop(0).close()
        else:
            connection.close()

    async def aclose(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle = []
        if self._busy is not None:
            self._busy.close()
            self._busy = None
