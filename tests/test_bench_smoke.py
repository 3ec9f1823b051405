"""Smoke test of the benchmark's feed generator and loopback server (5 feeds, a few s)."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

# bench/ is a top-level directory of the repository, not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import feeds
from bench.server import FeedServer

SEED = 7
N = 5


@pytest.fixture(autouse=True)
def _no_wait_for_earlier_benchmarks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's note of a real benchmark's deletions is not these tests' business: a
    test of ``bench.tick`` run minutes after one waited out its six minutes."""
    from bench import measure

    monkeypatch.setattr(measure, "DELETIONS", tmp_path / "deletions.json")


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    with FeedServer(N, SEED) as srv:
        yield srv


def _get(srv: FeedServer, path: str, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, dict(resp.getheaders()), body
    finally:
        conn.close()


def test_generator_is_deterministic_and_realistic() -> None:
    specs = feeds.generate(N, SEED)
    assert specs == feeds.generate(N, SEED)
    assert specs != feeds.generate(N, SEED + 1)
    for spec in specs:
        doc = feeds.render(spec)
        assert doc == feeds.render(spec)
        assert 40_000 <= len(doc) <= 160_000, (spec, len(doc))
        parsed = feedparser.parse(doc)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert 20 <= len(parsed.entries) <= 50
        assert len(parsed.entries) == spec.n_entries
        if spec.kind == "rss":
            assert b"<content:encoded><![CDATA[" in doc
            assert b"[&#8230;]" in doc and b"appeared first on" in doc
            assert b"wp-caption" in doc or b"<p>" in doc
        # A changed feed: the same document with new entries on top.
        v1 = feedparser.parse(feeds.render(spec, 1))
        new_links = [e.link for e in v1.entries[: feeds.NEW_PER_VERSION]]
        assert not set(new_links) & {e.link for e in parsed.entries}
        assert v1.entries[feeds.NEW_PER_VERSION].link == parsed.entries[0].link


def test_links_unique_across_feeds_except_shared() -> None:
    seen: dict[str, int] = {}
    for spec in feeds.generate(15, SEED):
        for e in feedparser.parse(feeds.render(spec)).entries:
            seen[e.link] = seen.get(e.link, 0) + 1
    dupes = {link for link, n in seen.items() if n > 1}
    assert all(link.startswith("https://agence.example/") for link in dupes)


def test_server_validators_gzip_and_bump(server: FeedServer) -> None:
    spec = feeds.generate(N, SEED)[0]
    status, headers, body = _get(server, "/feed/1.xml")
    assert status == 200
    assert body == feeds.render(spec)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]

    assert _get(server, "/feed/1.xml", {"If-None-Match": etag})[0] == 304
    assert _get(server, "/feed/1.xml", {"If-Modified-Since": last_modified})[0] == 304
    assert _get(server, "/feed/1.xml", {"If-None-Match": '"other"'})[0] == 200
    assert _get(server, f"/feed/{N + 1}.xml")[0] == 404

    status, headers, body = _get(server, "/feed/2.xml", {"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    assert gzip.decompress(body) == feeds.render(feeds.generate(N, SEED)[1])

    server.bump([1])
    status, headers, _ = _get(server, "/feed/1.xml", {"If-None-Match": etag})
    assert status == 200
    assert headers["ETag"] != etag
    assert _get(server, "/feed/1.xml", {"If-Modified-Since": last_modified})[0] == 200
    assert _get(server, "/feed/3.xml", {"If-None-Match": "x"})[0] == 200  # others unchanged

    stats = server.stats()
    assert stats["status_304"] == 2
    assert stats["status_200"] >= 4
    server.reset()
    assert _get(server, "/feed/1.xml", {"If-None-Match": etag})[0] == 304


def test_parsecost_skips_the_items_of_the_earlier_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import feedparser.api
    import feedparser.mixin

    from bench import parsecost

    remembered = feedparser.mixin.make_safe_absolute_uri
    assert parsecost.main(["--feeds", "3", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    # Both ways of the base-URI check were timed, and the aggregator's is back in place.
    assert re.search(r"memory / own check +\d+\.\d+ x", out), out
    assert feedparser.mixin.make_safe_absolute_uri is remembered
    # So were both expat drivers, and the aggregator's is back in place.
    assert re.search(r"text in one piece / in pieces +\d+\.\d+ x", out), out
    assert feedparser.api.PREFERRED_XML_PARSERS == ["aggregator.sax"]
    found = re.search(r"items skipped ([\d,]+) of ([\d,]+)", out)
    assert found is not None, out
    skipped, total = (int(g.replace(",", "")) for g in found.groups())
    # Version 1 of a bench feed adds 3 items to 20-50: most items are skipped.
    assert 0 < total - skipped <= total // 4, (skipped, total)


def test_ceiling_parses_every_entry_with_the_aggregators_options(server: FeedServer) -> None:
    from bench import baselines

    server.reset()
    result = baselines.run_ceiling(server.urls(), processes=2)
    expected = sum(spec.n_entries for spec in feeds.generate(N, SEED))
    assert result["entries_seen"] == result["entries_new"] == expected
    assert result["errors"] == 0
    assert isinstance(result["parse_s"], float) and result["parse_s"] > 0
    # The same headers as parse_feed: the document's URL is feedparser's base.
    _, headers = baselines._download(server.url(1))
    assert headers["content-location"] == server.url(1)
    assert "xml" in headers["content-type"]


def test_httpfloor_times_every_way(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import httpfloor

    assert httpfloor.main(["--feeds", "3", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count(" s  (") == 6, out
    assert "16 slots" in out and "imports" in out
    assert "slot transports" in out and "Fetcher" in out


def test_instructions_runs_the_passes_it_counts() -> None:
    """The passes valgrind counts (here without it) run in a checkout and count articles."""
    import subprocess

    from bench import instructions

    root = Path(__file__).resolve().parents[1]
    for passes in ("0", "1"):
        done = subprocess.run(
            [sys.executable, "-c", instructions._PASSES, "2", passes],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        expected = sum(spec.n_entries for spec in feeds.generate(2))
        assert int(done.stdout.split()[0]) == expected, done.stdout
    err = "==7== Events    : Ir\n==7== Collected : 123\n==7==\n==7== I   refs:      1,234,567\n"
    found = instructions._REFS_RE.search(err)
    assert found is not None and found[1] == "1,234,567"


def test_the_measured_package_gets_its_bytecode(tmp_path: Path) -> None:
    """As installing it would: even where PYTHONDONTWRITEBYTECODE keeps imports from it."""
    from bench.measure import compile_package

    package = tmp_path / "aggregator"
    (package / "fetch").mkdir(parents=True)
    (package / "__init__.py").write_text("X = 1\n")
    (package / "fetch" / "wire.py").write_text("Y = 2\n")
    compile_package(tmp_path)
    written = sorted(p.name.split(".")[0] for p in package.rglob("*.pyc"))
    assert written == ["__init__", "wire"]


def test_tick_times_passes_in_one_process(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import tick

    assert tick.main(["--feeds", "3", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "median of 2 passes" in out and "3 feeds" in out, out


def test_a_first_ingest_run_moves_the_previous_articles_aside(tmp_path: Path) -> None:
    """bench.ab deletes no article right before a run: freed inodes slow file creation."""
    from bench.ab import _fresh

    for n in range(2):
        (tmp_path / "articles").mkdir()
        (tmp_path / "articles" / f"run-{n}.md").write_text("x")
        (tmp_path / "aggregator.db").write_text("db")
        _fresh(tmp_path, articles=True)
        assert not (tmp_path / "articles").exists()
        assert not (tmp_path / "aggregator.db").exists()
    kept = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.md"))
    assert kept == ["set-aside/articles-0/run-0.md", "set-aside/articles-1/run-1.md"]
    (tmp_path / "articles").mkdir()
    _fresh(tmp_path)  # a re-poll keeps the folder as the last run left it
    assert (tmp_path / "articles").is_dir()


def test_filewrites_times_both_orders(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import filewrites

    assert filewrites.main(["--files", "3", "--batches", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("file by file: ") == 2 and out.count("step by step: ") == 2, out
    assert "1 thread(s)" in out and "16 thread(s)" in out


def test_machine_busy_seconds_grow_with_work() -> None:
    from bench.ab import machine_busy_seconds

    before = machine_busy_seconds()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # 0.3 s of this process's CPU
        pass
    assert machine_busy_seconds() - before >= 0.2


def test_benchmarks_wait_for_the_inodes_an_earlier_one_freed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A benchmark that deletes many files notes when; the next one waits out ext4's
    window in which those freed inodes slow the creation of new files."""
    from bench import measure

    monkeypatch.setattr(measure, "DELETIONS", tmp_path / "deletions.json")
    monkeypatch.setattr(measure, "MANY_FILES", 3)
    few, many = tmp_path / "few", tmp_path / "many" / "sub"
    for folder, count in ((few, 2), (many, 3)):
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f"{i}.md").write_text("x")
    measure.remove_tree(few)
    assert not few.exists() and not measure.DELETIONS.exists()
    measure.remove_tree(many.parent)
    assert not many.parent.exists() and measure.DELETIONS.exists()
    noted = json.loads(measure.DELETIONS.read_text())
    assert noted["files"] == 3 and abs(noted["at"] - time.time()) < 60

    slept: list[float] = []
    at = noted["at"]
    wait = measure.settle_freed_inodes(sleep=slept.append, now=lambda: at + 100)
    assert wait == slept[0] == measure.FREED_INODES_SETTLE_S - 100
    slept.clear()
    for later in (measure.FREED_INODES_SETTLE_S, measure.FREED_INODES_SETTLE_S + 1000):
        assert measure.settle_freed_inodes(sleep=slept.append, now=lambda t=at + later: t) == 0
    measure.DELETIONS.write_text("not json")
    assert measure.settle_freed_inodes(sleep=slept.append) == 0
    measure.DELETIONS.unlink()
    assert measure.settle_freed_inodes(sleep=slept.append) == 0
    assert slept == [] and measure.FREED_INODES_SETTLE_S >= 360


def test_storecost_times_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import storecost

    assert storecost.main(["--feeds", "2", "--runs", "1", "--stored", "60"]) == 0
    out = capsys.readouterr().out
    assert "other entries stored first" in out, out
    for name in storecost.VARIANTS:
        assert f"run 1 {name}: " in out and f"  {name}: " in out, out


def test_storecost_variants_reach_every_connection(tmp_path: Path) -> None:
    from bench import storecost

    store = storecost.open_store(tmp_path / "s.db", storecost.VARIANTS["cache"])
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -32000
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"  # the store's
    finally:
        store.close()
