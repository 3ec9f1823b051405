"""Issue 2 end to end: `aggregator run` over a real loopback server writes the site's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.helpers import aggregator, articles, assert_valid_article, write_config
from tests.httpserver import LoopbackServer

DATA = Path(__file__).resolve().parents[1] / "data"
FEED_NAME = "Interventional News — Latest"
FIRST = "2024-03-28-unifying-io-globally-iasios-reports-first-us-accredited-centre.md"
SECOND = "2024-07-05-iasios-awards-first-institution-centre-of-excellence-seal.md"
SEEDS = {FIRST: "000_ac4a0413680becf7.md", SECOND: "001_b0e27e5c7d87ecc6.md"}


def interventional_news(server: LoopbackServer, path: str = "/feed/") -> str:
    server.feed(path, (DATA / "interventional_news.xml").read_bytes())
    return server.url(path)


def test_run_writes_the_seed_articles_byte_for_byte(server: LoopbackServer, tmp_path: Path) -> None:
    url = interventional_news(server)
    config = write_config(
        tmp_path, [{"name": FEED_NAME, "url": url, "tags": ["France", "Actualité"]}]
    )
    proc = aggregator("run", "--config", config, "--verbose")
    assert proc.returncode == 0, proc.stderr
    assert f"{FEED_NAME}: 2 new, 0 updated (HTTP 200)" in proc.stdout
    assert "Total: 1 feeds checked, 2 new articles, 0 updated, 0 failed" in proc.stdout
    files = articles(tmp_path / "articles")
    assert sorted(files) == sorted(SEEDS)
    for name, expected in SEEDS.items():
        assert files[name] == (DATA / "expected" / expected).read_bytes()


def test_english_site_gets_english_labels(server: LoopbackServer, tmp_path: Path) -> None:
    url = interventional_news(server)
    config = write_config(
        tmp_path,
        [{"name": FEED_NAME, "url": url, "tags": ["France", "Actualité"]}],
        site={"language": "en", "timezone": "Europe/London"},
    )
    assert aggregator("run", "--config", config).returncode == 0
    files = articles(tmp_path / "articles")
    assert files[FIRST] == (DATA / "expected" / "en_000_unifying-io.md").read_bytes()


def test_second_run_writes_nothing_and_changes_nothing(
    server: LoopbackServer, tmp_path: Path
) -> None:
    url = interventional_news(server)
    config = write_config(tmp_path, [{"name": FEED_NAME, "url": url, "tags": ["France"]}])
    assert aggregator("run", "--config", config).returncode == 0
    out = tmp_path / "articles"
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    # Not due yet: no request at all.
    proc = aggregator("run", "--config", config)
    assert proc.returncode == 0
    assert "Total: 0 feeds checked, 0 new articles" in proc.stdout
    assert len(server.requests_to("/feed/")) == 1
    # Forced: a conditional request, answered 304, nothing written.
    proc = aggregator("run", "--config", config, "--all", "-v")
    assert proc.returncode == 0, proc.stderr
    assert f"{FEED_NAME}: not modified (HTTP 304)" in proc.stdout
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


def test_same_entry_in_two_feeds_gives_one_file(server: LoopbackServer, tmp_path: Path) -> None:
    one = interventional_news(server, "/one.xml")
    two = interventional_news(server, "/two.xml")
    config = write_config(
        tmp_path,
        [
            {"name": "One", "url": one, "tags": ["A"]},
            {"name": "Two", "url": two, "tags": ["B"]},
        ],
    )
    proc = aggregator("run", "--config", config)
    assert proc.returncode == 0, proc.stderr
    assert "2 new articles" in proc.stdout
    assert len(articles(tmp_path / "articles")) == 2


ODD_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Odd</title><link>http://odd.invalid/</link>
<item><title>No link at all</title><guid isPermaLink="false">odd-guid-1</guid>
<description>Only a guid identifies me.</description></item>
<item><title></title><link>http://odd.invalid/empty-title</link>
<description>An entry whose title is empty still gets a file.</description></item>
<item><title>&lt;b&gt;Bold&lt;/b&gt; &amp;amp; &lt;i&gt;HTML&lt;/i&gt; title</title>
<link>http://odd.invalid/html-title</link><description>x</description></item>
<item><title>No date, no image</title><link>http://odd.invalid/no-date</link>
<description>&lt;p&gt;Plain.&lt;/p&gt;</description></item>
<item><description>No title, no link, no guid: identified by a content hash.</description></item>
</channel></rss>"""


def test_odd_entries_all_give_valid_files(server: LoopbackServer, tmp_path: Path) -> None:
    server.feed("/odd.xml", ODD_FEED)
    config = write_config(tmp_path, [{"name": "Odd", "url": server.url("/odd.xml"), "tags": ["T"]}])
    proc = aggregator("run", "--config", config)
    assert proc.returncode == 0, proc.stderr
    files = articles(tmp_path / "articles")
    assert len(files) == 5
    metas = [assert_valid_article(data) for data in files.values()]
    titles = {m["title"] for m in metas}
    assert "Bold & HTML title" in titles
    for meta in metas:
        assert meta["title"]
        assert meta["tags"] == ["T", "Odd"]
        assert meta["imageUrl"] == "" and meta["imageCredit"] == ""


def test_exit_codes(tmp_path: Path, server: LoopbackServer) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\ntimezone = "Nowhere/Else"\n', encoding="utf-8")
    proc = aggregator("run", "--config", bad)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"aggregator: error: {bad}: site.timezone: unknown time zone 'Nowhere/Else'"
    )
    assert not (tmp_path / "aggregator.db").exists()  # nothing written on bad config
    # Output folder not writable: exit 1.
    blocker = tmp_path / "blocker"
    blocker.write_text("", encoding="utf-8")
    config = write_config(tmp_path, [{"name": "F", "url": server.url("/f")}])
    text = config.read_text(encoding="utf-8").replace(
        'output_dir = "articles"', 'output_dir = "blocker/articles"'
    )
    config.write_text(text, encoding="utf-8")
    proc = aggregator("run", "--config", config)
    assert proc.returncode == 1
    assert "output folder" in proc.stderr and "not writable" in proc.stderr
    # Database unreachable: exit 1.
    config = write_config(
        tmp_path,
        [{"name": "F", "url": server.url("/f")}],
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        name="pg.toml",
    )
    proc = aggregator("run", "--config", config, env={"AGGREGATOR_DATABASE_URL": ""})
    assert proc.returncode == 1
    assert "database" in proc.stderr
    # A failing feed does not fail the run.
    server.route("/gone", status=410)
    config = write_config(
        tmp_path, [{"name": "Gone", "url": server.url("/gone")}], name="gone.toml"
    )
    proc = aggregator("run", "--config", config)
    assert proc.returncode == 0, proc.stderr
    assert "Gone: failed: http_410" in proc.stdout
    assert "1 failed" in proc.stdout


def test_check_config_and_bad_configs(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    proc = aggregator("check-config", "--config", repo / "config" / "aggregator.toml")
    assert proc.returncode == 0, proc.stderr
    cases = {
        'output_dir = "x"\nbogus = 1\n': "bogus: unknown key",
        '[[feeds]]\nurl = "https://a.example/"\n': "feeds[0].name: missing",
        '[[feeds]]\nname = "A"\nurl = "not a url"\n': "feeds[0].url: not an http/https URL",
        '[site]\ntimezone = "Europe/Nowhere"\n': "site.timezone: unknown time zone",
    }
    for i, (text, expected) in enumerate(cases.items()):
        path = tmp_path / f"c{i}.toml"
        path.write_text(text, encoding="utf-8")
        for command in ("check-config", "run"):
            proc = aggregator(command, "--config", path)
            assert proc.returncode == 2, (command, text, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and expected in lines[0] and str(path) in lines[0]


@pytest.mark.skipif(not os.access("/proc", os.R_OK), reason="needs /proc")
def test_demo_runs_offline(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    config = (repo / "config" / "demo.toml").read_text(encoding="utf-8")
    config = config.replace('"../data/demo-articles"', f'"{tmp_path / "out"}"')
    config = config.replace('"sqlite:///../data/demo.db"', f'"sqlite:///{tmp_path / "d.db"}"')
    config = config.replace("8765", "18765")
    path = tmp_path / "demo.toml"
    path.write_text(config, encoding="utf-8")
    proc = aggregator(
        "demo", "--config", path, "--port", "18765", "--feeds-dir", repo / "data" / "demo"
    )
    assert proc.returncode == 0, proc.stderr
    files = articles(tmp_path / "out")
    assert len(files) >= 2
    for data in files.values():
        assert_valid_article(data)
