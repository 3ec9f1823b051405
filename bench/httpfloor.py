"""What an unchanged re-poll costs in HTTP, layer by layer, and the imports.

    python -m bench.httpfloor --feeds 1000 --runs 5

Against the bench server, every feed is fetched once to learn its validators; then, in
one process and interleaved, each of 1,000 conditional GETs (all answered 304) is sent
through httpx alone, with nothing of the aggregator around it: ``httpx.AsyncClient`` with
one client per slot (the fetcher's layout until it called the slots' transports itself) at
16 slots (the default concurrency) and at 4, and the synchronous ``httpx.Client`` on one
thread; through the fetcher's own slot transport (``aggregator.fetch.wire``, h11 over
asyncio streams) at 16 slots, with ``httpx.Request`` in and ``httpx.Response`` out; and
through the whole ``Fetcher`` (its slots, per-host limits, deadline and result), as a pass
calls it. Then the interpreter's start-up with the imports of a pass (``python -c "import
aggregator.cli, ..."``), in fresh processes. Prints the medians and their ratios to the
16-slot ``httpx.AsyncClient`` figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from aggregator.fetch import Fetcher
from aggregator.fetch.guard import allow_all
from aggregator.fetch.wire import SlotTransport
from aggregator.model import FetchRequest, FetchSettings, FetchStatus
from bench.measure import ROOT, compile_package
from bench.server import FeedServer

IMPORTS = "import aggregator.cli, aggregator.wiring, aggregator.pipeline"


def validators(urls: list[str]) -> dict[str, dict[str, str]]:
    headers = {}
    with httpx.Client() as client:
        for url in urls:
            response = client.get(url)
            headers[url] = {
                "If-None-Match": response.headers["etag"],
                "If-Modified-Since": response.headers["last-modified"],
            }
    return headers


async def async_slots(urls: list[str], headers: dict[str, dict[str, str]], slots: int) -> None:
    limits = httpx.Limits(max_connections=5, max_keepalive_connections=4)
    clients = [httpx.AsyncClient(limits=limits) for _ in range(slots)]
    queue = list(urls)

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            url = queue.pop()
            response = await client.get(url, headers=headers[url])
            if response.status_code != 304:
                raise RuntimeError(f"{url}: {response.status_code}, not 304")

    await asyncio.gather(*(worker(c) for c in clients))
    for client in clients:
        await client.aclose()


async def slot_transports(urls: list[str], headers: dict[str, dict[str, str]], slots: int) -> None:
    transports = [SlotTransport(allow_all, httpx.create_ssl_context) for _ in range(slots)]
    timeouts = httpx.Timeout(10.0).as_dict()
    queue = list(urls)

    async def worker(transport: SlotTransport) -> None:
        while queue:
            url = queue.pop()
            request = httpx.Request(
                "GET", url, headers=headers[url], extensions={"timeout": timeouts}
            )
            response = await transport.handle_async_request(request)
            try:
                async for _chunk in response.aiter_raw():
                    pass
            finally:
                await response.aclose()
            if response.status_code != 304:
                raise RuntimeError(f"{url}: {response.status_code}, not 304")

    await asyncio.gather(*(worker(t) for t in transports))
    for transport in transports:
        await transport.aclose()


async def fetcher(urls: list[str], headers: dict[str, dict[str, str]]) -> None:
    # As the bench's configuration has it (bench.run.write_config): one loopback host.
    settings = FetchSettings(
        allow_private_networks=True, per_host_concurrency=16, per_host_delay_seconds=0
    )
    requests = [
        FetchRequest(url, headers[url]["If-None-Match"], headers[url]["If-Modified-Since"])
        for url in urls
    ]
    async with Fetcher(settings) as f:
        results = await asyncio.gather(*(f.fetch(r) for r in requests))
    if any(r.status is not FetchStatus.NOT_MODIFIED for r in results):
        raise RuntimeError("not every feed answered 304")


def sync_one_thread(urls: list[str], headers: dict[str, dict[str, str]]) -> None:
    with httpx.Client() as client:
        for url in urls:
            if client.get(url, headers=headers[url]).status_code != 304:
                raise RuntimeError(f"{url}: not 304")


def imports() -> None:
    subprocess.run([sys.executable, "-c", IMPORTS], cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    compile_package(ROOT)
    with FeedServer(args.feeds) as server:
        urls = server.urls()
        headers = validators(urls)
        ways: dict[str, Callable[[], None]] = {
            "httpx.AsyncClient, 16 slots": lambda: asyncio.run(async_slots(urls, headers, 16)),
            "httpx.AsyncClient, 4 slots": lambda: asyncio.run(async_slots(urls, headers, 4)),
            "httpx.Client, 1 thread": lambda: sync_one_thread(urls, headers),
            "slot transports, 16 slots": lambda: asyncio.run(slot_transports(urls, headers, 16)),
            "Fetcher, concurrency 16": lambda: asyncio.run(fetcher(urls, headers)),
            "start-up and a pass's imports": imports,
        }
        timings: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.runs):
            for name, way in ways.items():
                started = time.perf_counter()
                way()
                timings[name].append(time.perf_counter() - started)
    base = statistics.median(timings["httpx.AsyncClient, 16 slots"])
    print(f"{args.feeds} conditional GETs answered 304, medians of {args.runs} interleaved runs:")
    for name, runs in timings.items():
        median = statistics.median(runs)
        print(f"  {name:<32} {median:6.3f} s  ({median / base:.2f} x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
