"""The fetcher: one polite, bounded, SSRF-guarded conditional GET per call.

Why it is built by hand on httpx's transports: every rule of POLITENESS_AND_SECURITY.md
Part 1 and 2.3–2.6 needs a hook that httpx's conveniences hide. Redirects are followed here
so each hop is counted, classified and re-checked; bodies are read raw and decoded under a
cap (``decode``); a total deadline wraps each exchange because httpx's read timeout is per
socket read. Requests go to the transport itself, not through ``httpx.AsyncClient``: the
client's redirects, auth and event hooks are not used, and its cookie jar is not wanted (a
feed fetcher keeps no cookies and sends none), yet on each response the jar parsed the
headers into a ``urllib`` request and an ``email`` message. Without the client, an unchanged
re-poll of 1,000 feeds takes 0.85 x the time (docs/performance.md). Each global slot has a
transport of its own: ``wire.SlotTransport`` (h11 over asyncio streams, the SSRF guard at
its connect), or httpx's own through a proxy.
Every feed-level problem comes back as a ``FetchResult`` value, never as an exception.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

import httpx

from aggregator import USER_AGENT
from aggregator.errors import ErrorClass
from aggregator.fetch.decode import DecodedTooLarge, DecodeError, make_decoder
from aggregator.fetch.guard import (
    AddressBlocked,
    AddressPolicy,
    DNSFailure,
    allow_all,
    build_proxy_transport,
    resolve_checked,
    strict_policy,
)
from aggregator.fetch.policy import (
    REDIRECT_STATUSES,
    error_class_for_status,
    parse_retry_after,
    permanent_target,
)
from aggregator.fetch.screen import declares_entities
from aggregator.fetch.wire import SlotTransport
from aggregator.model import FetchRequest, FetchResult, FetchSettings, FetchStatus, Redirect

__all__ = ["FEED_ACCEPT", "PAGE_ACCEPT", "PAGE_DEADLINE_SECONDS", "Fetcher", "utcnow"]

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.8"
# Only codings decoded here under a bound (decode.SUPPORTED_ENCODINGS).
ACCEPT_ENCODING = "gzip, deflate, br"
DRAIN_LIMIT = 64 * 1024  # unwanted bodies (304, redirects, errors) read to reuse the connection
PAGE_DEADLINE_SECONDS = 15.0
_POOL_TIMEOUT_SECONDS = 5.0
_HEAD_END = b"</head>"
# Through a proxy, a slot's httpx pool serves one exchange at a time; it keeps a few idle
# connections for reuse, as a slot transport does (``wire.MAX_IDLE``).
_SLOT_LIMITS = httpx.Limits(max_connections=5, max_keepalive_connections=4)


def utcnow() -> datetime:
    return datetime.now(UTC)


class _RawTooLarge(Exception):
    """More bytes on the wire than allowed."""


class _RedirectError(Exception):
    """Too many redirects or a loop."""


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify(exc: BaseException) -> tuple[ErrorClass, str]:
    """The error class of an exception met while fetching."""
    message = str(exc) or exc.__class__.__name__
    table: list[tuple[type[BaseException] | tuple[type[BaseException], ...], ErrorClass]] = [
        (AddressBlocked, ErrorClass.BLOCKED),
        (DNSFailure, ErrorClass.DNS),
        ((TimeoutError, httpx.TimeoutException), ErrorClass.TIMEOUT),
        ((_RawTooLarge, DecodedTooLarge), ErrorClass.TOO_LARGE),
        (DecodeError, ErrorClass.BAD_ENCODING),
        ((httpx.DecodingError,), ErrorClass.BAD_ENCODING),
        (_RedirectError, ErrorClass.TOO_MANY_REDIRECTS),
        ((httpx.UnsupportedProtocol, httpx.InvalidURL), ErrorClass.BLOCKED),
        ((httpx.ProtocolError,), ErrorClass.PROTOCOL),
    ]
    for types, error_class in table:
        if isinstance(exc, types):
            return error_class, message
    if isinstance(exc, httpx.TransportError):
        if any(isinstance(e, ssl.SSLError) for e in _chain(exc)):
            return ErrorClass.TLS, message
        return ErrorClass.CONNECT, message
    return ErrorClass.INTERNAL, repr(exc)


@dataclass
class _HostState:
    slots: asyncio.Semaphore
    next_start: float = 0.0


class _Slots:
    """The global limit as numbered slots; the fetcher gives each slot its own connections.

    A slot serves one exchange at a time, so its transport (``wire.SlotTransport``) needs no
    pool: no queue, no locks, a few idle connections at most. (One httpcore pool shared by
    all slots re-checked every connection it held each time a request was queued or
    finished: quadratic in the pool's size; docs/performance.md.) A free slot last used
    for the same host is taken first, so a kept-alive connection is reused rather than
    another one opened to that host.
    """

    def __init__(self, count: int) -> None:
        self._free = list(range(count))
        self._last_host: dict[int, str] = {}
        self._available = asyncio.Semaphore(count)

    async def take(self, host: str) -> int:
        """A free slot, once there is one; give it back with :meth:`give_back`."""
        await self._available.acquire()
        return self._pick(host)

    def give_back(self, slot: int, host: str) -> None:
        self._last_host[slot] = host
        self._free.append(slot)
        self._available.release()

    def _pick(self, host: str) -> int:
        for i in range(len(self._free) - 1, -1, -1):
            if self._last_host.get(self._free[i]) == host:
                return self._free.pop(i)
        # Another host: the slot released longest ago, whose idle connections are the oldest.
        return self._free.pop(0)


@dataclass
class _Exchange:
    """One request/response hop, body read (or not) under the caps."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    raw_bytes: int = 0
    location: str | None = None


@dataclass
class _Outcome:
    final_url: str
    redirects: list[Redirect] = field(default_factory=list)
    exchange: _Exchange | None = None
    raw_bytes: int = 0


async def _drain(response: httpx.Response, limit: int = DRAIN_LIMIT) -> None:
    """Read a small unwanted body to its end, so the connection can be reused.

    A connection is reused only once its response was read to the end (h11's states, and
    httpcore's the same): unread, every 304 of a re-poll cost a new TCP connection
    (measured: 1,000 connects for 1,000 feeds). A larger body is not worth reading; its
    connection is closed instead.
    """
    if response.is_stream_consumed:
        return
    seen = 0
    async for chunk in response.aiter_raw():
        seen += len(chunk)
        if seen > limit:
            return


class Fetcher:
    """Fetch feeds and article pages politely; one httpx transport per global slot."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
        address_policy: AddressPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        if address_policy is None:
            address_policy = allow_all if settings.allow_private_networks else strict_policy
        self._policy = address_policy
        # Through a proxy the socket goes to the proxy; vet each target host ourselves.
        self._precheck = settings.proxy is not None and address_policy is not allow_all
        concurrency = max(1, settings.concurrency)
        self._global = _Slots(concurrency)
        self._hosts: dict[str, _HostState] = {}
        # Sent with every request, before its own headers (the order httpx's client used).
        self._headers = {
            "Connection": "keep-alive",
            "User-Agent": settings.user_agent or USER_AGENT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        # The transports read their connect, read and write timeouts (and httpcore, through a
        # proxy, its pool timeout) from each request.
        self._timeouts = httpx.Timeout(
            connect=settings.connect_timeout_seconds,
            read=settings.read_timeout_seconds,
            write=settings.read_timeout_seconds,
            pool=_POOL_TIMEOUT_SECONDS,
        ).as_dict()
        # One transport per global slot, made when the slot is first used; an injected
        # transport (tests) serves every slot.
        self._transports: list[httpx.AsyncBaseTransport | None] = [None] * concurrency
        self._ssl_context: ssl.SSLContext | None = None
        if transport is not None:
            self._transports = [transport] * concurrency

    def _tls(self) -> ssl.SSLContext:
        """What httpx builds by default (certifi's CA bundle, verifying), built once, when
        first needed (20-50 ms here), and shared by the slots' transports."""
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context(trust_env=False)
        return self._ssl_context

    def _transport_for(self, slot: int) -> httpx.AsyncBaseTransport:
        transport = self._transports[slot]
        if transport is None:
            if self._settings.proxy is None:
                transport = SlotTransport(self._policy, self._tls)
            else:
                # The proxy is explicit on the transport: environment proxies would bypass
                # the guard, and are never read.
                transport = build_proxy_transport(
                    self._settings.proxy, ssl_context=self._tls(), limits=_SLOT_LIMITS
                )
            self._transports[slot] = transport
        return transport

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        transports = {id(t): t for t in self._transports if t is not None}
        self._transports = [None] * len(self._transports)
        for transport in transports.values():
            await transport.aclose()

    # ----------------------------------------------------------------------------------------

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """Conditional GET of a feed. Never raises for a feed-level problem."""
        headers = {"Accept": FEED_ACCEPT}
        if request.etag is not None:
            headers["If-None-Match"] = request.etag
        if request.last_modified is not None:
            headers["If-Modified-Since"] = request.last_modified
        return await self._run(
            request.url,
            headers,
            max_raw=self._settings.max_raw_bytes,
            max_decoded=self._settings.max_decoded_bytes,
            deadline=self._settings.timeout_seconds,
            page=False,
        )

    async def fetch_page(self, url: str, *, max_bytes: int = 2 * 1024 * 1024) -> FetchResult:
        """GET an article page for its og:image: reading stops after ``</head>`` or the cap."""
        return await self._run(
            url,
            {"Accept": PAGE_ACCEPT},
            max_raw=max_bytes,
            max_decoded=max_bytes,
            deadline=min(self._settings.timeout_seconds, PAGE_DEADLINE_SECONDS),
            page=True,
        )

    # ----------------------------------------------------------------------------------------

    async def _run(
        self,
        url: str,
        headers: dict[str, str],
        *,
        max_raw: int,
        max_decoded: int,
        deadline: float,
        page: bool,
    ) -> FetchResult:
        started = time.monotonic()
        outcome = _Outcome(final_url=url)
        try:
            await self._follow(
                url,
                headers=headers,
                outcome=outcome,
                max_raw=max_raw,
                max_decoded=max_decoded,
                deadline=deadline,
                page=page,
            )
            return self._result(url, outcome, started, page)
        except Exception as exc:  # every failure becomes a value
            error_class, message = classify(exc)
            return FetchResult(
                status=FetchStatus.ERROR,
                url=url,
                final_url=outcome.final_url,
                redirects=tuple(outcome.redirects),
                error_class=error_class,
                error_message=message,
                raw_bytes=outcome.raw_bytes,
                elapsed_seconds=time.monotonic() - started,
            )

    async def _follow(
        self,
        url: str,
        *,
        headers: dict[str, str],
        outcome: _Outcome,
        max_raw: int,
        max_decoded: int,
        deadline: float,
        page: bool,
    ) -> None:
        visited = {url}
        current = url
        while True:
            target = httpx.URL(current)
            if target.scheme not in ("http", "https"):
                raise AddressBlocked(f"scheme {target.scheme!r} is not fetched")
            exchange = await self._exchange(
                target,
                headers=headers,
                max_raw=max_raw,
                max_decoded=max_decoded,
                deadline=deadline,
                page=page,
            )
            outcome.raw_bytes += exchange.raw_bytes
            outcome.exchange = exchange
            if exchange.status not in REDIRECT_STATUSES or exchange.location is None:
                return
            following = str(target.join(exchange.location))
            outcome.redirects.append(Redirect(exchange.status, current, following))
            outcome.final_url = following
            if following in visited:
                raise _RedirectError(f"redirect loop at {following}")
            if len(outcome.redirects) > self._settings.max_redirects:
                raise _RedirectError(f"more than {self._settings.max_redirects} redirects")
            visited.add(following)
            current = following

    async def _host_turn(self, host: str) -> asyncio.Semaphore:
        """Wait for the host's turn: at most ``per_host_concurrency`` exchanges in flight,
        starts spaced by the delay. Returns the semaphore to release when done.

        Plain awaits, not an async context manager: this runs for every exchange, and an
        async generator per call cost a measurable part of a re-poll (docs/performance.md).
        """
        state = self._hosts.get(host)
        if state is None:
            state = _HostState(asyncio.Semaphore(max(1, self._settings.per_host_concurrency)))
            self._hosts[host] = state
        await state.slots.acquire()
        try:
            now = asyncio.get_running_loop().time()
            start = max(now, state.next_start)
            state.next_start = start + self._settings.per_host_delay_seconds
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            state.slots.release()
            raise
        return state.slots

    async def _exchange(
        self,
        url: httpx.URL,
        *,
        headers: dict[str, str],
        max_raw: int,
        max_decoded: int,
        deadline: float,
        page: bool,
    ) -> _Exchange:
        # Queue per host first, then take a global slot: a busy host's waiting fetches do
        # not hold global slots that other hosts could use.
        host = url.host
        host_slots = await self._host_turn(host)
        try:
            slot = await self._global.take(host)
            try:
                transport = self._transport_for(slot)
                # The deadline covers DNS, connect, headers and body: a header drip cannot
                # outlive it (httpx's read timeout is per socket read).
                async with asyncio.timeout(deadline):
                    if self._precheck:
                        await resolve_checked(host, url.port or 443, self._policy)
                    request = httpx.Request(
                        "GET",
                        url,
                        headers={**self._headers, **headers},
                        extensions={"timeout": self._timeouts},
                    )
                    response = await transport.handle_async_request(request)
                    try:
                        return await self._read(response, max_raw, max_decoded, page)
                    finally:
                        await response.aclose()
            finally:
                self._global.give_back(slot, host)
        finally:
            host_slots.release()

    async def _read(
        self, response: httpx.Response, max_raw: int, max_decoded: int, page: bool
    ) -> _Exchange:
        headers = {k.lower(): v for k, v in response.headers.items()}
        exchange = _Exchange(status=response.status_code, headers=headers)
        if response.status_code in REDIRECT_STATUSES:
            exchange.location = headers.get("location")
            await _drain(response)
            return exchange
        if not 200 <= response.status_code < 300:
            await _drain(response)
            return exchange  # error statuses and 304: the body is not wanted
        declared = headers.get("content-length", "").strip()
        if not page and declared.isdigit() and int(declared) > max_raw:
            raise _RawTooLarge(f"Content-Length {declared} exceeds {max_raw} bytes")
        if response.is_stream_consumed:
            # Only in-memory transports (httpx.MockTransport with ``content=``) hand over a
            # response already read, and decoded, by httpx; its size is bounded by the test.
            chunks: AsyncIterator[bytes] = _one(response.content)
            headers.pop("content-encoding", None)
        else:
            chunks = response.aiter_raw()
        decoder = make_decoder(headers, max_decoded, truncate=page)
        body = bytearray()
        async for chunk in chunks:
            exchange.raw_bytes += len(chunk)
            if exchange.raw_bytes > max_raw:
                if not page:
                    raise _RawTooLarge(f"body exceeds {max_raw} bytes on the wire")
                allowed = len(chunk) - (exchange.raw_bytes - max_raw)
                decoder.feed(chunk[:allowed], body)
                break
            before = len(body)
            decoder.feed(chunk, body)
            if decoder.truncated:
                break
            if page and _HEAD_END in bytes(body[max(0, before - len(_HEAD_END)) :]).lower():
                break
        else:
            decoder.finish(body)
        exchange.body = bytes(body)
        headers.pop("content-encoding", None)
        return exchange

    def _result(self, url: str, outcome: _Outcome, started: float, page: bool) -> FetchResult:
        exchange = outcome.exchange
        assert exchange is not None
        status = exchange.status
        headers = exchange.headers
        common = {
            "url": url,
            "final_url": outcome.final_url,
            "http_status": status,
            "headers": headers,
            "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified"),
            "redirects": tuple(outcome.redirects),
            "raw_bytes": outcome.raw_bytes,
            "elapsed_seconds": time.monotonic() - started,
        }
        if status == 304:
            return FetchResult(status=FetchStatus.NOT_MODIFIED, **common)  # type: ignore[arg-type]
        if 200 <= status < 300:
            if not page and declares_entities(exchange.body):
                return FetchResult(
                    status=FetchStatus.ERROR,
                    error_class=ErrorClass.ENTITIES,
                    error_message="the document declares XML entities",
                    **common,  # type: ignore[arg-type]
                )
            return FetchResult(
                status=FetchStatus.OK,
                body=exchange.body,
                permanent_url=permanent_target(url, outcome.redirects),
                **common,  # type: ignore[arg-type]
            )
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(headers, self._clock())
        error_class = error_class_for_status(status)
        message = f"HTTP {status}"
        if status in REDIRECT_STATUSES:
            message = f"HTTP {status} without a Location header"
        return FetchResult(
            status=FetchStatus.ERROR,
            error_class=error_class,
            error_message=message,
            retry_after=retry_after,
            **common,  # type: ignore[arg-type]
        )
