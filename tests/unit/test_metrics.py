"""Metrics, health and the endpoint: pure decisions on a fixed clock, the server in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.config import load_settings
from aggregator.metrics import (
    HealthReport,
    Metrics,
    health,
    parse_listen_address,
    serve_metrics,
    store_health_source,
)
from aggregator.model import FeedConfig
from aggregator.store import FeedStatus
from aggregator.wiring import open_pipeline, open_store
from tests.e2e.helpers import write_config
from tests.httpserver import LoopbackServer

DATA = Path(__file__).resolve().parents[1] / "data"
NOW = datetime(2024, 3, 28, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def status(name: str, **changes: object) -> FeedStatus:
    values: dict[str, object] = {
        "key": f"https://{name}.example/feed",
        "url": f"https://{name}.example/feed",
        "name": name,
        "in_config": True,
        "retired": False,
        "last_checked_at": NOW - HOUR,
        "last_success_at": NOW - HOUR,
        "next_check_at": NOW,
        "last_status": 200,
        "last_error_class": None,
        "last_error_message": None,
        "consecutive_failures": 0,
        "articles_written": 3,
        "created_at": NOW - 100 * HOUR,
        **changes,
    }
    return FeedStatus(**values)  # type: ignore[arg-type]


def test_a_feed_goes_stale_after_three_intervals_plus_grace() -> None:
    feeds = [FeedConfig(name="a", url="https://a.example/feed", interval_minutes=60)]
    s = status("a", last_success_at=NOW, next_check_at=NOW + HOUR)
    limit = NOW + 3 * HOUR + timedelta(minutes=30)
    assert health([s], limit, feeds=feeds).ok
    later = health([s], limit + timedelta(seconds=1), feeds=feeds)
    assert not later.ok
    assert [(f.name, f.stale_since) for f in later.stale] == [("a", limit)]
    assert "a <https://a.example/feed>: last success 2024-03-28T12:00:00+00:00" in later.describe()


def test_staleness_follows_the_interval_grace_and_a_slower_schedule() -> None:
    slow = [FeedConfig(name="a", url="https://a.example/feed", interval_minutes=600)]
    s = status("a", last_success_at=NOW - 10 * HOUR, next_check_at=NOW + HOUR)
    assert health([s], NOW, feeds=slow).ok  # 30 h allowed at a 10 h interval
    # Without the configured interval, the default hour allows 3 h.
    assert not health([replace(s, next_check_at=NOW - 9 * HOUR)], NOW).ok
    # The publisher asked for a daily schedule (ttl): healthy until that check is missed.
    daily = status("a", last_success_at=NOW - 5 * HOUR, next_check_at=NOW + 19 * HOUR)
    assert health([daily], NOW + 19 * HOUR).ok
    assert not health([daily], NOW + 20 * HOUR).ok
    # ...but not while it fails: the backoff schedule does not excuse a dead feed.
    failing = status("a", last_success_at=NOW - 5 * HOUR, consecutive_failures=3)
    assert not health([replace(failing, next_check_at=NOW + 19 * HOUR)], NOW).ok


def test_paused_retired_and_removed_feeds_are_never_stale() -> None:
    old = NOW - 100 * HOUR
    statuses = [
        status("paused", last_success_at=old),
        status("retired", last_success_at=old, retired=True),
        status("removed", last_success_at=old, in_config=False),
        status("never", last_success_at=None, created_at=NOW - 2 * HOUR),
    ]
    feeds = [FeedConfig(name="paused", url="https://paused.example/feed", paused=True)]
    report = health(statuses, NOW, feeds=feeds)
    assert report.ok and report.watched == 1
    # A feed that never succeeded counts from when it was added.
    assert not health(statuses, NOW + 2 * HOUR, feeds=feeds).ok


def test_overdue_counts_checks_missed_by_more_than_the_grace() -> None:
    statuses = [
        status("a", next_check_at=NOW - 2 * HOUR),
        status("b", next_check_at=NOW - timedelta(minutes=10)),
        status("c", next_check_at=None),
    ]
    assert health(statuses, NOW).overdue == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:0", ("::1", 0))],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["9464", ":9464", "host:", "host:http", "h:70000"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_listen_address(text)


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of the endpoint's text, parsed by prometheus_client's own parser."""
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


# feedparser warns while reading an entry's date (its issue 310); the CLI never runs with
# warnings as errors, an in-process pipeline under pytest does.
@pytest.mark.filterwarnings("ignore:.*issue 310:DeprecationWarning")
def test_pipeline_records_into_the_scraped_metrics(server: LoopbackServer, tmp_path: Path) -> None:
    server.feed("/feed/", (DATA / "interventional_news.xml").read_bytes())
    server.route("/gone.xml", status=410, body=b"gone")
    config = write_config(
        tmp_path,
        [
            {"name": "News", "url": server.url("/feed/")},
            {"name": "Gone", "url": server.url("/gone.xml")},
        ],
    )
    settings = load_settings(config, environ={})
    metrics = Metrics()
    clock_now = [NOW]

    async def one_pass(force: bool) -> None:
        async with open_pipeline(settings, metrics=metrics, clock=lambda: clock_now[0]) as p:
            await p.run_pass(force=force)

    asyncio.run(one_pass(False))
    asyncio.run(one_pass(True))  # the news feed answers 304 now
    # A new post: the two known items are skipped, only the new one is parsed.
    body = (DATA / "interventional_news.xml").read_bytes()
    first = body.index(b"<item>")
    post = b"<item><title>New</title><guid>https://interventionalnews.com/?p=1</guid></item>"
    server.feed("/feed/", body[:first] + post + body[first:])
    asyncio.run(one_pass(True))
    store = open_store(settings)
    try:
        source = store_health_source(store, settings.feeds, lambda: clock_now[0])
        with serve_metrics("127.0.0.1:0", metrics, source) as endpoint:
            samples = scrape(endpoint.url)
            assert samples["aggregator_fetches_total"] == {
                (("error_class", ""), ("status", "ok")): 2.0,
                (("error_class", ""), ("status", "not_modified")): 1.0,
                (("error_class", "http_410"), ("status", "error")): 1.0,
            }
            assert samples["aggregator_articles_written_total"] == {(): 3.0}
            assert samples["aggregator_fetch_bytes_total"][()] > 1000
            assert samples["aggregator_not_modified_ratio"] == {(): 1 / 3}
            assert samples["aggregator_parse_seconds_count"] == {(): 2.0}
            assert samples["aggregator_feed_items_total"] == {
                (("outcome", "parsed"),): 3.0,
                (("outcome", "skipped"),): 2.0,
            }
            assert samples["aggregator_write_seconds_count"] == {(): 2.0}
            assert samples["aggregator_feeds_overdue"] == {(): 0.0}
            assert httpx.get(endpoint.url + "/healthz").text == "ok\n"
            # A day later with no pass in between, both feeds are stale and overdue.
            clock_now[0] = NOW + 24 * HOUR
            stale = httpx.get(endpoint.url + "/healthz")
            assert stale.status_code == 503
            assert stale.text.startswith("stale: 1 of 1 feeds\n")
            assert "News <" in stale.text
            assert scrape(endpoint.url)["aggregator_feeds_overdue"] == {(): 1.0}
            assert httpx.get(endpoint.url + "/nope").status_code == 404
    finally:
        store.close()


def test_health_endpoint_flips_and_survives_a_broken_source() -> None:
    reports: list[Callable[[], HealthReport]] = [lambda: health([status("a")], NOW)]

    def source() -> HealthReport:
        return reports[-1]()

    with serve_metrics("127.0.0.1:0", Metrics(), source) as endpoint:
        ok = httpx.get(endpoint.url + "/healthz")
        assert (ok.status_code, ok.text) == (200, "ok\n")
        reports.append(lambda: health([status("a")], NOW + 10 * HOUR))
        stale = httpx.get(endpoint.url + "/healthz")
        assert stale.status_code == 503
        assert stale.text.splitlines()[0] == "stale: 1 of 1 feeds"

        def broken() -> HealthReport:
            raise RuntimeError("database is locked")

        reports.append(broken)
        failed = httpx.get(endpoint.url + "/healthz")
        assert (failed.status_code, failed.text) == (503, "error: database is locked\n")
        assert "aggregator_fetches" in httpx.get(endpoint.url + "/metrics").text


def test_an_address_in_use_is_an_os_error() -> None:
    source: Callable[[], HealthReport] = lambda: health([], NOW)  # noqa: E731
    with serve_metrics("127.0.0.1:0", Metrics(), source) as first, pytest.raises(OSError):
        serve_metrics(f"127.0.0.1:{first.address[1]}", Metrics(), source)
