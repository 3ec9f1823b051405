"""2.12 end to end: oversized input is bounded per feed (README "Limits").

- a 10 MB summary (CDATA HTML, escaped HTML, plain text) → one article, summary cut to
  ``site.summary_length``;
- 100,000 entries → the first 500 (``MAX_ENTRIES_PER_FEED``) become articles, the rest are
  cut from the document before feedparser reads it;
- 200-deep nesting of HTML in a summary and of XML in an item → parsed, text kept (5,000
  unclosed ``<div>`` → bounded; libxml2 drops text more than 256 levels down);
- a body over ``fetch.max_decoded_bytes`` → refused as ``too_large``.

Each run is measured (wall time, peak RSS of the aggregator process).
"""

from __future__ import annotations

import http.server
import sqlite3
import time
import tracemalloc
from pathlib import Path

import pytest

from aggregator.parse import parse_feed
from aggregator.pipeline import MAX_ENTRIES_PER_FEED
from tests.e2e.helpers import write_config
from tests.hostile.helpers import item, measured_run, rss, stored_entry_count, valid_articles
from tests.httpserver import LoopbackServer, Reply, SeenRequest

TEN_MB = 10_000_000


def test_ten_megabyte_summaries(server: LoopbackServer, tmp_path: Path) -> None:
    unit = "<p>word &amp; more</p>"
    cdata = "<![CDATA[" + unit * (TEN_MB // len(unit)) + "]]>"
    feeds = {
        "cdata": rss([item("cdata", link="http://big.invalid/1")]).replace(
            b"</item>", f"<description>{cdata}</description></item>".encode()
        ),
        "escaped": rss(
            [item("escaped", link="http://big.invalid/2", description="<p>w m</p>" * 450_000)]
        ),
        "text": rss([item("text", link="http://big.invalid/3", description="word " * 2_000_000)]),
    }
    for name, body in feeds.items():
        assert len(body) > 9_000_000
        server.feed(f"/{name}", body)
    config = write_config(tmp_path, [{"name": n, "url": server.url(f"/{n}")} for n in feeds])
    run = measured_run(config)
    assert run.returncode == 0, run.stderr
    assert run.seconds < 60, run.seconds
    assert run.peak_mib < 512, run.peak_mib
    metas = valid_articles(tmp_path)
    assert sorted(str(m["title"]) for m in metas.values()) == ["cdata", "escaped", "text"]
    for meta in metas.values():
        assert 0 < len(str(meta["summary"])) <= 600
    assert all(len(p.read_bytes()) < 10_000 for p in (tmp_path / "articles").iterdir())


def test_hundred_thousand_entries(server: LoopbackServer, tmp_path: Path) -> None:
    items = [
        f"<item><title>t{i}</title><link>http://many.invalid/{i}</link></item>"
        for i in range(100_000)
    ]
    body = rss(items)
    assert len(body) < 10 * 1024 * 1024  # under the raw cap: the entry limit is what bounds it
    server.feed("/many", body)
    config = write_config(tmp_path, [{"name": "Many", "url": server.url("/many")}])
    run = measured_run(config)
    assert run.returncode == 0, run.stderr
    assert run.seconds < 60, run.seconds
    assert run.peak_mib < 512, run.peak_mib
    metas = valid_articles(tmp_path)
    assert len(metas) == MAX_ENTRIES_PER_FEED
    assert {m["title"] for m in metas.values()} == {f"t{i}" for i in range(MAX_ENTRIES_PER_FEED)}
    assert stored_entry_count(tmp_path / "aggregator.db") == MAX_ENTRIES_PER_FEED


@pytest.mark.parametrize("known_items", [None, frozenset()], ids=["plain", "keyed"])
def test_entry_limit_is_applied_before_feedparser(known_items: frozenset[bytes] | None) -> None:
    body = rss(
        f"<item><title>t{i}</title><link>http://many.invalid/{i}</link></item>"
        for i in range(100_000)
    )
    started = time.perf_counter()
    parsed = parse_feed(
        body, url="http://many.invalid/feed", max_entries=500, known_items=known_items
    )
    seconds = time.perf_counter() - started
    assert len(parsed.entries) == 500 and parsed.title == "Hostile"
    assert len(parsed.item_keys) == (0 if known_items is None else 500)
    # 0.2 s here unloaded; the whole document took feedparser 27 s.
    assert seconds < 5, seconds
    tracemalloc.start()
    try:
        parse_feed(body, url="http://many.invalid/feed", max_entries=500, known_items=known_items)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 1024 * 1024, peak


def test_deep_nesting(server: LoopbackServer, tmp_path: Path) -> None:
    html = "<div>" * 200 + "<b>deep</b> text" + "</div>" * 200
    xml_nest = "<x:n>" * 200 + "core" + "</x:n>" * 200
    mixed = (
        "<blockquote><ul><li><table><tr><td>" * 40
        + "cell"
        + "</td></tr></table></li></ul></blockquote>" * 40
    )
    items = [
        item("html", link="http://deep.invalid/1", description=html),
        item("mixed", link="http://deep.invalid/2", description=mixed),
        item("xml", link="http://deep.invalid/3", extra=f'<x:a xmlns:x="urn:x">{xml_nest}</x:a>'),
        item("unclosed", link="http://deep.invalid/4", description="<div>" * 5000 + "open"),
        item("title" + "<b>" * 200, link="http://deep.invalid/5", raw_title=False),
    ]
    server.feed("/deep", rss(items))
    config = write_config(tmp_path, [{"name": "Deep", "url": server.url("/deep")}])
    run = measured_run(config)
    assert run.returncode == 0, run.stderr
    assert run.seconds < 30, run.seconds
    metas = {str(m["title"]): m for m in valid_articles(tmp_path).values()}
    assert set(metas) == {"html", "mixed", "xml", "unclosed", "title"}
    assert metas["html"]["summary"] == "deep text"
    assert metas["mixed"]["summary"] == "cell"
    # libxml2 stops building the tree 256 levels down: text deeper than that is dropped.
    assert metas["unclosed"]["summary"] in ("", "open")


def test_body_over_the_decoded_cap_is_refused(server: LoopbackServer, tmp_path: Path) -> None:
    body = rss([item("huge", link="http://huge.invalid/1", description="x" * 3_000_000)])
    server.feed("/huge", body)
    config = write_config(
        tmp_path,
        [{"name": "Huge", "url": server.url("/huge")}],
        fetch={"max_decoded_bytes": 2 * 1024 * 1024},
    )
    run = measured_run(config)
    assert run.returncode == 0, run.stderr
    con = sqlite3.connect(tmp_path / "aggregator.db")
    assert con.execute("SELECT last_error_class FROM feeds").fetchone()[0] == "too_large"
    con.close()
    assert valid_articles(tmp_path) == {}


def test_a_slow_to_parse_feed_does_not_starve_the_others(
    server: LoopbackServer, tmp_path: Path
) -> None:
    """A 10 MB document of escaped markup takes seconds to parse; meanwhile another feed's
    fetch (answered after 1 s, 3 s total deadline) must still complete."""
    heavy = rss([item("heavy", link="http://heavy.invalid/1", description="<p>w m</p>" * 450_000)])
    server.feed("/heavy", heavy)
    light = rss([item("light", link="http://light.invalid/1", description="ok")])

    def slow(_req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
        time.sleep(1.0)
        return Reply(200, light, {"content-type": "application/rss+xml"})

    server.route("/light", slow)
    config = write_config(
        tmp_path,
        [
            {"name": "heavy", "url": server.url("/heavy")},
            {"name": "light", "url": server.url("/light")},
        ],
        fetch={"timeout_seconds": 3},
    )
    run = measured_run(config)
    assert run.returncode == 0, run.stderr
    assert "failed" not in run.stdout.split("Total:")[0], run.stdout
    assert sorted(str(m["title"]) for m in valid_articles(tmp_path).values()) == ["heavy", "light"]
    assert run.seconds < 60 and run.peak_mib < 512, run
