"""Baselines the aggregator is compared with, each meant to run in its own process.

* ``feedparser``: what a hand-written cron script does,
  ``for url in urls: feedparser.parse(url)`` (feedparser fetches the URL itself, with
  no stored validators, so every poll is a full download and parse).
* ``reader``: the lemon24/reader library, ``update_feeds(workers=N)`` into a SQLite
  file; run it again on the same file for a re-poll (reader stores ETag/Last-Modified
  and sends conditional requests).
* ``ceiling``: not a competitor but a bound. The documents are first downloaded into
  memory (not timed), then ``feedparser.parse`` reads each one with the aggregator's own
  options (``aggregator.parse.FEEDPARSER_OPTIONS``) on one process per core, and nothing
  else is done: no HTTP, no extraction, no store, no files. Its ``parse_s`` is the least
  time in which any pipeline that has feedparser read every document whole can ingest the
  feeds on this machine. (The aggregator keeps the large CDATA sections of new items from
  feedparser, ``aggregator.hollow``, so it is not bound by it to the letter.)

``python -m bench.baselines feedparser --urls-file URLS --out result.json``
``python -m bench.baselines reader --db reader.sqlite --workers 8 --urls-file URLS --out r.json``
``python -m bench.baselines ceiling --processes 2 --urls-file URLS --out c.json``

Each writes a JSON object with at least ``entries_seen``, ``entries_new`` and ``errors``;
wall/CPU/memory are measured from outside by the harness (:mod:`bench.measure`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def run_feedparser(urls: list[str]) -> dict[str, object]:
    import feedparser

    seen = errors = 0
    for url in urls:
        d = feedparser.parse(url)
        if d.get("status") != 200 or (d.bozo and not d.entries):
            errors += 1
        seen += len(d.entries)
    # No store: everything parsed is "new" to a script that keeps no state.
    return {"entries_seen": seen, "entries_new": seen, "errors": errors}


def run_reader(urls: list[str], db: str, workers: int) -> dict[str, object]:
    from reader import make_reader

    reader = make_reader(db, search_enabled=False)
    try:
        t0 = time.perf_counter()
        for url in urls:
            reader.add_feed(url, exist_ok=True)
        before = reader.get_entry_counts().total
        t1 = time.perf_counter()
        reader.update_feeds(workers=workers, scheduled=False)
        t2 = time.perf_counter()
        after = reader.get_entry_counts().total
        errors = sum(1 for f in reader.get_feeds() if f.last_exception)
    finally:
        reader.close()
    return {
        "entries_seen": None,
        "entries_new": None if after is None or before is None else after - before,
        "entries_total": after,
        "errors": errors,
        "workers": workers,
        "add_feeds_s": round(t1 - t0, 3),
        "update_feeds_s": round(t2 - t1, 3),
    }


def _download(url: str) -> tuple[bytes, dict[str, str]]:
    """The body and the headers feedparser is given by ``aggregator.parse.parse_feed``."""
    from aggregator.parse import feedparser_headers

    with urllib.request.urlopen(url, timeout=60) as response:
        headers = {name.lower(): value for name, value in response.headers.items()}
        return response.read(), feedparser_headers(url, headers)


def _parse_count(document: tuple[bytes, dict[str, str]]) -> tuple[int, bool]:
    import feedparser

    from aggregator.parse import FEEDPARSER_OPTIONS

    body, headers = document
    d = feedparser.parse(io.BytesIO(body), response_headers=headers, **FEEDPARSER_OPTIONS)
    return len(d.entries), bool(d.bozo and not d.entries)


def run_ceiling(urls: list[str], processes: int) -> dict[str, object]:
    t0 = time.perf_counter()
    documents = [_download(url) for url in urls]
    t1 = time.perf_counter()
    with ProcessPoolExecutor(processes) as pool:
        # Start every process and import feedparser in each before the clock starts.
        list(pool.map(_parse_count, [(b"<rss version='2.0'><channel/></rss>", {})] * processes))
        t2 = time.perf_counter()
        counts = list(pool.map(_parse_count, documents, chunksize=4))
        t3 = time.perf_counter()
    seen = sum(n for n, _ in counts)
    return {
        "entries_seen": seen,
        "entries_new": seen,
        "errors": sum(1 for _, failed in counts if failed),
        "processes": processes,
        "download_s": round(t1 - t0, 3),
        "parse_s": round(t3 - t2, 3),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Run one baseline pass (one process per pass).")
    p.add_argument("kind", choices=["feedparser", "reader", "ceiling"])
    p.add_argument("--urls-file", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--db", help="reader: SQLite file (kept between passes)")
    p.add_argument("--workers", type=int, default=8, help="reader: update_feeds workers")
    p.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="ceiling: parse processes"
    )
    args = p.parse_args(argv)
    urls = args.urls_file.read_text().split()
    if args.kind == "feedparser":
        result = run_feedparser(urls)
    elif args.kind == "ceiling":
        result = run_ceiling(urls, args.processes)
    else:
        if not args.db:
            p.error("reader needs --db")
        result = run_reader(urls, args.db, args.workers)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
