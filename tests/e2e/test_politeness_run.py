"""Issue 3 end to end: what publishers see of `aggregator run`, and faults isolated per feed."""

from __future__ import annotations

import gzip
import http.server
import resource
import subprocess
import sys
import time
from pathlib import Path

import brotli

from aggregator.config import load_settings
from aggregator.store import Store
from tests.e2e.helpers import aggregator, articles, write_config
from tests.fetch.helpers import raw_response, reset_connection, write_raw
from tests.httpserver import LoopbackServer, Reply, SeenRequest


def rss(tag: str, n: int = 3) -> bytes:
    items = "".join(
        f"<item><title>{tag} story {i}</title><link>http://{tag}.invalid/{i}</link>"
        f"<pubDate>Thu, 28 Mar 2024 1{i}:00:00 +0000</pubDate>"
        f"<description>Story {i} of {tag}.</description></item>"
        for i in range(n)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{tag}</title><link>http://{tag}.invalid/</link>{items}</channel></rss>"
    ).encode()


def test_publisher_sees_validators_echoed_across_runs(
    server: LoopbackServer, tmp_path: Path
) -> None:
    body = rss("polite")
    etag, last_modified = 'W/"abc"', "Tue, 01 Jul 2025 10:00:00 GMT"

    def handler(req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
        validators = {"etag": etag, "last-modified": last_modified}
        if req.header("if-none-match") == etag:
            return Reply(304, b"", validators)
        return Reply(
            200,
            body,
            {
                "content-type": "application/rss+xml",
                "set-cookie": "session=tracking; Path=/",
                **validators,
            },
        )

    server.route("/feed", handler)
    config = write_config(tmp_path, [{"name": "Polite", "url": server.url("/feed")}])
    assert aggregator("run", "--config", config).returncode == 0
    assert aggregator("run", "--config", config).returncode == 0  # not due: no request
    proc = aggregator("run", "--config", config, "--all")  # a restart, forced
    assert proc.returncode == 0, proc.stderr
    first, second = server.requests_to("/feed")
    assert first.header("if-none-match") is None  # one unconditional request, at subscription
    assert second.header("if-none-match") == etag  # byte for byte, W/ and quotes included
    assert second.header("if-modified-since") == last_modified
    for req in (first, second):
        assert req.header(
            "user-agent",
        ).startswith("aggregator/")
        assert "+http" in req.header("user-agent")
        assert req.header("accept").startswith("application/rss+xml")
        assert req.header("accept-encoding") == "gzip, deflate, br"
        assert req.header("cookie") is None and req.header("referer") is None
        assert req.path == "/feed"  # no query string added
    assert len(articles(tmp_path / "articles")) == 3


def _drip(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
        try:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
        except OSError:
            return
        time.sleep(0.2)


def _sleep(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> None:
    time.sleep(6)


def test_every_fault_is_recorded_on_its_feed_only(server: LoopbackServer, tmp_path: Path) -> None:
    zeros = bytes(200 * 1024 * 1024)
    gzip_bomb = gzip.compress(zeros, compresslevel=6)
    brotli_bomb = brotli.compress(zeros, quality=1)
    del zeros
    server.feed("/ok1", rss("one"))
    server.feed("/ok2", rss("two"))
    server.route("/500", status=500, body=b"oops")
    server.route("/reset", lambda _r, h: reset_connection(h))
    server.route("/timeout", _sleep)
    server.route("/drip", _drip)
    server.route(
        "/huge",
        lambda _r, h: write_raw(
            h, b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n" + b"x" * 65536
        ),
    )
    server.route("/gzip-bomb", body=gzip_bomb, headers={"content-encoding": "gzip"})
    server.route("/brotli-bomb", body=brotli_bomb, headers={"content-encoding": "br"})
    server.route("/loop", status=301, headers={"location": "/loop"})
    server.route(
        "/html",
        body=b"<!doctype html><html><body><p>Not a feed</p></body></html>",
        headers={"content-type": "text/html"},
    )
    server.route("/empty", body=b"", headers={"content-type": "application/rss+xml"})
    server.route(
        "/invalid",
        body=b"\x00\x01 this is not xml at all <<<",
        headers={"content-type": "application/xml"},
    )
    server.route(
        "/429",
        lambda _r, h: write_raw(
            h, raw_response("429 Too Many Requests", [("Retry-After", "7200")])
        ),
    )
    server.route("/410", status=410)
    server.route("/moved1", status=301, headers={"location": "/moved2"})
    server.route("/moved2", status=308, headers={"location": "/new-home"})
    server.feed("/new-home", rss("moved"))
    server.route("/moved-to-html", status=301, headers={"location": "/html"})
    expected = {
        "/500": "http_5xx",
        "/reset": "connect",
        "/timeout": "timeout",
        "/drip": "timeout",
        "/huge": "too_large",
        "/gzip-bomb": "too_large",
        "/brotli-bomb": "too_large",
        "/loop": "too_many_redirects",
        "/html": "parse",
        "/empty": "parse",
        "/invalid": "parse",
        "/429": "http_429",
        "/410": "http_410",
        "/moved-to-html": "parse",
    }
    paths = ["/ok1", "/ok2", "/moved1", *expected]
    config = write_config(
        tmp_path,
        [{"name": p.strip("/"), "url": server.url(p)} for p in paths],
        fetch={"timeout_seconds": 3, "read_timeout_seconds": 2},
    )
    started = time.monotonic()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(p.returncode)",
            sys.executable,
            "-m",
            "aggregator",
            "run",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert child.returncode == 0, child.stderr
    peak_kib = int(child.stderr.strip().splitlines()[-1])
    assert peak_kib < 512 * 1024, f"peak RSS {peak_kib} KiB"
    assert elapsed < 30, elapsed
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # (the test process itself)

    settings = load_settings(config)
    store = Store.open(settings.database_url)
    try:
        status = {s.key.rsplit("/", 1)[-1]: s for s in store.feed_statuses()}
        history = store.url_history(server.url("/moved1"))
    finally:
        store.close()
    for path, error_class in expected.items():
        s = status[path.strip("/")]
        assert s.last_error_class == error_class, (path, s)
        assert s.consecutive_failures == 1 and s.last_success_at is None
        assert s.next_check_at is not None and s.next_check_at > s.last_checked_at
    assert status["410"].retired
    assert (status["429"].next_check_at - status["429"].last_checked_at).total_seconds() >= 7200
    for ok in ("ok1", "ok2", "moved1"):
        assert status[ok].last_error_class is None and status[ok].last_success_at is not None
    assert status["moved1"].url == server.url("/new-home")
    # A permanent redirect to something that is not a feed does not move the feed.
    assert status["moved-to-html"].url == server.url("/moved-to-html")
    assert [h[:2] for h in history] == [(server.url("/moved1"), server.url("/new-home"))]
    assert len(articles(tmp_path / "articles")) == 9

    # A forced second run: the retired feed gets no request; feeds in back-off none either.
    before = {p: len(server.requests_to(p)) for p in paths}
    proc = aggregator("run", "--config", config, "--all")
    assert proc.returncode == 0, proc.stderr
    after = {p: len(server.requests_to(p)) for p in paths}
    assert after["/410"] == before["/410"]
    assert after["/429"] == before["/429"]
    assert after["/ok1"] == before["/ok1"] + 1
    assert len(server.requests_to("/new-home")) == 2  # polled at its new URL
