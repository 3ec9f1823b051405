"""Per-host and global limits (POLITENESS_AND_SECURITY.md 1.5): measured on the server."""

from __future__ import annotations

import asyncio
import http.server
import itertools
import threading
import time

from aggregator.fetch import Fetcher
from aggregator.model import FetchRequest, FetchResult, FetchStatus
from tests.fetch.helpers import run, settings
from tests.httpserver import LoopbackServer, Reply, SeenRequest

FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


class _InFlight:
    def __init__(self, hold: float = 0.1) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def handler(self, _req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        return Reply(200, FEED)


def test_one_host_gets_two_at_a_time_spaced(server: LoopbackServer) -> None:
    # Each reply takes 0.15 s and starts are 0.1 s apart: both limits bind in turn.
    meter = _InFlight(hold=0.15)
    server.route("/feed", meter.handler)
    delay = 0.1

    async def go() -> list[FetchResult]:
        limits = settings(per_host_concurrency=2, per_host_delay_seconds=delay, concurrency=16)
        async with Fetcher(limits) as fetcher:
            urls = [server.url(f"/feed?n={i}") for i in range(10)]
            return await asyncio.gather(*(fetcher.fetch(FetchRequest(u)) for u in urls))

    results = run(go())
    assert all(r.status is FetchStatus.OK for r in results)
    assert meter.peak == 2
    starts = sorted(r.at for r in server.requests)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 10
    # Arrival times on the server also carry thread and connection set-up noise.
    assert min(gaps) >= delay * 0.7, gaps
    assert starts[-1] - starts[0] >= 9 * delay * 0.95


def test_global_limit_applies_across_hosts(server: LoopbackServer) -> None:
    meter = _InFlight()
    with LoopbackServer("127.0.0.2") as other:
        server.route("/feed", meter.handler)
        other.route("/feed", meter.handler)

        async def go() -> list[FetchResult]:
            limits = settings(per_host_concurrency=2, concurrency=1)
            async with Fetcher(limits) as fetcher:
                urls = [s.url("/feed") for s in (server, other) for _ in range(3)]
                return await asyncio.gather(*(fetcher.fetch(FetchRequest(u)) for u in urls))

        results = run(go())
    assert all(r.status is FetchStatus.OK for r in results)
    assert meter.peak == 1


def test_connections_are_reused(server: LoopbackServer) -> None:
    ports: list[int] = []

    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> Reply:
        ports.append(h.client_address[1])
        return Reply(200, FEED)

    server.route("/feed", handler)

    async def go() -> None:
        async with Fetcher(settings()) as fetcher:
            for _ in range(3):
                await fetcher.fetch(FetchRequest(server.url("/feed")))

    run(go())
    assert len(set(ports)) == 1


def test_two_hosts_taken_in_turn_keep_one_connection_each(server: LoopbackServer) -> None:
    """Each global slot has its own pool: a free slot last used for the same host is taken
    first, so alternating between hosts does not open a connection per fetch."""
    peers: list[tuple[str, int]] = []

    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> Reply:
        peers.append((h.server.server_address[0], h.client_address[1]))
        return Reply(200, FEED)

    with LoopbackServer("127.0.0.2") as other:
        server.route("/feed", handler)
        other.route("/feed", handler)

        async def go() -> None:
            async with Fetcher(settings(concurrency=4)) as fetcher:
                for _ in range(4):
                    for s in (server, other):
                        await fetcher.fetch(FetchRequest(s.url("/feed")))

        run(go())
    assert len(peers) == 8
    assert len(set(peers)) == 2  # one connection per host, each reused three times


def test_connections_to_one_busy_host_stay_within_the_concurrency(
    server: LoopbackServer,
) -> None:
    """200 fetches, 8 at a time, to one host: at most 8 connections, each reused."""
    peers: list[int] = []

    def handler(_req: SeenRequest, h: http.server.BaseHTTPRequestHandler) -> Reply:
        peers.append(h.client_address[1])
        time.sleep(0.002)
        return Reply(304, b"", {"etag": '"v"'})

    server.route("/feed", handler)

    async def go() -> list[FetchResult]:
        limits = settings(concurrency=8, per_host_concurrency=8)
        async with Fetcher(limits) as fetcher:
            urls = [server.url(f"/feed?n={i}") for i in range(200)]
            return await asyncio.gather(*(fetcher.fetch(FetchRequest(u, etag='"v"')) for u in urls))

    results = run(go())
    assert all(r.status is FetchStatus.NOT_MODIFIED for r in results)
    assert len(peers) == 200
    assert 1 < len(set(peers)) <= 8
