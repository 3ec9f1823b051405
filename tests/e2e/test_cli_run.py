"""Issue 6: run --dry-run/--catchup, paused feeds, cron output, status and rebuild, as
subprocesses against a loopback publisher."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.e2e.helpers import REPO_ROOT, aggregator, articles, write_config
from tests.httpserver import LoopbackServer

DATA = Path(__file__).resolve().parents[1] / "data"
NEWS = "Interventional News — Latest"
FIRST = "2024-03-28-unifying-io-globally-iasios-reports-first-us-accredited-centre.md"
SECOND = "2024-07-05-iasios-awards-first-institution-centre-of-excellence-seal.md"


def dump(db: Path) -> list[str]:
    """Every row of the SQLite database, as SQL text."""
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


def news(server: LoopbackServer, path: str = "/feed/") -> str:
    server.feed(path, (DATA / "interventional_news.xml").read_bytes())
    return server.url(path)


def test_dry_run_writes_nothing_then_run_writes_what_it_listed(
    server: LoopbackServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, [{"name": NEWS, "url": news(server), "tags": ["France"]}])
    # A fresh install: no database and no output folder are created.
    proc = aggregator("run", "--dry-run", "-c", config)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"{NEWS}: would write 2 new, 0 updated (HTTP 200)",
        f"  would write {SECOND}",
        f"  would write {FIRST}",
        "Dry run: 1 feeds checked, 2 files would be written, 0 failed; nothing was written",
    ]
    assert not (tmp_path / "articles").exists()

    # An existing database is left byte for byte as it was.
    other = news(server, "/other/")
    config = write_config(tmp_path, [{"name": "Other", "url": other}], name="other.toml")
    assert aggregator("run", "-c", config).returncode == 0
    db = tmp_path / "aggregator.db"
    before = dump(db)
    config = write_config(
        tmp_path, [{"name": "Other", "url": other}, {"name": NEWS, "url": news(server)}]
    )
    proc = aggregator("run", "--dry-run", "--all", "-c", config)
    assert proc.returncode == 0, proc.stderr
    # The same entries are known through Other: nothing would be written for News.
    assert "Other: not modified (HTTP 304)" in proc.stdout
    assert f"{NEWS}: would write 0 new, 0 updated (HTTP 200)" in proc.stdout
    assert dump(db) == before
    assert sorted(articles(tmp_path / "articles")) == [FIRST, SECOND]


def test_catchup_marks_the_backlog_seen_without_files(
    server: LoopbackServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, [{"name": NEWS, "url": news(server)}])
    proc = aggregator("run", "--catchup", "-c", config)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "Catch-up: 1 feeds checked, 2 entries marked seen without files, 0 failed\n"
    )
    assert articles(tmp_path / "articles") == {}
    # Later passes write only what is new since: here, nothing.
    proc = aggregator("run", "--all", "-c", config)
    assert "0 new articles" in proc.stdout
    assert articles(tmp_path / "articles") == {}
    both = aggregator("run", "--dry-run", "--catchup", "-c", config)
    assert both.returncode == 2
    assert "--dry-run and --catchup cannot be used together" in both.stderr


def test_cron_output_paused_feeds_and_unknown_names(server: LoopbackServer, tmp_path: Path) -> None:
    server.route("/gone", status=410)
    config = write_config(
        tmp_path,
        [
            {"name": NEWS, "url": news(server)},
            {"name": "Gone", "url": server.url("/gone")},
            {"name": "Quiet", "url": news(server, "/quiet/"), "paused": True},
        ],
    )
    # No terminal (as under cron): no progress bar, only failures and the total.
    proc = aggregator("run", "-c", config)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Gone: failed: http_410: HTTP 410 (HTTP 410)",
        "Total: 2 feeds checked, 2 new articles, 0 updated, 0 failed".replace(
            "0 failed", "1 failed"
        ),
    ]
    assert proc.stderr == ""
    # A paused feed is never polled, not even with --all or by name.
    proc = aggregator("run", "--all", "--feed", "Quiet", "-c", config)
    assert proc.stderr.startswith("aggregator: note: 'Quiet' is paused, not polled")
    assert server.requests_to("/quiet/") == []
    proc = aggregator("run", "--feed", "Nope", "-c", config)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"aggregator: error: {config}: no feed named or with URL 'Nope' "
        "(see `aggregator feeds list`)\n"
    )
    # After a resume, it is polled.
    assert aggregator("feeds", "resume", "Quiet", "-c", config).returncode == 0
    proc = aggregator("run", "--feed", "Quiet", "-v", "-c", config)
    assert "Quiet: 0 new, 0 updated (HTTP 200)" in proc.stdout
    assert len(server.requests_to("/quiet/")) == 1


def test_status_table_json_sorting_and_empty_database(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.route("/gone", status=404)
    config = write_config(
        tmp_path,
        [{"name": "Zed", "url": news(server)}, {"name": "Ant", "url": server.url("/gone")}],
    )
    empty = aggregator("status", "-c", config)
    assert (empty.returncode, empty.stdout) == (
        0,
        "No database yet: nothing has run. Start with `aggregator run`.\n",
    )
    assert not (tmp_path / "aggregator.db").exists()
    assert aggregator("db", "upgrade", "-c", config).returncode == 0
    assert "No feeds in the database yet" in aggregator("status", "-c", config).stdout

    assert aggregator("run", "-c", config).returncode == 0
    table = aggregator("status", "-c", config).stdout.splitlines()
    assert table[0].split() == [
        "NAME", "STATE", "LAST", "SUCCESS", "NEXT", "CHECK", "FAILURES", "LAST", "ERROR", "ARTICLES"
    ]  # fmt: skip
    ant, zed = (line.split() for line in table[1:])
    assert ant[:3] == ["Ant", "failing", "never"] and ant[4:] == ["1", "http_404", "0"]
    assert zed[:2] == ["Zed", "ok"] and zed[-2:] == ["0", "2"]
    assert zed[2].endswith("Z") and zed[3] > zed[2]

    by_articles = json.loads(
        aggregator("status", "--json", "--sort", "articles", "-c", config).stdout
    )
    assert [r["name"] for r in by_articles] == ["Zed", "Ant"]
    assert by_articles[0]["articles_written"] == 2 and by_articles[0]["state"] == "ok"
    assert by_articles[1]["last_success"] is None
    assert by_articles[1]["last_error_class"] == "http_404"
    assert by_articles[1]["consecutive_failures"] == 1
    by_success = json.loads(
        aggregator("status", "--json", "--sort", "last-success", "-c", config).stdout
    )
    assert [r["name"] for r in by_success] == ["Ant", "Zed"]
    bad = aggregator("status", "--sort", "colour", "-c", config)
    assert bad.returncode == 2 and "Invalid value for '--sort'" in bad.stderr


def test_rebuild_applies_new_settings_and_spares_edited_files(
    server: LoopbackServer, tmp_path: Path
) -> None:
    url = news(server)
    feed = {"name": NEWS, "url": url, "tags": ["France", "Actualité"]}
    config = write_config(tmp_path, [feed])
    assert aggregator("run", "-c", config).returncode == 0
    out = tmp_path / "articles"
    edited = out / SECOND
    edited.write_bytes(edited.read_bytes().replace(b'importance: ""', b'importance: "high"'))
    edited_bytes = edited.read_bytes()

    # The site switches to English: labels, publishedDate and credit follow, no fetch.
    config = write_config(tmp_path, [feed], site={"language": "en", "timezone": "Europe/London"})
    requests = len(server.requests)
    proc = aggregator("rebuild", "-c", config)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"left alone (changed by an editor): {SECOND}",
        "Rebuild: 2 articles, 1 rewritten, 0 unchanged, 1 left alone (edited), 0 missing",
    ]
    assert len(server.requests) == requests
    assert sorted(p.name for p in out.iterdir()) == sorted([FIRST, SECOND])  # nothing else
    assert (out / FIRST).read_bytes() == (DATA / "expected" / "en_000_unifying-io.md").read_bytes()
    assert edited.read_bytes() == edited_bytes
    # Rebuilt files are ours again: a second rebuild finds nothing to do.
    proc = aggregator("rebuild", "-c", config)
    assert "1 rewritten" not in proc.stdout and "1 unchanged" in proc.stdout
    (out / FIRST).unlink()
    proc = aggregator("rebuild", "-c", config)
    assert f"missing (deleted since written; not recreated): {FIRST}" in proc.stdout
    assert not (out / FIRST).exists()


def test_on_a_terminal_run_draws_a_progress_bar(server: LoopbackServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, [{"name": NEWS, "url": news(server)}])
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("AGGREGATOR_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "aggregator", "run", "-c", str(config)],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
        timeout=120,
        check=False,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert proc.returncode == 0, proc.stderr
    text = output.decode()
    assert "Feeds" in text and "100%" in text
    assert "Total: 1 feeds checked, 2 new articles, 0 updated, 0 failed" in text
