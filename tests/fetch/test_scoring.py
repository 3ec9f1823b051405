"""What a publisher sees of us (POLITENESS_AND_SECURITY.md 1.1, 1.6, 1.7, 1.8).

A "scoring server" in the spirit of Rachel Kroll's feed reader score: it logs every
request and we assert on identity, validator echoes, cookies, Referer and query cruft.
"""

from __future__ import annotations

import http.server
import itertools

import aggregator
from aggregator.fetch import FEED_ACCEPT, Fetcher
from aggregator.model import FetchRequest, FetchResult, FetchStatus
from tests.fetch.helpers import clock, run, settings
from tests.httpserver import Handler, LoopbackServer, Reply, SeenRequest

LAST_MODIFIED = "Tue, 01 Jul 2025 10:00:00 GMT"
BODY = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


def _rotating_server(server: LoopbackServer) -> None:
    """ETag W/"abc", then W/"abc-2", W/"abc-3"...; 304 only on an exact echo of the latest."""
    counter = itertools.count(1)
    state = {"etag": 'W/"abc"'}

    def handler(req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
        n = next(counter)
        if req.header("if-none-match") == state["etag"] and n % 2 == 0:
            return Reply(304, b"", {"etag": state["etag"], "last-modified": LAST_MODIFIED})
        if n > 1:
            state["etag"] = f'W/"abc-{n}"'
        return Reply(
            200,
            BODY,
            {
                "content-type": "application/rss+xml",
                "etag": state["etag"],
                "last-modified": LAST_MODIFIED,
                "set-cookie": "session=tracking; Path=/",
            },
        )

    server.route("/feed", handler)


def test_publisher_sees_a_polite_client(server: LoopbackServer) -> None:
    _rotating_server(server)
    server.route("/moved", status=302, headers={"location": "/feed", "set-cookie": "a=b"})
    url = server.url("/feed")

    async def scenario() -> list[FetchResult]:
        results = []
        async with Fetcher(settings(), clock=clock) as fetcher:
            first = await fetcher.fetch(FetchRequest(url))
            results.append(first)
            # Request 2: the exact validators of request 1 -> 304.
            second = await fetcher.fetch(FetchRequest(url, first.etag, first.last_modified))
            results.append(second)
            # Request 3: echo again -> the server rotates to W/"abc-3" with a 200.
            third = await fetcher.fetch(FetchRequest(url, second.etag, second.last_modified))
            results.append(third)
            # Request 4: must echo the LATEST value.
            results.append(await fetcher.fetch(FetchRequest(url, third.etag, LAST_MODIFIED)))
            # Request 5 and 6: via a redirect hop.
            results.append(await fetcher.fetch(FetchRequest(server.url("/moved"))))
        return results

    results = run(scenario())
    assert [r.status for r in results] == [
        FetchStatus.OK,
        FetchStatus.NOT_MODIFIED,
        FetchStatus.OK,
        FetchStatus.NOT_MODIFIED,
        FetchStatus.OK,
    ]
    assert results[0].etag == 'W/"abc"'
    assert results[1].etag == 'W/"abc"'  # the 304 carried validators: returned as sent
    assert results[2].etag == 'W/"abc-3"'

    seen = server.requests
    assert len(seen) == 6
    assert seen[0].header("if-none-match") is None  # one unconditional request only
    assert seen[0].header("if-modified-since") is None
    assert seen[1].header("if-none-match") == 'W/"abc"'
    assert seen[1].header("if-modified-since") == LAST_MODIFIED
    assert seen[3].header("if-none-match") == 'W/"abc-3"'
    for req in seen:
        assert req.header("user-agent") == aggregator.USER_AGENT
        assert req.header("accept") == FEED_ACCEPT
        assert req.header("accept-encoding") == "gzip, deflate, br"
        assert req.header("cookie") is None
        assert req.header("referer") is None
        assert "?" not in req.path
        assert req.method == "GET"
    assert [r.path for r in seen[-2:]] == ["/moved", "/feed"]


def test_configured_user_agent_is_sent(server: LoopbackServer) -> None:
    server.route("/feed", body=BODY)

    async def go() -> None:
        ua = "MyIngester/1.2 (+https://example.org/bot; 3 subscribers)"
        async with Fetcher(settings(user_agent=ua)) as fetcher:
            await fetcher.fetch(FetchRequest(server.url("/feed")))

    run(go())
    assert server.requests[0].header("user-agent") == (
        "MyIngester/1.2 (+https://example.org/bot; 3 subscribers)"
    )


def test_validators_are_echoed_byte_for_byte(server: LoopbackServer) -> None:
    server.route("/feed", status=304)
    odd_etag = 'W/"a b\\"c"'
    odd_date = "Tue,  01 Jul 2025 10:00:00 GMT"  # odd spacing is kept, not reformatted

    async def go() -> FetchResult:
        async with Fetcher(settings()) as fetcher:
            return await fetcher.fetch(FetchRequest(server.url("/feed"), odd_etag, odd_date))

    result = run(go())
    assert result.status is FetchStatus.NOT_MODIFIED
    assert result.etag is None  # the 304 carried none: the caller keeps its own
    req = server.requests[0]
    assert req.header("if-none-match") == odd_etag
    assert req.header("if-modified-since") == odd_date


def test_a_conditional_get_carries_these_headers_in_this_order(server: LoopbackServer) -> None:
    """The whole request head, as a publisher's log would show it: no cookie, no Referer,
    nothing else (the fetcher builds each request itself, docs/design.md)."""
    heads: list[list[tuple[str, str]]] = []

    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> Reply:
        heads.append(list(h.headers.items()))
        return Reply(304, b"", {"etag": '"v1"', "set-cookie": "session=tracking; Path=/"})

    server.route("/feed", handler)

    async def go() -> None:
        async with Fetcher(settings()) as fetcher:
            for _ in range(2):
                await fetcher.fetch(FetchRequest(server.url("/feed"), '"v1"', LAST_MODIFIED))

    run(go())
    host = server.url("/").split("/")[2]
    expected = [
        ("Host", host),
        ("Connection", "keep-alive"),
        ("User-Agent", aggregator.USER_AGENT),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("Accept", FEED_ACCEPT),
        ("If-None-Match", '"v1"'),
        ("If-Modified-Since", LAST_MODIFIED),
    ]
    assert heads == [expected, expected]


def test_page_fetch_asks_for_html_first(server: LoopbackServer) -> None:
    server.route("/article", body=b"<html><head><title>x</title></head><body></body></html>")

    async def go() -> FetchResult:
        async with Fetcher(settings()) as fetcher:
            return await fetcher.fetch_page(server.url("/article"))

    result = run(go())
    assert result.status is FetchStatus.OK
    accept = server.requests[0].header("accept") or ""
    assert accept.startswith("text/html")
    assert server.requests[0].header("if-none-match") is None


def test_connections_are_reused_after_304_redirects_and_errors(server: LoopbackServer) -> None:
    """A re-poll must not open a TCP connection per feed: unwanted bodies are drained."""
    peers: list[int] = []

    def record(status: int, headers: dict[str, str], body: bytes = b"") -> Handler:
        def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> Reply:
            peers.append(h.client_address[1])
            return Reply(status, body, headers)

        return handler

    server.route("/304", record(304, {"etag": '"v"'}))
    server.route("/500", record(500, {"content-type": "text/plain"}, b"oops" * 100))
    server.route("/moved", record(302, {"location": "/304"}, b"see /304"))

    async def go() -> None:
        async with Fetcher(settings(), clock=clock) as fetcher:
            for path in ["/304", "/500", "/moved"] * 4:
                await fetcher.fetch(FetchRequest(server.url(path), etag='"v"'))

    run(go())
    assert len(peers) == 16  # 12 fetches, 4 of them redirected
    assert len(set(peers)) == 1
