"""Prometheus metrics, the staleness decision, and the small HTTP server that exposes both.

Three parts, usable alone:

- ``Metrics``: one ``CollectorRegistry`` of our own (never the global one, so tests and
  several pipelines in one process do not collide); the pipeline records into it through
  its optional ``metrics`` hook.
- ``health(statuses, now)``: a pure function of the store's feed statuses and the clock;
  a feed is *stale* when its last success is older than ``STALE_FACTOR`` times its
  expected interval plus a grace period (paused, retired and removed feeds never are).
- ``serve_metrics(address, metrics, health_source)``: a threaded HTTP server on a local
  address with ``/metrics`` (Prometheus text format) and ``/healthz`` (200 ``ok``, or 503
  listing the stale feeds). The daemon starts it; ``run`` never does.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from aggregator.model import FeedConfig, FetchResult, FetchStatus

if TYPE_CHECKING:
    from aggregator.store import FeedStatus, Store

# A feed is stale once its last success is older than this many expected intervals...
STALE_FACTOR = 3
# ...plus this much (a slow pass, a restart, a short outage of the publisher).
DEFAULT_GRACE = timedelta(minutes=30)
DEFAULT_INTERVAL_MINUTES = 60
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The counters, histograms and gauges the pipeline and the health check update."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.fetches = Counter(
            "aggregator_fetches",
            "Feed fetches by outcome (ok, not_modified, error) and error class.",
            ["status", "error_class"],
            registry=r,
        )
        self.fetch_bytes = Counter(
            "aggregator_fetch_bytes", "Bytes received on the wire for feed documents.", registry=r
        )
        self.articles_written = Counter(
            "aggregator_articles_written", "Article files written for new entries.", registry=r
        )
        self.feed_items = Counter(
            "aggregator_feed_items",
            "Items of feed documents that changed: parsed, or skipped as already seen.",
            ["outcome"],
            registry=r,
        )
        self.parse_seconds = Histogram(
            "aggregator_parse_seconds",
            "Time to parse and extract one feed document.",
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.write_seconds = Histogram(
            "aggregator_write_seconds",
            "Time to write one batch of new article files (render, fsync, rename, record).",
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.not_modified_ratio = Gauge(
            "aggregator_not_modified_ratio",
            "Share of successful fetches answered 304 Not Modified since start.",
            registry=r,
        )
        self.feeds_overdue = Gauge(
            "aggregator_feeds_overdue",
            "Feeds whose next check is past due by more than the grace period.",
            registry=r,
        )
        self.feeds_stale = Gauge(
            "aggregator_feeds_stale",
            "Feeds with no success for longer than their expected cadence allows.",
            registry=r,
        )
        self._lock = threading.Lock()
        self._ok = 0
        self._not_modified = 0

    def record_fetch(self, result: FetchResult) -> None:
        error_class = result.error_class.value if result.error_class is not None else ""
        self.fetches.labels(status=result.status.value, error_class=error_class).inc()
        self.fetch_bytes.inc(result.raw_bytes)
        with self._lock:
            if result.status is FetchStatus.OK:
                self._ok += 1
            elif result.status is FetchStatus.NOT_MODIFIED:
                self._not_modified += 1
            total = self._ok + self._not_modified
            if total:
                self.not_modified_ratio.set(self._not_modified / total)

    def record_parse(self, seconds: float, *, parsed: int = 0, skipped: int = 0) -> None:
        self.parse_seconds.observe(seconds)
        self.feed_items.labels(outcome="parsed").inc(parsed)
        self.feed_items.labels(outcome="skipped").inc(skipped)

    def record_written(self, articles: int, seconds: float) -> None:
        self.articles_written.inc(articles)
        self.write_seconds.observe(seconds)

    def record_health(self, report: HealthReport) -> None:
        self.feeds_overdue.set(report.overdue)
        self.feeds_stale.set(len(report.stale))

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


# --------------------------------------------------------------------------------------------
# Health


@dataclass(frozen=True, slots=True)
class StaleFeed:
    name: str
    url: str
    last_success_at: datetime | None
    stale_since: datetime  # when it crossed the limit


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What ``/healthz`` answers: healthy unless some watched feed is stale."""

    checked_at: datetime
    watched: int  # feeds in the configuration, neither paused nor retired
    stale: tuple[StaleFeed, ...] = ()
    overdue: int = 0

    @property
    def ok(self) -> bool:
        return not self.stale

    def describe(self) -> str:
        if self.ok:
            return f"ok: {self.watched} feeds, none stale\n"
        lines = [f"stale: {len(self.stale)} of {self.watched} feeds"]
        for f in self.stale:
            last = f.last_success_at.isoformat() if f.last_success_at else "never"
            lines.append(f"{f.name} <{f.url}>: last success {last}")
        return "\n".join(lines) + "\n"


def health(
    statuses: Iterable[FeedStatus],
    now: datetime,
    *,
    feeds: Sequence[FeedConfig] = (),
    grace: timedelta = DEFAULT_GRACE,
) -> HealthReport:
    """Decide which feeds are stale at ``now``.

    A watched feed is stale when ``now`` is past ``STALE_FACTOR`` × its configured interval
    + ``grace`` after its last success (or after it was added, if it never succeeded).
    While it is healthy (no failure since the last success) and the publisher asked for a
    slower schedule, the scheduled next check plus ``grace`` is the limit instead.
    ``feeds`` gives the intervals and paused flags (by URL); a status without one uses
    the default interval. A feed is *overdue* when its next check is more than ``grace``
    in the past: the ingester is not keeping up.
    """
    configured = {f.url: f for f in feeds}
    stale: list[StaleFeed] = []
    watched = overdue = 0
    for s in statuses:
        config = configured.get(s.key)
        if not s.in_config or s.retired or (config is not None and config.paused):
            continue
        watched += 1
        interval = timedelta(
            minutes=config.interval_minutes if config else DEFAULT_INTERVAL_MINUTES
        )
        since = s.last_success_at or s.created_at
        if s.next_check_at is not None and s.next_check_at + grace < now:
            overdue += 1
        if since is None:
            continue
        limit = since + STALE_FACTOR * interval + grace
        if s.consecutive_failures == 0 and s.next_check_at is not None:
            limit = max(limit, s.next_check_at + grace)
        if now > limit:
            stale.append(StaleFeed(s.name, s.url, s.last_success_at, limit))
    return HealthReport(now, watched, tuple(stale), overdue)


def store_health_source(
    store: Store,
    feeds: Sequence[FeedConfig],
    clock: Callable[[], datetime],
    *,
    grace: timedelta = DEFAULT_GRACE,
) -> Callable[[], HealthReport]:
    """A ``health_source`` for ``serve_metrics`` that reads the store on each request."""

    def source() -> HealthReport:
        return health(store.feed_statuses(), clock(), feeds=feeds, grace=grace)

    return source


# --------------------------------------------------------------------------------------------
# Serving


def parse_listen_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) to a (host, port) pair; ValueError if not."""
    host, sep, port_text = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"not host:port: {address!r}")
    return host, int(port_text)


class MetricsServer:
    """A running metrics server; ``close()`` stops it and frees the port."""

    def __init__(self, httpd: http.server.ThreadingHTTPServer) -> None:
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name="aggregator-metrics", daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(
    address: str, metrics: Metrics, health_source: Callable[[], HealthReport]
) -> MetricsServer:
    """Serve ``/metrics`` and ``/healthz`` on ``address`` (``host:port``; port 0: any free).

    Raises ``OSError`` when the address cannot be bound, ``ValueError`` when it is not
    ``host:port``.
    """
    host, port = parse_listen_address(address)

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "aggregator-metrics"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                # A database hiccup must not hide the counters: serve them anyway.
                with contextlib.suppress(Exception):
                    metrics.record_health(health_source())
                self._send(200, metrics.exposition(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                try:
                    report = health_source()
                except Exception as err:
                    self._send(503, f"error: {err}\n".encode(), "text/plain; charset=utf-8")
                    return
                metrics.record_health(report)
                body = ("ok\n" if report.ok else report.describe()).encode("utf-8")
                self._send(200 if report.ok else 503, body, "text/plain; charset=utf-8")
            else:
                self._send(404, b"not found: try /metrics or /healthz\n", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would drown the daemon's log

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    return MetricsServer(Server((host, port), Handler))


__all__ = [
    "DEFAULT_GRACE",
    "STALE_FACTOR",
    "HealthReport",
    "Metrics",
    "MetricsServer",
    "StaleFeed",
    "health",
    "parse_listen_address",
    "serve_metrics",
    "store_health_source",
]
