"""Baselines the aggregator is compared with, each meant to run in its own process.

* ``feedparser``: what a hand-written cron script does,
  ``for url in urls: feedparser.parse(url)`` (feedparser fetches the URL itself, with
  no stored validators, so every poll is a full download and parse).
* ``reader``: the lemon24/reader library, ``update_feeds(workers=N)`` into a SQLite
  file; run it again on the same file for a re-poll (reader stores ETag/Last-Modified
  and sends conditional requests).

``python -m bench.baselines feedparser --urls-file URLS --out result.json``
``python -m bench.baselines reader --db reader.sqlite --workers 8 --urls-file URLS --out r.json``

Each writes a JSON object with at least ``entries_seen``, ``entries_new`` and ``errors``;
wall/CPU/memory are measured from outside by the harness (:mod:`bench.measure`).
"""

from __future__ import annotations

import argparse
import json
import time
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
        "entries_new": after - before,
        "entries_total": after,
        "errors": errors,
        "workers": workers,
        "add_feeds_s": round(t1 - t0, 3),
        "update_feeds_s": round(t2 - t1, 3),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Run one baseline pass (one process per pass).")
    p.add_argument("kind", choices=["feedparser", "reader"])
    p.add_argument("--urls-file", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--db", help="reader: SQLite file (kept between passes)")
    p.add_argument("--workers", type=int, default=8, help="reader: update_feeds workers")
    args = p.parse_args(argv)
    urls = args.urls_file.read_text().split()
    if args.kind == "feedparser":
        result = run_feedparser(urls)
    else:
        if not args.db:
            p.error("reader needs --db")
        result = run_reader(urls, args.db, args.workers)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
