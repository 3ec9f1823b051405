"""What an unchanged re-poll through httpx's client cannot go below, and the imports.

    python -m bench.httpfloor --feeds 1000 --runs 5

Against the bench server, every feed is fetched once to learn its validators; then, in
one process and interleaved, each of 1,000 conditional GETs (all answered 304) is sent
through httpx alone, with nothing of the aggregator around it: ``httpx.AsyncClient`` with
one client per slot (the fetcher's layout until it called the slots' transports itself) at
16 slots (the default concurrency) and at 4, and the synchronous ``httpx.Client`` on one
thread. Then the interpreter's start-up with the imports of a pass (``python -c "import
aggregator.cli, ..."``), in fresh processes. Prints the medians and their ratios to the
16-slot figure.
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

from bench.measure import ROOT
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
    with FeedServer(args.feeds) as server:
        urls = server.urls()
        headers = validators(urls)
        ways: dict[str, Callable[[], None]] = {
            "httpx.AsyncClient, 16 slots": lambda: asyncio.run(async_slots(urls, headers, 16)),
            "httpx.AsyncClient, 4 slots": lambda: asyncio.run(async_slots(urls, headers, 4)),
            "httpx.Client, 1 thread": lambda: sync_one_thread(urls, headers),
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
