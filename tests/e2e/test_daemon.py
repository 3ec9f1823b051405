"""Issue 4: `aggregator daemon` as a real process: ticks, SIGTERM, SIGHUP, refusals."""

from __future__ import annotations

import http.server
import json
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.generated import requests_per_feed, serve_feeds
from tests.e2e.helpers import aggregator, start_aggregator, write_config
from tests.httpserver import LoopbackServer, Reply, SeenRequest

FAST = {"tick_seconds": 1}


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def md_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.md")) if folder.exists() else []


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[float, str]:
    """Send ``sig``; return the seconds it took the process to exit and its stderr."""
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        _, stderr = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return time.monotonic() - started, stderr


@pytest.fixture
def daemons() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; killed if the test failed to stop them."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_daemon_writes_articles_then_stops_cleanly_on_sigterm(
    server: LoopbackServer, tmp_path: Path, daemons: list[subprocess.Popen[str]]
) -> None:
    feeds = serve_feeds(server, 5, entries=4)
    config = write_config(tmp_path, feeds, daemon=FAST)
    proc = start_aggregator("daemon", "--config", config, "--log-format", "json")
    daemons.append(proc)
    out = tmp_path / "articles"
    wait_for(lambda: len(md_files(out)) == 20, 30, "20 articles")
    time.sleep(2.5)  # a few more ticks: nothing is due, so nothing is fetched again
    seconds, stderr = stop(proc)
    assert proc.returncode == 0, stderr
    assert seconds < 10
    assert requests_per_feed(server, 5) == [1] * 5
    events = [json.loads(line) for line in stderr.splitlines()]
    messages = [e["message"] for e in events]
    assert messages[0] == "daemon started"
    assert messages[-2:] == ["stopping", "daemon stopped"]
    assert sum(e["new"] for e in events if e["message"] == "pass finished") == 20
    # (APScheduler may warn that a tick was skipped while a slow pass ran: not an error.)
    assert "error" not in {e["level"] for e in events}


def test_sigterm_abandons_a_slow_fetch_and_releases_its_claim(
    server: LoopbackServer, tmp_path: Path, daemons: list[subprocess.Popen[str]]
) -> None:
    release = threading.Event()
    arrived = threading.Event()

    def slow(_req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
        arrived.set()
        release.wait(30)
        return Reply(503)

    server.route("/slow.xml", slow)
    config = write_config(
        tmp_path,
        [{"name": "Slow", "url": server.url("/slow.xml")}],
        fetch={"timeout_seconds": 60, "read_timeout_seconds": 60},
        daemon=FAST,
    )
    proc = start_aggregator("daemon", "--config", config)
    daemons.append(proc)
    try:
        assert arrived.wait(20)
        seconds, stderr = stop(proc, signal.SIGINT)
    finally:
        release.set()
    assert proc.returncode == 0, stderr
    assert seconds < 5, stderr
    with sqlite3.connect(tmp_path / "aggregator.db") as db:
        row = db.execute("SELECT claimed_by, claimed_until, last_checked_at FROM feeds").fetchone()
    assert row == (None, None, None)  # released, and still due: the next start fetches it


def test_sighup_reloads_the_configuration_and_refuses_a_bad_one(
    server: LoopbackServer, tmp_path: Path, daemons: list[subprocess.Popen[str]]
) -> None:
    feeds = serve_feeds(server, 2, entries=3)
    config = write_config(tmp_path, feeds[:1], daemon=FAST)
    proc = start_aggregator("daemon", "--config", config)
    daemons.append(proc)
    out = tmp_path / "articles"
    wait_for(lambda: len(md_files(out)) == 3, 30, "the first feed's articles")

    good = config.read_text()
    config.write_text(good + "[[feeds]]\nname = 1\n")  # invalid: refused, old one kept
    proc.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    assert proc.poll() is None
    write_config(tmp_path, feeds, daemon=FAST)  # valid: the second feed is picked up
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(md_files(out)) == 6, 30, "the second feed's articles")
    _, stderr = stop(proc)
    assert proc.returncode == 0, stderr
    assert "configuration refused, keeping the old one" in stderr
    assert "feeds[1].name" in stderr
    assert "configuration reloaded feeds=2" in stderr
    assert requests_per_feed(server, 2) == [1, 1]


def test_daemon_refuses_a_schema_that_is_behind(server: LoopbackServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, serve_feeds(server, 1, entries=1))
    assert aggregator("run", "--config", config).returncode == 0
    with sqlite3.connect(tmp_path / "aggregator.db") as db:
        db.execute("DROP TABLE alembic_version")  # tables of ours, but no version: behind
    proc = aggregator("daemon", "--config", config, timeout=30)
    assert proc.returncode == 1
    assert "run `aggregator db upgrade --config FILE` first" in proc.stderr


def test_daemon_with_a_bad_configuration_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[daemon]\ntick_seconds = 0\n")
    proc = aggregator("daemon", "--config", config, "--log-format", "json", timeout=30)
    assert proc.returncode == 2
    event = json.loads(proc.stderr.strip().splitlines()[-1])
    assert event["level"] == "error" and "daemon.tick_seconds" in event["error"]


def test_daemon_serves_metrics_and_health(
    server: LoopbackServer, tmp_path: Path, daemons: list[subprocess.Popen[str]]
) -> None:
    import socket

    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    with socket.socket() as s:  # a free loopback port for the endpoint
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    feeds = serve_feeds(server, 3, entries=2)
    server.route("/broken", status=500)
    feeds = [*feeds, {"name": "Broken", "url": server.url("/broken")}]
    config = write_config(tmp_path, feeds, daemon=FAST)
    with config.open("a", encoding="utf-8") as f:
        f.write(f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    proc = start_aggregator("daemon", "--config", config)
    daemons.append(proc)
    wait_for(lambda: len(md_files(tmp_path / "articles")) == 6, 30, "6 articles")

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    wait_for(
        lambda: (
            ("aggregator_fetches_total", (("error_class", "http_5xx"), ("status", "error")))
            in scrape()
        ),
        10,
        "the failed fetch counted",
    )
    samples = scrape()
    assert samples[("aggregator_fetches_total", (("error_class", ""), ("status", "ok")))] == 3
    assert samples[("aggregator_articles_written_total", ())] == 6
    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert health.status_code == 200 and health.text == "ok\n"
    seconds, stderr = stop(proc)
    assert proc.returncode == 0, stderr
    assert seconds < 10
