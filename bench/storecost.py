"""What the store costs a first ingest, with SQLite's page reads varied.

    python -m bench.storecost --feeds 300 --runs 5 [--stored 100000]

The bench feeds are parsed and extracted once, untimed, as a first ingest would. Then each
variant stores them into a new SQLite file (with ``--stored N``, a copy of one already
holding N other entries), as a first ingest's store threads do: for each feed, on
``STORE_THREADS`` threads taking feeds in turn, ``stored_entries`` (none found),
``add_entries`` (every entry new and pending) and ``mark_written`` (a made-up digest: no
file is written). Runs of the variants alternate; each run's process CPU (every thread's)
and wall time are divided by the entries stored. Prints the medians and their ratios to
the first variant, all in one process.

Variants, each set on every new connection: ``default`` (the store's own settings:
pages read with ``pread``, a 2 MB page cache), ``mmap`` (the file mapped, 256 MB) and
``cache`` (a 32 MB page cache). In WAL mode a connection drops its whole page cache
whenever another connection committed since its last transaction, so four pooled
connections taking turns read most pages again in every transaction, from the kernel's
page cache: mapped, such a read is a memory access instead of a system call and a copy.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from aggregator.locales import load_labels
from aggregator.model import EntryStatus, FeedConfig, SiteSettings
from aggregator.pipeline import (
    STORE_THREADS,
    content_hash,
    extraction_context,
    new_entry,
    parse_and_extract,
)
from aggregator.store import NewEntry, Store
from bench.feeds import generate, render

HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}
NOW = datetime(2026, 11, 20, tzinfo=UTC)
#: Statements run on each new connection, after the store's own.
VARIANTS: dict[str, tuple[str, ...]] = {
    "default": (),
    "mmap": (f"PRAGMA mmap_size={256 * 2**20}",),
    "cache": ("PRAGMA cache_size=-32000",),
}


def new_entries(feeds: int) -> tuple[list[FeedConfig], list[list[NewEntry]]]:
    """The bench feeds' entries, extracted as on a first ingest, as the store gets them."""
    site, labels = SiteSettings(), load_labels("fr")
    sources = [FeedConfig(name=f"Feed {i}", url=f"http://127.0.0.1/{i}") for i in range(feeds)]
    per_feed = []
    for i, spec in enumerate(generate(feeds)):
        context = extraction_context(sources[i], site, labels, ())
        extracted = parse_and_extract(
            render(spec, 0), sources[i].url, HEADERS, sources[i], site, labels, (), NOW,
            frozenset(), context,
        )  # fmt: skip
        per_feed.append(
            [new_entry(a, site, content_hash(a), EntryStatus.PENDING) for a in extracted.articles]
        )
    return sources, per_feed


def open_store(path: Path, pragmas: tuple[str, ...]) -> Store:
    store = Store.open(f"sqlite:///{path}")

    @event.listens_for(store.engine, "connect")
    def _variant(dbapi_connection: Any, _record: Any) -> None:  # after the store's own
        for pragma in pragmas:
            dbapi_connection.execute(pragma)

    store.ensure_schema()
    return store


def store_feeds(
    store: Store, sources: list[FeedConfig], per_feed: list[list[NewEntry]], threads: int
) -> int:
    """Store every feed's entries as a first ingest does; the number stored."""
    store.sync_feeds(sources, now=NOW)
    ids = {f.url: f.id for f in store.due_feeds(now=NOW, force=True)}

    def one_feed(index: int) -> int:
        entries = per_feed[index]
        feed_id = ids[sources[index].url]
        store.stored_entries([e.article.identity for e in entries])
        inserted = store.add_entries(feed_id, entries, now=NOW, lease=timedelta(minutes=10))
        store.mark_written([(e.id, "0" * 64) for e in inserted], now=NOW, feed_id=feed_id)
        return len(inserted)

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(one_feed, range(len(sources))))


def other_entries(
    sources: list[FeedConfig], per_feed: list[list[NewEntry]], count: int
) -> tuple[list[FeedConfig], list[list[NewEntry]]]:
    """About ``count`` entries of other feeds: copies of these under other identities and
    file names (the indexes grow as with real ones: the names are hashes and dates)."""
    feeds: list[FeedConfig] = []
    entries: list[list[NewEntry]] = []
    copy = 0
    while sum(map(len, entries)) < count:
        copy += 1
        for source, new in zip(sources, per_feed, strict=True):
            feeds.append(dataclasses.replace(source, url=f"{source.url}/other-{copy}"))
            entries.append(
                [
                    dataclasses.replace(
                        n,
                        article=dataclasses.replace(
                            n.article, identity=f"{n.article.identity}#other-{copy}"
                        ),
                        file_name=f"o{copy}-{n.file_name}",
                        alt_file_name=f"o{copy}-{n.alt_file_name}",
                    )
                    for n in new
                ]
            )
    return feeds, entries


def store_once(
    folder: Path,
    pragmas: tuple[str, ...],
    sources: list[FeedConfig],
    per_feed: list[list[NewEntry]],
    filled: Path | None,
) -> tuple[float, float, int]:
    """(process CPU s, wall s, entries stored) of storing every feed into a new file."""
    path = folder / "store.db"
    if filled is not None:
        shutil.copyfile(filled, path)
    store = open_store(path, pragmas)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        stored = store_feeds(store, sources, per_feed, STORE_THREADS)
        return time.process_time() - cpu, time.perf_counter() - wall, stored
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stored", type=int, default=0, help="entries already stored")
    args = parser.parse_args(argv)
    sources, per_feed = new_entries(args.feeds)
    print(f"{sum(map(len, per_feed))} entries of {args.feeds} feeds extracted")
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="aggregator-storecost-") as work:
        filled: Path | None = None
        if args.stored:
            filled = Path(work) / "filled.db"
            feeds, entries = other_entries(sources, per_feed, args.stored)
            store = open_store(filled, ())
            try:
                print(f"{store_feeds(store, feeds, entries, 1)} other entries stored first")
            finally:
                store.close()
        for run in range(args.runs):
            for name, pragmas in VARIANTS.items():
                folder = Path(work) / f"{name}-{run}"
                folder.mkdir()
                used, took, stored = store_once(folder, pragmas, sources, per_feed, filled)
                shutil.rmtree(folder)
                cpu[name].append(used / stored * 1e6)
                wall[name].append(took / stored * 1e6)
                print(f"run {run + 1} {name}: {cpu[name][-1]:.1f} us CPU, "
                      f"{wall[name][-1]:.1f} us wall an entry ({stored} entries)")  # fmt: skip
    first = next(iter(VARIANTS))
    base_cpu, base_wall = statistics.median(cpu[first]), statistics.median(wall[first])
    print(f"medians of {args.runs} runs, an entry:")
    for name in VARIANTS:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"  {name}: {c:.1f} us CPU ({c / base_cpu:.2f} x), "
              f"{w:.1f} us wall ({w / base_wall:.2f} x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
