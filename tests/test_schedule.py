"""Table tests of the pure scheduling decisions (POLITENESS_AND_SECURITY.md 1.1–1.5, 2.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aggregator.errors import ErrorClass
from aggregator.model import FetchResult, FetchStatus, ParsedFeed
from aggregator.schedule import (
    CAP,
    FLOOR,
    MAX_HINT,
    ScheduleDecision,
    base_interval,
    decide_next_check,
    feed_hint,
    freshness_from_headers,
    is_due,
    quiet_interval,
    skip_forward,
)

NOW = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)  # a Wednesday, 03:00 GMT
URL = "https://example.org/feed"
VALIDATORS = {"etag": '"v1"', "last_modified": "Tue, 01 Jul 2025 10:00:00 GMT"}


def ok(headers: dict[str, str] | None = None, **kwargs: Any) -> FetchResult:
    fields: dict[str, Any] = {"http_status": 200, "body": b"<rss/>", **VALIDATORS}
    fields.update(kwargs)
    return FetchResult(FetchStatus.OK, URL, URL, headers=headers or {}, **fields)


def error(status: int, error_class: ErrorClass, **kwargs: Any) -> FetchResult:
    return FetchResult(
        FetchStatus.ERROR, URL, URL, http_status=status, error_class=error_class, **kwargs
    )


def decide(
    result: FetchResult,
    *,
    parsed: ParsedFeed | None = None,
    interval: int = 60,
    failures: int = 0,
    quiet: int = 0,
    jitter: float = 0.0,
    error_class: ErrorClass | None = None,
    now: datetime = NOW,
) -> ScheduleDecision:
    if error_class is None and result.status is FetchStatus.ERROR:
        error_class = result.error_class
    return decide_next_check(
        now=now,
        interval_minutes=interval,
        result=result,
        parsed=parsed,
        error_class=error_class,
        previous_failures=failures,
        quiet_polls=quiet,
        jitter=jitter,
    )


def feed(**kwargs: Any) -> ParsedFeed:
    return ParsedFeed(url=URL, **kwargs)


# 1.5 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "effective"),
    [(1, FLOOR), (0, FLOOR), (-10, FLOOR), (30, FLOOR), (60, timedelta(hours=1))],
)
def test_floor(configured: int, effective: timedelta) -> None:
    assert base_interval(configured) == effective
    assert decide(ok(), interval=configured).next_check_at == NOW + effective


def test_default_interval_success_resets_failures() -> None:
    decision = decide(ok(), failures=4)
    assert decision == ScheduleDecision(NOW + timedelta(hours=1), 0, False, "interval")


@pytest.mark.parametrize(("jitter", "extra"), [(0.0, 0), (0.5, 3 * 60), (0.999, 6 * 60 - 0.36)])
def test_jitter_adds_up_to_ten_percent(jitter: float, extra: float) -> None:
    decision = decide(ok(), jitter=jitter)
    assert decision.next_check_at == NOW + timedelta(hours=1, seconds=extra)


@pytest.mark.parametrize(
    ("quiet", "expected"),
    [
        (0, timedelta(hours=1)),
        (2, timedelta(hours=1)),
        (3, timedelta(minutes=90)),
        (6, timedelta(minutes=135)),
        (30, timedelta(hours=24)),
        (10**6, timedelta(hours=24)),
    ],
)
def test_quiet_feeds_slow_down_up_to_the_cap(quiet: int, expected: timedelta) -> None:
    assert quiet_interval(timedelta(hours=1), quiet) == expected
    assert decide(ok(), quiet=quiet).next_check_at == NOW + expected


def test_long_configured_interval_is_kept() -> None:
    assert decide(ok(), interval=48 * 60, quiet=9).next_check_at == NOW + timedelta(hours=48)


def test_feed_without_validators_is_polled_at_most_daily() -> None:
    bare = ok(etag=None, last_modified=None)
    decision = decide(bare)
    assert decision.next_check_at == NOW + CAP
    assert "validators" in decision.reason
    not_modified = FetchResult(FetchStatus.NOT_MODIFIED, URL, URL, http_status=304)
    assert decide(not_modified).next_check_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("next_check_at", "due"),
    [(None, True), (NOW, True), (NOW - timedelta(seconds=1), True), (NOW + timedelta(1), False)],
)
def test_is_due(next_check_at: datetime | None, due: bool) -> None:
    assert is_due(next_check_at, NOW) is due


def test_restart_within_ten_minutes_does_not_repoll() -> None:
    first = decide(ok())
    assert not is_due(first.next_check_at, NOW + timedelta(minutes=10))


# 1.2: cache headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "freshness"),
    [
        ({}, None),
        ({"cache-control": "max-age=7200"}, timedelta(hours=2)),
        ({"cache-control": "public, max-age=43200"}, timedelta(hours=12)),
        ({"cache-control": 'max-age="600"'}, timedelta(minutes=10)),
        ({"cache-control": "max-age=43200, no-cache"}, None),
        ({"cache-control": "no-store, max-age=43200"}, None),
        ({"cache-control": "max-age=abc"}, timedelta(0)),
        ({"cache-control": "max-age=-5"}, timedelta(0)),
        ({"cache-control": "max-age=99999999999999"}, MAX_HINT),
        ({"expires": "0"}, timedelta(0)),
        ({"expires": "garbage"}, timedelta(0)),
        (
            {"expires": "Wed, 04 Mar 2026 06:00:00 GMT"},
            timedelta(hours=3),
        ),
        (
            # Relative to Date: the server's clock is a day behind ours; it means 2 hours.
            {"date": "Tue, 03 Mar 2026 03:00:00 GMT", "expires": "Tue, 03 Mar 2026 05:00:00 GMT"},
            timedelta(hours=2),
        ),
        (
            {"cache-control": "max-age=60", "expires": "Wed, 04 Mar 2026 06:00:00 GMT"},
            timedelta(minutes=1),
        ),
        ({"expires": "Wed, 04 Mar 2026 01:00:00 GMT"}, timedelta(0)),
        ({"expires": "Fri, 01 Jan 2100 00:00:00 GMT"}, MAX_HINT),
    ],
)
def test_freshness_from_headers(headers: dict[str, str], freshness: timedelta | None) -> None:
    assert freshness_from_headers(headers, NOW) == freshness


def test_max_age_lengthens() -> None:
    decision = decide(ok({"cache-control": "max-age=43200"}))
    assert decision.next_check_at == NOW + timedelta(hours=12)
    assert decision.reason == "cache headers"


def test_max_age_with_no_cache_has_no_effect() -> None:
    decision = decide(ok({"cache-control": "max-age=43200, no-cache"}))
    assert decision.next_check_at == NOW + timedelta(hours=1)


def test_expires_zero_adds_no_delay() -> None:
    assert decide(ok({"expires": "0"})).next_check_at == NOW + timedelta(hours=1)


def test_short_max_age_never_shortens() -> None:
    assert decide(ok({"cache-control": "max-age=60"})).next_check_at == NOW + timedelta(hours=1)


def test_not_modified_applies_its_cache_headers() -> None:
    result = FetchResult(
        FetchStatus.NOT_MODIFIED,
        URL,
        URL,
        http_status=304,
        headers={"cache-control": "max-age=14400"},
    )
    assert decide(result).next_check_at == NOW + timedelta(hours=4)


def test_huge_max_age_is_capped() -> None:
    result = ok({"cache-control": "max-age=31536000"})
    assert decide(result, jitter=0.0).next_check_at == NOW + MAX_HINT


# 1.2: Retry-After and back-off ------------------------------------------------------------


def test_429_retry_after_two_hours() -> None:
    result = error(429, ErrorClass.HTTP_429, retry_after=NOW + timedelta(seconds=7200))
    decision = decide(result)
    assert decision.next_check_at >= NOW + timedelta(hours=2)
    assert not decision.retired
    assert decision.consecutive_failures == 1
    assert "Retry-After" in decision.reason


def test_503_retry_after_date_form_is_honoured() -> None:
    # The fetcher turned the HTTP-date into an instant relative to Date; 5 hours here.
    result = error(503, ErrorClass.HTTP_5XX, retry_after=NOW + timedelta(hours=5))
    assert decide(result).next_check_at == NOW + timedelta(hours=5)


def test_huge_retry_after_is_capped() -> None:
    result = error(429, ErrorClass.HTTP_429, retry_after=NOW + timedelta(seconds=99999999))
    assert decide(result).next_check_at == NOW + MAX_HINT


def test_retry_after_in_the_past_falls_back_to_back_off() -> None:
    result = error(429, ErrorClass.HTTP_429, retry_after=NOW - timedelta(hours=1))
    assert decide(result).next_check_at == NOW + timedelta(hours=1)


def test_429_is_never_permanent() -> None:
    result = error(429, ErrorClass.HTTP_429)
    for failures in range(50):
        assert not decide(result, failures=failures).retired


def test_404_five_times_doubles_up_to_the_cap_and_resets_on_200() -> None:
    result = error(404, ErrorClass.HTTP_404)
    failures = 0
    delays = []
    for _ in range(6):
        decision = decide(result, failures=failures)
        assert not decision.retired  # 404 backs off only
        failures = decision.consecutive_failures
        delays.append(decision.next_check_at - NOW)
    assert failures == 6
    # A 404 will not heal by itself: one doubling further out than a timeout.
    assert delays == [timedelta(hours=h) for h in (2, 4, 8, 16, 24, 24)]
    assert decide(ok(), failures=failures).consecutive_failures == 0


def test_transient_failures_double_from_the_base() -> None:
    result = error(0, ErrorClass.TIMEOUT)
    delays = [decide(result, failures=f).next_check_at - NOW for f in range(7)]
    assert delays == [timedelta(hours=h) for h in (1, 2, 4, 8, 16, 24, 24)]


def test_back_off_starts_from_the_floor() -> None:
    result = error(500, ErrorClass.HTTP_5XX)
    assert decide(result, interval=1).next_check_at == NOW + FLOOR


def test_parse_error_on_a_200_backs_off() -> None:
    decision = decide(ok(), error_class=ErrorClass.PARSE, failures=1)
    assert decision.consecutive_failures == 2
    assert decision.next_check_at == NOW + timedelta(hours=4)
    assert "parse" in decision.reason


def test_huge_failure_count_does_not_overflow() -> None:
    result = error(500, ErrorClass.HTTP_5XX)
    assert decide(result, failures=10**6).next_check_at == NOW + CAP


# 1.3 --------------------------------------------------------------------------------------


def test_410_retires() -> None:
    decision = decide(error(410, ErrorClass.HTTP_410))
    assert decision.retired
    assert decision.consecutive_failures == 1


# 1.4: feed hints ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parsed", "hint"),
    [
        (feed(), None),
        (feed(ttl_minutes=180), timedelta(hours=3)),
        (feed(ttl_minutes=-5), None),
        (feed(ttl_minutes=0), None),
        (feed(ttl_minutes=10**9), MAX_HINT),
        (feed(sy_update_period="daily"), timedelta(days=1)),
        (feed(sy_update_period="hourly"), timedelta(hours=1)),
        (feed(sy_update_period="hourly", sy_update_frequency=2), timedelta(minutes=30)),
        (feed(sy_update_period="weekly"), timedelta(weeks=1)),
        (feed(sy_update_period="monthly"), MAX_HINT),
        (feed(sy_update_period="yearly"), MAX_HINT),
        (feed(sy_update_period="Daily", sy_update_frequency=0), timedelta(days=1)),
        (feed(sy_update_frequency=4), timedelta(hours=6)),  # default period: daily
        (feed(sy_update_period="fortnightly"), None),
        (feed(ttl_minutes=600, sy_update_period="daily"), timedelta(days=1)),
    ],
)
def test_feed_hint(parsed: ParsedFeed, hint: timedelta | None) -> None:
    assert feed_hint(parsed) == hint


def test_ttl_180_gives_at_least_three_hours() -> None:
    decision = decide(ok(), parsed=feed(ttl_minutes=180))
    assert decision.next_check_at >= NOW + timedelta(hours=3)
    assert decision.reason == "feed ttl/sy hints"


def test_sy_daily_gives_at_least_a_day() -> None:
    decision = decide(ok(), parsed=feed(sy_update_period="daily"))
    assert decision.next_check_at >= NOW + timedelta(hours=24)


@pytest.mark.parametrize("ttl", [-5, 0])
def test_garbage_ttl_is_ignored(ttl: int) -> None:
    assert decide(ok(), parsed=feed(ttl_minutes=ttl)).next_check_at == NOW + timedelta(hours=1)


def test_absurd_ttl_is_capped() -> None:
    decision = decide(ok(), parsed=feed(ttl_minutes=10**9), jitter=0.99)
    assert decision.next_check_at <= NOW + MAX_HINT * 1.1


def test_skip_hours_defer_to_the_first_allowed_hour() -> None:
    parsed = feed(skip_hours=frozenset(range(8)))
    decision = decide(ok(), parsed=parsed, jitter=0.7)  # 03:00 + 1 h lands at 04:00+
    assert decision.next_check_at == datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    assert "skipHours" in decision.reason


@pytest.mark.parametrize(
    ("when", "hours", "days", "expected"),
    [
        (NOW, frozenset(), frozenset(), NOW),
        (NOW, frozenset({3}), frozenset(), NOW.replace(hour=4)),
        (NOW, frozenset({2}), frozenset(), NOW),
        # Wednesday skipped: Thursday 00:00.
        (NOW, frozenset(), frozenset({"wednesday"}), datetime(2026, 3, 5, tzinfo=UTC)),
        (NOW, frozenset(), frozenset({"Wednesday", "Thursday"}), datetime(2026, 3, 6, tzinfo=UTC)),
        # Thursday skipped and hour 0 skipped: Friday 01:00 after Wednesday is skipped.
        (
            NOW,
            frozenset({0}),
            frozenset({"wednesday", "thursday"}),
            datetime(2026, 3, 6, 1, tzinfo=UTC),
        ),
        # 23:30 with hour 23 skipped wraps to the next day.
        (
            NOW.replace(hour=23, minute=30),
            frozenset({23}),
            frozenset(),
            datetime(2026, 3, 5, tzinfo=UTC),
        ),
        # Garbage: every hour or every day skipped, unknown names, out-of-range hours.
        (NOW, frozenset(range(24)), frozenset(), NOW),
        (
            NOW,
            frozenset(),
            frozenset(
                {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
            ),
            NOW,
        ),
        (NOW, frozenset({99, -1}), frozenset({"caturday"}), NOW),
    ],
)
def test_skip_forward(
    when: datetime, hours: frozenset[int], days: frozenset[str], expected: datetime
) -> None:
    assert skip_forward(when, hours, days) == expected


def test_hints_never_shorten_the_back_off() -> None:
    result = error(500, ErrorClass.HTTP_5XX, headers={"cache-control": "max-age=60"})
    assert decide(result, failures=2).next_check_at == NOW + timedelta(hours=4)
