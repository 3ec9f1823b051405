"""Hostile and broken servers (POLITENESS_AND_SECURITY.md 1.2, 1.3, 2.2–2.4, 2.6).

Every case runs against the real loopback server and must end as a ``FetchResult`` value
of the right class, quickly.
"""

from __future__ import annotations

import gzip
import http.server
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.errors import ErrorClass
from aggregator.fetch import Fetcher
from aggregator.model import FetchResult, FetchStatus
from tests.fetch.helpers import (
    NOW,
    fetch_once,
    raw_response,
    reset_connection,
    run,
    self_signed_certificate,
    settings,
    tls_server,
)
from tests.fetch.helpers import write_raw as write
from tests.httpserver import LoopbackServer, Reply, SeenRequest

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


def _fails(result: FetchResult, error_class: ErrorClass) -> None:
    assert result.status is FetchStatus.ERROR, result
    assert result.error_class is error_class, (result.error_class, result.error_message)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (500, ErrorClass.HTTP_5XX),
        (503, ErrorClass.HTTP_5XX),
        (403, ErrorClass.HTTP_403),
        (404, ErrorClass.HTTP_404),
        (410, ErrorClass.HTTP_410),
        (429, ErrorClass.HTTP_429),
        (400, ErrorClass.HTTP_4XX),
    ],
)
def test_error_statuses(server: LoopbackServer, status: int, error_class: ErrorClass) -> None:
    server.route("/feed", status=status, body=b"nope")
    result = fetch_once(server.url("/feed"))
    _fails(result, error_class)
    assert result.http_status == status
    assert result.body == b""
    assert result.retry_after is None


def test_429_retry_after_seconds(server: LoopbackServer) -> None:
    server.route("/feed", status=429, headers={"retry-after": "7200"})
    result = fetch_once(server.url("/feed"))
    _fails(result, ErrorClass.HTTP_429)
    assert result.retry_after == NOW + timedelta(hours=2)


@pytest.mark.parametrize("status", ["429 Too Many Requests", "503 Service Unavailable"])
def test_retry_after_http_date_is_relative_to_date(server: LoopbackServer, status: str) -> None:
    # The server's clock is a year behind ours: the delay it means is 90 minutes.
    reply = raw_response(
        status,
        [
            ("Date", "Sun, 01 Jun 2025 10:00:00 GMT"),
            ("Retry-After", "Sun, 01 Jun 2025 11:30:00 GMT"),
        ],
    )

    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> None:
        write(h, reply)

    server.route("/feed", handler)
    result = fetch_once(server.url("/feed"))
    assert result.status is FetchStatus.ERROR
    assert result.retry_after == NOW + timedelta(minutes=90)


def test_html_page_is_ok_here(server: LoopbackServer) -> None:
    html = b"<!doctype html><html><head><title>x</title></head><body>hi</body></html>"
    server.route("/feed", body=html, headers={"content-type": "text/html"})
    result = fetch_once(server.url("/feed"))
    assert result.status is FetchStatus.OK
    assert result.body == html  # the parse stage decides it is not a feed


def test_empty_body_is_ok_here(server: LoopbackServer) -> None:
    server.route("/feed", body=b"")
    result = fetch_once(server.url("/feed"))
    assert result.status is FetchStatus.OK
    assert result.body == b""


def test_gzip_body_is_decoded_and_header_dropped(server: LoopbackServer) -> None:
    server.route("/feed", body=gzip.compress(FEED), headers={"content-encoding": "gzip"})
    result = fetch_once(server.url("/feed"))
    assert result.status is FetchStatus.OK
    assert result.body == FEED
    assert "content-encoding" not in result.headers


def test_connection_reset(server: LoopbackServer) -> None:
    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> None:
        reset_connection(h)

    server.route("/feed", handler)
    _fails(fetch_once(server.url("/feed")), ErrorClass.CONNECT)


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _fails(fetch_once(f"http://127.0.0.1:{port}/feed"), ErrorClass.CONNECT)


def test_tls_failure(server: LoopbackServer) -> None:
    server.route("/feed", body=FEED)
    url = server.url("/feed").replace("http://", "https://")
    _fails(fetch_once(url), ErrorClass.TLS)


def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    """Certificates are verified (the slots' transports share one verifying context): a
    self-signed certificate fails the handshake, and the request is never sent."""
    cert, key = self_signed_certificate(tmp_path)
    served: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)

        def log_message(self, *_args: object) -> None:
            pass

    with tls_server(cert, key, Handler) as port:
        result = fetch_once(f"https://127.0.0.1:{port}/feed")
    _fails(result, ErrorClass.TLS)
    assert "CERTIFICATE_VERIFY_FAILED" in result.error_message
    assert served == []


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*_args: object, **_kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    _fails(fetch_once("http://feeds.invalid/rss"), ErrorClass.DNS)


def test_malformed_http(server: LoopbackServer) -> None:
    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> None:
        write(h, b"HELLO THERE\r\n\r\n")

    server.route("/feed", handler)
    _fails(fetch_once(server.url("/feed")), ErrorClass.PROTOCOL)


def test_read_timeout(server: LoopbackServer) -> None:
    def handler(_req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
        time.sleep(1.5)
        return Reply(200, FEED)

    server.route("/feed", handler)
    started = time.monotonic()
    _fails(fetch_once(server.url("/feed"), read_timeout_seconds=0.3), ErrorClass.TIMEOUT)
    assert time.monotonic() - started < 1.5


def test_header_drip_is_cut_by_the_total_deadline(server: LoopbackServer) -> None:
    """One byte every 0.2 s never trips a 1 s read timeout; the 2 s total deadline does."""

    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> None:
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
        for byte in head:
            try:
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.2)

    server.route("/feed", handler)
    started = time.monotonic()
    result = fetch_once(server.url("/feed"), timeout_seconds=2.0, read_timeout_seconds=1.0)
    elapsed = time.monotonic() - started
    _fails(result, ErrorClass.TIMEOUT)
    assert 1.9 < elapsed < 4.0, elapsed


def test_content_length_too_big_is_refused_early(server: LoopbackServer) -> None:
    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> None:
        write(h, b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n" + b"x" * 65536)

    server.route("/feed", handler)
    result = fetch_once(server.url("/feed"))
    _fails(result, ErrorClass.TOO_LARGE)
    assert result.raw_bytes == 0


def test_chunked_body_too_big(server: LoopbackServer) -> None:
    chunk = b"x" * 65536

    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> None:
        write(h, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(200):  # 12.5 MiB, more than the 1 MiB cap
            try:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                return
        write(h, b"0\r\n\r\n")

    server.route("/feed", handler)
    result = fetch_once(server.url("/feed"), max_raw_bytes=1024 * 1024)
    _fails(result, ErrorClass.TOO_LARGE)
    assert result.raw_bytes <= 1024 * 1024 + 2 * 65536


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip, gzip", gzip.compress(gzip.compress(FEED))),
        ("zstd", FEED),
        ("compress", FEED),
        ("gzip", b"\x1f\x8b\x08\x00garbage-not-gzip"),
        ("gzip", gzip.compress(FEED)[:-12]),  # truncated
        ("br", b"\xff\xfe\xfd not brotli"),
    ],
)
def test_bad_encodings(server: LoopbackServer, encoding: str, body: bytes) -> None:
    server.route("/feed", body=body, headers={"content-encoding": encoding})
    _fails(fetch_once(server.url("/feed")), ErrorClass.BAD_ENCODING)


def test_redirect_loop(server: LoopbackServer) -> None:
    server.route("/loop", status=301, headers={"location": "/loop"})
    result = fetch_once(server.url("/loop"))
    _fails(result, ErrorClass.TOO_MANY_REDIRECTS)
    assert result.permanent_url is None
    assert len(server.requests) == 1


def test_two_step_loop(server: LoopbackServer) -> None:
    server.route("/a", status=302, headers={"location": "/b"})
    server.route("/b", status=302, headers={"location": "/a"})
    _fails(fetch_once(server.url("/a")), ErrorClass.TOO_MANY_REDIRECTS)
    assert len(server.requests) == 2


def test_redirect_chain_longer_than_five(server: LoopbackServer) -> None:
    for i in range(10):
        server.route(f"/hop{i}", status=301, headers={"location": f"/hop{i + 1}"})
    result = fetch_once(server.url("/hop0"))
    _fails(result, ErrorClass.TOO_MANY_REDIRECTS)
    assert len(server.requests) == 6  # the first request and five followed hops


def test_permanent_chain_sets_permanent_url(server: LoopbackServer) -> None:
    server.route("/old", status=301, headers={"location": "/older"})
    server.route("/older", status=308, headers={"location": server.url("/new")})
    server.route("/new", body=FEED)
    result = fetch_once(server.url("/old"))
    assert result.status is FetchStatus.OK
    assert result.final_url == server.url("/new")
    assert result.permanent_url == server.url("/new")
    assert [r.status for r in result.redirects] == [301, 308]
    assert result.redirects[0].from_url == server.url("/old")


def test_temporary_hop_clears_permanent_url(server: LoopbackServer) -> None:
    server.route("/old", status=301, headers={"location": "/tmp"})
    server.route("/tmp", status=302, headers={"location": "/new"})
    server.route("/new", body=FEED)
    result = fetch_once(server.url("/old"))
    assert result.status is FetchStatus.OK
    assert result.final_url == server.url("/new")
    assert result.permanent_url is None


def test_redirect_without_location(server: LoopbackServer) -> None:
    server.route("/feed", status=301)
    _fails(fetch_once(server.url("/feed")), ErrorClass.PROTOCOL)


def test_redirect_to_another_scheme_is_blocked(server: LoopbackServer) -> None:
    server.route("/feed", status=302, headers={"location": "file:///etc/passwd"})
    _fails(fetch_once(server.url("/feed")), ErrorClass.BLOCKED)


def test_entity_declaration_is_refused(server: LoopbackServer) -> None:
    doc = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss>&a;&a;</rss>'
    server.route("/feed", body=doc.encode("utf-16"))
    _fails(fetch_once(server.url("/feed")), ErrorClass.ENTITIES)


def test_page_stops_after_head(server: LoopbackServer) -> None:
    head = b"<html><head><meta property='og:image' content='/i.png'></HEAD><body>"
    chunk = b"y" * 65536

    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> None:
        write(h, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        write(h, b"%x\r\n%s\r\n" % (len(head), head))
        for _ in range(100):
            try:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.01)
        write(h, b"0\r\n\r\n")

    server.route("/article", handler)

    async def go() -> FetchResult:
        async with Fetcher(settings()) as fetcher:
            return await fetcher.fetch_page(server.url("/article"))

    result = run(go())
    assert result.status is FetchStatus.OK
    assert result.body.startswith(head)
    assert len(result.body) < 4 * 65536


def test_page_is_truncated_at_the_cap(server: LoopbackServer) -> None:
    server.route("/article", body=b"<html>" + b"z" * 300_000)

    async def go() -> FetchResult:
        async with Fetcher(settings()) as fetcher:
            return await fetcher.fetch_page(server.url("/article"), max_bytes=100_000)

    result = run(go())
    assert result.status is FetchStatus.OK
    assert len(result.body) == 100_000
