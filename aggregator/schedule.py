"""When to check a feed next: pure decisions from one fetch's outcome and ``now``.

Why pure: the daemon, cron runs and several workers all persist ``next_check_at`` in the
store and must agree on it; a function of data and ``now`` (no clock, no I/O, jitter passed
in) is the same everywhere and is tested with plain tables (POLITENESS_AND_SECURITY.md
1.2–1.5). Server and feed hints may only lengthen the interval, and what they can impose is
capped; failures back off exponentially, never sooner than Retry-After; 410 retires a feed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.errors import ErrorClass
from aggregator.fetch.policy import parse_http_date
from aggregator.model import FetchResult, FetchStatus, ParsedFeed

__all__ = [
    "CAP",
    "DEFAULT_INTERVAL",
    "FLOOR",
    "JITTER_FRACTION",
    "MAX_HINT",
    "ScheduleDecision",
    "base_interval",
    "decide_next_check",
    "feed_hint",
    "freshness_from_headers",
    "is_due",
    "quiet_interval",
    "skip_forward",
]

FLOOR = timedelta(minutes=30)  # hard floor whatever the configuration says
CAP = timedelta(hours=24)  # longest adaptive interval and longest back-off
MAX_HINT = timedelta(days=7)  # most that a server or feed hint can impose
DEFAULT_INTERVAL = timedelta(minutes=60)
JITTER_FRACTION = 0.10
QUIET_POLLS_PER_STEP = 3
QUIET_FACTOR = 1.5

_SY_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Failures that will not heal by themselves start one doubling further out.
_STUBBORN = frozenset(
    {
        ErrorClass.BLOCKED,
        ErrorClass.HTTP_403,
        ErrorClass.HTTP_404,
        ErrorClass.HTTP_4XX,
        ErrorClass.TOO_LARGE,
        ErrorClass.BAD_ENCODING,
        ErrorClass.TOO_MANY_REDIRECTS,
        ErrorClass.PARSE,
        ErrorClass.ENTITIES,
    }
)


@dataclass(frozen=True, slots=True)
class ScheduleDecision:
    """The intent for the store: when to check next, the failure streak, retirement."""

    next_check_at: datetime
    consecutive_failures: int
    retired: bool
    reason: str


def is_due(next_check_at: datetime | None, now: datetime) -> bool:
    """A feed never checked is due; otherwise once its time has come."""
    return next_check_at is None or next_check_at <= now


def base_interval(interval_minutes: int) -> timedelta:
    """The configured interval, never under :data:`FLOOR`."""
    return max(timedelta(minutes=max(interval_minutes, 0)), FLOOR)


def quiet_interval(base: timedelta, quiet_polls: int) -> timedelta:
    """Lengthen the base ×1.5 per 3 quiet polls, up to :data:`CAP` (or the base if longer)."""
    steps = max(quiet_polls, 0) // QUIET_POLLS_PER_STEP
    ceiling = max(CAP, base)
    if steps == 0:
        return base
    factor = QUIET_FACTOR ** min(steps, 64)
    seconds = min(base.total_seconds() * factor, ceiling.total_seconds())
    return timedelta(seconds=seconds)


def _cache_directives(value: str) -> dict[str, str]:
    directives: dict[str, str] = {}
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = arg.strip().strip('"')
    return directives


def freshness_from_headers(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """How long the response stays fresh per ``Cache-Control``/``Expires`` (RFC 9111 §4.2.1).

    ``no-cache``/``no-store`` give no freshness (keep polling conditionally); ``max-age``
    wins over ``Expires``; ``Expires`` is taken relative to ``Date`` to cancel clock skew,
    and an invalid value (``0``) means already expired. None when there is no hint.
    Names are looked up lower-cased, as the fetcher stores them.
    """
    directives = _cache_directives(headers.get("cache-control", ""))
    if "no-cache" in directives or "no-store" in directives:
        return None
    if "max-age" in directives:
        raw = directives["max-age"]
        seconds = int(raw) if raw.isdigit() else 0  # invalid max-age: stale (RFC 9111 §4.2.1)
        return min(timedelta(seconds=min(seconds, 10**9)), MAX_HINT)
    if "expires" in headers:
        expires = parse_http_date(headers["expires"])
        if expires is None:
            return timedelta(0)
        reference = parse_http_date(headers.get("date")) or now
        return min(max(expires - reference, timedelta(0)), MAX_HINT)
    return None


def feed_hint(parsed: ParsedFeed | None) -> timedelta | None:
    """The longest interval the feed asks for (RSS ``ttl``, ``sy:updatePeriod``/Frequency).

    ``sy:updateFrequency`` is how many times per period the feed updates, so the interval
    is period / frequency; a frequency alone means "per day". Garbage is ignored.
    """
    if parsed is None:
        return None
    hints: list[timedelta] = []
    ttl = parsed.ttl_minutes
    if isinstance(ttl, int) and ttl > 0:
        hints.append(timedelta(minutes=min(ttl, int(MAX_HINT.total_seconds() // 60))))
    period_name = (parsed.sy_update_period or "").strip().lower()
    frequency = parsed.sy_update_frequency
    if period_name or frequency is not None:
        period = _SY_PERIODS.get(period_name or "daily")
        times = frequency if isinstance(frequency, int) and frequency > 0 else 1
        if period is not None:
            hints.append(period / times)
    if not hints:
        return None
    return min(max(hints), MAX_HINT)


def skip_forward(when: datetime, skip_hours: frozenset[int], skip_days: frozenset[str]) -> datetime:
    """Move ``when`` (UTC) to the start of the first hour outside skipHours/skipDays.

    Hints that would skip every hour or every day are ignored as garbage.
    """
    hours = {h % 24 for h in skip_hours if isinstance(h, int) and 0 <= h <= 24}
    days = {d.strip().lower() for d in skip_days if d.strip().lower() in _DAYS}
    if len(hours) == 24:
        hours = set()
    if len(days) == 7:
        days = set()
    if not hours and not days:
        return when
    moved = when
    for _ in range(24 * 8):
        if moved.hour not in hours and _DAYS[moved.weekday()] not in days:
            return moved
        if _DAYS[moved.weekday()] in days:
            moved = (moved + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        else:
            moved = (moved + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return when  # pragma: no cover - unreachable with fewer than 24 hours and 7 days


def _jittered(interval: timedelta, jitter: float) -> timedelta:
    fraction = min(max(jitter, 0.0), 1.0) * JITTER_FRACTION
    return interval * (1.0 + fraction)


def _failure_class(result: FetchResult, error_class: ErrorClass | None) -> ErrorClass | None:
    if error_class is not None:
        return error_class
    if result.status is FetchStatus.ERROR:
        return result.error_class or ErrorClass.INTERNAL
    return None


def decide_next_check(
    *,
    now: datetime,
    interval_minutes: int,
    result: FetchResult,
    parsed: ParsedFeed | None,
    error_class: ErrorClass | None,
    previous_failures: int,
    quiet_polls: int,
    jitter: float,
) -> ScheduleDecision:
    """When to check this feed next, given what its last fetch (and parse) gave.

    ``error_class`` is the fetch's class, or PARSE when the body did not parse;
    ``quiet_polls`` counts consecutive successful polls without new entries;
    ``jitter`` is in [0, 1) from the caller's random source.
    """
    base = base_interval(interval_minutes)
    failed = _failure_class(result, error_class)
    if failed is None:
        return _on_success(
            now=now, base=base, result=result, parsed=parsed, quiet_polls=quiet_polls, jitter=jitter
        )

    failures = max(previous_failures, 0) + 1
    if failed is ErrorClass.HTTP_410:
        return ScheduleDecision(now + CAP, failures, retired=True, reason="gone: HTTP 410")
    doublings = failures - 1 + (1 if failed in _STUBBORN else 0)
    ceiling = max(CAP, base)
    seconds = min(base.total_seconds() * 2 ** min(doublings, 32), ceiling.total_seconds())
    delay = _jittered(timedelta(seconds=seconds), jitter)
    reason = f"back-off after {failures} failure(s): {failed.value}"
    if result.retry_after is not None:
        asked = min(max(result.retry_after - now, timedelta(0)), MAX_HINT)
        if asked > delay:
            delay = asked
            reason = f"Retry-After after {failures} failure(s): {failed.value}"
    return ScheduleDecision(now + delay, failures, retired=False, reason=reason)


def _on_success(
    *,
    now: datetime,
    base: timedelta,
    result: FetchResult,
    parsed: ParsedFeed | None,
    quiet_polls: int,
    jitter: float,
) -> ScheduleDecision:
    interval = quiet_interval(base, quiet_polls)
    reason = "interval" if interval == base else f"quiet for {quiet_polls} polls"
    has_validators = result.status is FetchStatus.NOT_MODIFIED or bool(
        result.etag or result.last_modified
    )
    if not has_validators and interval < CAP:
        # Unconditional fetches cost the publisher a full body: at most daily.
        interval, reason = CAP, "no validators: daily"
    for name, hint in (
        ("cache headers", freshness_from_headers(result.headers, now)),
        ("feed ttl/sy hints", feed_hint(parsed)),
    ):
        if hint is not None and hint > interval:
            interval, reason = hint, name
    when = now + _jittered(interval, jitter)
    if parsed is not None:
        moved = skip_forward(when, parsed.skip_hours, parsed.skip_days)
        if moved != when:
            when, reason = moved, f"{reason}, then skipHours/skipDays"
    return ScheduleDecision(when, 0, retired=False, reason=reason)
