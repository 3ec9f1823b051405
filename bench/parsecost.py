"""What a changed feed costs to parse, with and without its earlier items known.

    python -m bench.parsecost --feeds 100 --runs 5

For each bench feed, version 0 is parsed once to learn its items' keys; then version 1
(3 new items) is parsed plainly, keyed with nothing known (a first ingest), and keyed with
version 0's items known (a changed feed); the two keyed parses again with the new items'
large CDATA sections left in feedparser's way (``aggregator.hollow`` off); and the keyed
first parse with feedparser's own base-URI check instead of the aggregator's memory of it
(``aggregator.parse``), and with the standard library's expat driver instead of
``aggregator.sax``, passes of each two alternating. Prints the medians per feed and
their ratios to the plain parse, all in one process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import feedparser.api
import feedparser.mixin
import feedparser.urls

from aggregator import hollow
from aggregator.itemscan import scan_items
from aggregator.parse import parse_feed
from bench.feeds import generate, render

URL = "http://127.0.0.1/feed"
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}
LIMIT = 500


def per_feed_ms(count: int, runs: int, work: Callable[[int], object]) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        for i in range(count):
            work(i)
        timings.append((time.perf_counter() - started) / count * 1000)
    return statistics.median(timings)


def alternating(
    runs: int, work: Callable[[], float], target: object, name: str, values: list[Any]
) -> list[float]:
    """The median of ``work()`` with ``target.name`` set to each of ``values``, in passes
    that alternate; the attribute is put back afterwards."""
    original = getattr(target, name)
    timings: list[list[float]] = [[] for _ in values]
    try:
        for _ in range(runs):
            for value, times in zip(values, timings, strict=True):
                setattr(target, name, value)
                times.append(work())
    finally:
        setattr(target, name, original)
    return [statistics.median(times) for times in timings]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    specs = generate(args.feeds)
    before = [render(s, 0) for s in specs]
    after = [render(s, 1) for s in specs]
    known = [
        frozenset(
            parse_feed(
                b, url=URL, headers=HEADERS, max_entries=LIMIT, known_items=frozenset()
            ).item_keys
        )
        for b in before
    ]
    n = len(specs)

    def parse(i: int, items: frozenset[bytes] | None) -> object:
        return parse_feed(after[i], url=URL, headers=HEADERS, max_entries=LIMIT, known_items=items)

    plain = per_feed_ms(n, args.runs, lambda i: parse(i, None))
    keyed = per_feed_ms(n, args.runs, lambda i: parse(i, frozenset()))
    cut = per_feed_ms(n, args.runs, lambda i: parse(i, known[i]))
    # The same two with the large CDATA sections left in place (aggregator.hollow).
    hollow_min = hollow.MIN_SECTION_BYTES
    hollow.MIN_SECTION_BYTES = sys.maxsize
    try:
        keyed_full = per_feed_ms(n, args.runs, lambda i: parse(i, frozenset()))
        cut_full = per_feed_ms(n, args.runs, lambda i: parse(i, known[i]))
    finally:
        hollow.MIN_SECTION_BYTES = hollow_min

    def first() -> float:
        return per_feed_ms(n, 1, lambda i: parse(i, frozenset()))

    # The keyed first parse with feedparser's own base-URI check, passes alternating with
    # the aggregator's (whose check is answered from memory).
    memo, own = alternating(
        args.runs,
        first,
        feedparser.mixin,
        "make_safe_absolute_uri",
        [feedparser.mixin.make_safe_absolute_uri, feedparser.urls.make_safe_absolute_uri],
    )
    # The same with the standard library's expat driver, which hands text over in pieces
    # (one a line, one a reference), against the aggregator's (aggregator.sax: each run of
    # text in one piece).
    joined, split = alternating(
        args.runs,
        first,
        feedparser.api,
        "PREFERRED_XML_PARSERS",
        [feedparser.api.PREFERRED_XML_PARSERS, ["xml.sax.expatreader"]],
    )
    scan = per_feed_ms(n, args.runs, lambda i: scan_items(after[i], headers=HEADERS, limit=LIMIT))
    results = [
        parse_feed(after[i], url=URL, headers=HEADERS, max_entries=LIMIT, known_items=known[i])
        for i in range(n)
    ]
    skipped = sum(r.skipped_items for r in results)
    parsed = sum(len(r.entries) for r in results)
    print(f"{n} feeds, medians of {args.runs} passes, per feed:")
    print(f"  plain parse                      {plain:7.2f} ms")
    print(f"  keyed, nothing known (first)     {keyed:7.2f} ms  ({keyed / plain:.3f} x)")
    print(f"  keyed, earlier items known       {cut:7.2f} ms  ({cut / plain:.3f} x)")
    print(f"  the same, sections not hollowed  {keyed_full:7.2f} ms  ({keyed_full / plain:.3f} x)")
    print(f"                                   {cut_full:7.2f} ms  ({cut_full / plain:.3f} x)")
    print(f"  keyed first, alternating passes  {memo:7.2f} ms  ({memo / plain:.3f} x)")
    print(f"    with feedparser's own check    {own:7.2f} ms  ({own / plain:.3f} x)")
    print(f"    memory / own check             {memo / own:7.3f} x")
    print(f"  keyed first, alternating passes  {joined:7.2f} ms  ({joined / plain:.3f} x)")
    print(f"    with the standard expat driver {split:7.2f} ms  ({split / plain:.3f} x)")
    print(f"    text in one piece / in pieces  {joined / split:7.3f} x")
    print(f"  the scan alone                   {scan:7.2f} ms  ({scan / plain:.3f} x)")
    print(f"  items skipped {skipped:,} of {skipped + parsed:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
