"""An httpcore network backend on asyncio's own streams, under the SSRF guard.

httpcore's ``AnyIOBackend`` wraps every read and write in an anyio cancel scope (a
``fail_after`` that looks up the current task through sniffio, and registers and removes
the scope), and reads through anyio's own socket stream on top of asyncio's. The fetcher
only runs on asyncio, so these streams use it directly: ``asyncio.timeout`` for the
per-operation timeouts httpcore asks for, ``StreamReader``/``StreamWriter`` for the bytes.
Failures are raised as the httpcore exceptions the anyio backend raises (``ConnectError``,
``ReadTimeout``, ...), each chained to its cause, so the fetcher classifies them the same way
(a failed certificate check is still an ``ssl.SSLError`` in the chain).
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import typing

import httpcore

#: What ``StreamReader`` buffers before it stops reading the socket (asyncio's default).
_READ_LIMIT = 2**16


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


_Failures = tuple[type[httpcore.TimeoutException], type[httpcore.NetworkError]]
_CONNECT: _Failures = (httpcore.ConnectTimeout, httpcore.ConnectError)
_READ: _Failures = (httpcore.ReadTimeout, httpcore.ReadError)
_WRITE: _Failures = (httpcore.WriteTimeout, httpcore.WriteError)


def _failure(err: OSError, kinds: _Failures) -> Exception:
    """httpcore's exception for ``err``: its own timeout (``asyncio.timeout`` expired; an
    outer deadline passes through as a cancellation), or a network error (``OSError``,
    ``ssl.SSLError`` included)."""
    timeout, other = kinds
    if isinstance(err, TimeoutError):  # an OSError too: tested first
        return timeout(str(err) or "timed out")
    return other(str(err) or err.__class__.__name__)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection, as httpcore's connection code uses it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        # Looked up once: the pool asks each connection whether it is readable every time a
        # request is queued or finishes.
        self._socket: socket.socket | None = writer.get_extra_info("socket")
        self._closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except OSError as err:
            raise _failure(err, _READ) from err

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except OSError as err:
            raise _failure(err, _WRITE) from err

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        transport = self._writer.transport
        transport.close()
        # One turn of the loop lets a plain connection's close go out; then drop whatever is
        # left (a TLS close_notify the peer never answers must not hold us), as anyio does,
        # even when the turn is cut short by a cancellation.
        try:
            await asyncio.sleep(0)
        finally:
            transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except OSError as err:
            await self.aclose()
            raise _failure(err, _CONNECT) from err
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            # asyncio reads ahead into the reader's buffer (anyio's stream leaves bytes in
            # the socket until asked): what it holds counts too. ``_buffer`` is private to
            # asyncio (typeshed omits it); tests/fetch/test_streams.py fails if it goes.
            reader = self._reader
            return (
                self._closed
                or bool(reader._buffer)  # type: ignore[attr-defined]
                or reader.at_eof()
                or reader.exception() is not None
                or socket_readable(self._socket)
            )
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._socket
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connects with ``asyncio.open_connection``; the guard decides where to first."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=local, limit=_READ_LIMIT
                )
        except OSError as err:
            raise _failure(err, _CONNECT) from err
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - the guard refuses them first
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


__all__ = ["AsyncioBackend", "AsyncioStream", "socket_readable"]
