"""Issue 5 through `aggregator run`: page images, updates and editors' changes, churn."""

from __future__ import annotations

import http.server
import sqlite3
from pathlib import Path

from aggregator.pipeline import MAX_REWRITES_PER_ENTRY
from aggregator.render import parse_front_matter
from tests.e2e.helpers import aggregator, articles, write_config
from tests.httpserver import LoopbackServer, Reply, SeenRequest


def feed(server: LoopbackServer, items: list[tuple[str, str, str]]) -> bytes:
    """(slug, title, description) items whose links point at the loopback server."""
    body = "".join(
        f"<item><title>{title}</title><link>{server.url('/post/' + slug)}</link>"
        f"<guid>{server.url('/post/' + slug)}</guid>"
        f"<pubDate>Thu, 28 Mar 2024 14:25:02 +0000</pubDate>"
        f"<description>{description}</description></item>"
        for slug, title, description in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Site</title><link>{server.url('/')}</link>{body}</channel></rss>"
    ).encode()


PAGE = b"""<!doctype html><html><head><title>x</title>
<meta property="og:image" content="/images/lead.jpg">
<meta name="twitter:image" content="https://cdn.invalid/other.jpg">
</head><body><p>Article</p></body></html>"""


def test_page_image_is_found_and_cached(server: LoopbackServer, tmp_path: Path) -> None:
    server.route("/post/a", body=PAGE, headers={"content-type": "text/html"})
    server.route(
        "/post/b", body=b"<html><head></head></html>", headers={"content-type": "text/html"}
    )
    body = feed(server, [("a", "With page image", "x"), ("b", "Without", "y")])
    server.feed("/one.xml", body)
    server.feed("/two.xml", body)
    config = write_config(
        tmp_path,
        [
            {"name": "One", "url": server.url("/one.xml"), "fetch_page_image": True},
            {"name": "Two", "url": server.url("/two.xml"), "fetch_page_image": True},
        ],
    )
    proc = aggregator("run", "--config", config)
    assert proc.returncode == 0, proc.stderr
    metas = {
        m["sourceUrl"]: m
        for m in (parse_front_matter(d.decode()) for d in articles(tmp_path / "articles").values())
    }
    a, b = metas[server.url("/post/a")], metas[server.url("/post/b")]
    assert a["imageUrl"] == server.url("/images/lead.jpg")
    assert a["imageCredit"].endswith(server.url("/post/a"))
    assert b["imageUrl"] == "" and b["imageCredit"] == ""
    assert aggregator("run", "--config", config, "--all").returncode == 0
    # Each page fetched once, however many feeds and runs: the answer is cached in the store.
    assert len(server.requests_to("/post/a")) == 1
    assert len(server.requests_to("/post/b")) == 1
    page_request = server.requests_to("/post/a")[0]
    assert page_request.header("accept").startswith("text/html")


def test_page_image_setting_off_fetches_no_page(server: LoopbackServer, tmp_path: Path) -> None:
    server.route("/post/a", body=PAGE, headers={"content-type": "text/html"})
    server.feed("/f.xml", feed(server, [("a", "T", "x")]))
    config = write_config(
        tmp_path, [{"name": "F", "url": server.url("/f.xml"), "fetch_page_image": False}]
    )
    assert aggregator("run", "--config", config).returncode == 0
    assert server.requests_to("/post/a") == []


def _mutable_feed(server: LoopbackServer, state: dict[str, bytes]) -> None:
    def handler(_req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
        return Reply(200, state["body"], {"content-type": "application/rss+xml"})

    server.route("/f.xml", handler)


def test_upstream_update_rewrites_ours_but_never_an_edited_file(
    server: LoopbackServer, tmp_path: Path
) -> None:
    state = {
        "body": feed(
            server,
            [("a", "First title", "Old summary A."), ("b", "Second title", "Old summary B.")],
        )
    }
    _mutable_feed(server, state)
    config = write_config(tmp_path, [{"name": "F", "url": server.url("/f.xml")}])
    assert aggregator("run", "--config", config).returncode == 0
    out = tmp_path / "articles"
    names = sorted(articles(out))
    assert len(names) == 2
    edited = next(n for n in names if "first" in n)
    untouched = next(n for n in names if "second" in n)
    text = (out / edited).read_text(encoding="utf-8")
    (out / edited).write_text(
        text.replace('importance: ""', 'importance: "high"'), encoding="utf-8"
    )
    edited_bytes = (out / edited).read_bytes()

    state["body"] = feed(
        server, [("a", "First title", "New summary A."), ("b", "Second title", "New summary B.")]
    )
    proc = aggregator("run", "--config", config, "--all", "-v")
    assert proc.returncode == 0, proc.stderr
    assert "F: 0 new, 1 updated" in proc.stdout
    files = articles(out)
    assert sorted(files) == names  # no new file for an update
    assert files[edited] == edited_bytes  # the editor's file is left exactly as it was
    assert parse_front_matter(files[edited].decode())["importance"] == "high"
    assert parse_front_matter(files[untouched].decode())["summary"] == "New summary B."


def test_items_seen_before_are_not_parsed_again(server: LoopbackServer, tmp_path: Path) -> None:
    items = [("a", "First", "Summary A."), ("b", "Second", "Summary B.")]
    state = {"body": feed(server, items)}
    _mutable_feed(server, state)
    config = write_config(tmp_path, [{"name": "F", "url": server.url("/f.xml")}])
    assert aggregator("run", "--config", config).returncode == 0
    out = tmp_path / "articles"
    before = {name: (out / name).stat().st_mtime_ns for name in articles(out)}
    assert len(before) == 2
    db = sqlite3.connect(tmp_path / "aggregator.db")
    [(stored_keys,)] = db.execute("SELECT item_keys FROM feeds").fetchall()
    assert len(stored_keys) == 2 * 32
    # Were a stored entry compared again, this stale hash would make it "updated".
    with db:
        db.execute("UPDATE entries SET content_hash = 'stale'")

    state["body"] = feed(server, [("c", "Third", "Summary C."), *items])
    proc = aggregator("run", "--config", config, "--all", "-v")
    assert proc.returncode == 0, proc.stderr
    assert "F: 1 new, 0 updated (HTTP 200)" in proc.stdout  # a and b were not parsed
    assert {n: (out / n).stat().st_mtime_ns for n in before} == before
    [(stored_keys,)] = db.execute("SELECT item_keys FROM feeds").fetchall()
    assert len(stored_keys) == 3 * 32

    # An item whose bytes changed is parsed, compared and rewritten; the others are not.
    state["body"] = feed(server, [("c", "Third", "Summary C."), items[0], ("b", "Second", "B2.")])
    proc = aggregator("run", "--config", config, "--all", "-v")
    assert "F: 0 new, 1 updated (HTTP 200)" in proc.stdout, proc.stdout

    # Without the keys (an older database, other settings) every item is compared again,
    # and "a" is found stale ("c" was stored after the hashes were spoilt).
    [first] = [n for n in before if "first" in n]
    with db:
        db.execute("UPDATE feeds SET item_keys = NULL, body_hash = NULL")
    proc = aggregator("run", "--config", config, "--all", "-v")
    assert "F: 0 new, 1 updated (HTTP 200)" in proc.stdout, proc.stdout
    assert (out / first).stat().st_mtime_ns != before[first]
    db.close()


def test_an_undated_entry_keeps_its_date_when_the_feed_changes(
    server: LoopbackServer, tmp_path: Path
) -> None:
    undated = b"<item><title>Undated</title><guid>u</guid><description>x</description></item>"
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>'
    state = {"body": head + undated + b"</channel></rss>"}
    _mutable_feed(server, state)
    config = write_config(tmp_path, [{"name": "F", "url": server.url("/f.xml")}])
    assert aggregator("run", "--config", config).returncode == 0
    [(name, data)] = articles(tmp_path / "articles").items()
    date = parse_front_matter(data.decode())["date"]
    state["body"] = head + b"<item><title>New</title><guid>n</guid></item>" + undated
    state["body"] += b"</channel></rss>"
    proc = aggregator("run", "--config", config, "--all", "-v")
    assert "F: 1 new, 0 updated (HTTP 200)" in proc.stdout, proc.stdout
    assert articles(tmp_path / "articles")[name] == data
    assert parse_front_matter(data.decode())["date"] == date
    # Parsed whole again (no keys: an older database, other settings), it is compared
    # with its stored entry, and the poll's time is still no change.
    with sqlite3.connect(tmp_path / "aggregator.db") as db:
        db.execute("UPDATE feeds SET item_keys = NULL, body_hash = NULL")
    state["body"] = state["body"].replace(b"<title>S</title>", b"<title>S2</title>")
    proc = aggregator("run", "--config", config, "--all", "-v")
    assert "F: 0 new, 0 updated (HTTP 200)" in proc.stdout, proc.stdout
    assert articles(tmp_path / "articles")[name] == data
    # A real change is an update, and the entry keeps its first date.
    state["body"] = state["body"].replace(b"<title>Undated</title>", b"<title>Dated?</title>")
    proc = aggregator("run", "--config", config, "--all", "-v")
    assert "F: 0 new, 1 updated (HTTP 200)" in proc.stdout, proc.stdout
    meta = parse_front_matter(articles(tmp_path / "articles")[name].decode())
    assert (meta["title"], meta["date"]) == ("Dated?", date)


def test_churning_entry_stops_being_rewritten(server: LoopbackServer, tmp_path: Path) -> None:
    state = {"body": feed(server, [("a", "Churn", "Version 0.")])}
    _mutable_feed(server, state)
    config = write_config(tmp_path, [{"name": "F", "url": server.url("/f.xml")}])
    assert aggregator("run", "--config", config).returncode == 0
    summaries = []
    for i in range(1, MAX_REWRITES_PER_ENTRY + 3):
        state["body"] = feed(server, [("a", "Churn", f"Version {i}.")])
        assert aggregator("run", "--config", config, "--all").returncode == 0
        [data] = articles(tmp_path / "articles").values()
        summaries.append(parse_front_matter(data.decode())["summary"])
    last_written = f"Version {MAX_REWRITES_PER_ENTRY}."
    assert summaries[MAX_REWRITES_PER_ENTRY - 1] == last_written
    assert summaries[-1] == last_written  # the limit held: no rewrite after it


REPEATED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>R</title>
<item><title>First copy</title><guid isPermaLink="false">same-guid</guid>
<pubDate>Thu, 28 Mar 2024 10:00:00 +0000</pubDate><description>one</description></item>
<item><title>Second copy</title><guid isPermaLink="false">same-guid</guid>
<pubDate>Thu, 28 Mar 2024 11:00:00 +0000</pubDate><description>two</description></item>
<item><title>Linked</title><link>http://r.invalid/a?utm_source=x&amp;id=1#top</link>
<pubDate>Thu, 28 Mar 2024 12:00:00 +0000</pubDate><description>three</description></item>
<item><title>Bare</title><pubDate>Thu, 28 Mar 2024 13:00:00 +0000</pubDate>
<description>four</description></item>
</channel></rss>"""


def test_identity_rules_are_stored_and_repeated_guids_give_one_file(
    server: LoopbackServer, tmp_path: Path
) -> None:
    import sqlite3

    server.feed("/r.xml", REPEATED)
    config = write_config(tmp_path, [{"name": "R", "url": server.url("/r.xml")}])
    assert aggregator("run", "--config", config).returncode == 0
    assert len(articles(tmp_path / "articles")) == 3
    with sqlite3.connect(tmp_path / "aggregator.db") as db:
        rows = sorted(db.execute("SELECT identity_rule, identity, source_url FROM entries"))
    assert [r[0] for r in rows] == ["guid", "hash", "link"]
    assert rows[0][1] == "guid:same-guid" and rows[0][2] == ""
    assert rows[2][1] == rows[2][2] == "http://r.invalid/a?id=1"  # tracking and fragment gone
