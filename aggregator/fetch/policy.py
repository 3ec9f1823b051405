"""Pure helpers of the fetcher: status classes, Retry-After, redirect permanence.

Kept apart from the I/O so that rules which cannot be exercised on a loopback server
(an https→http downgrade) are still tested directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from aggregator.errors import ErrorClass
from aggregator.model import Redirect

__all__ = [
    "PERMANENT_REDIRECTS",
    "REDIRECT_STATUSES",
    "RETRY_AFTER_LIMIT",
    "error_class_for_status",
    "parse_http_date",
    "parse_retry_after",
    "permanent_target",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
# Far enough for any scheduler cap, near enough never to overflow a datetime.
RETRY_AFTER_LIMIT = timedelta(days=365)


def error_class_for_status(status: int) -> ErrorClass:
    special = {
        403: ErrorClass.HTTP_403,
        404: ErrorClass.HTTP_404,
        410: ErrorClass.HTTP_410,
        429: ErrorClass.HTTP_429,
    }
    if status in special:
        return special[status]
    if 400 <= status < 500:
        return ErrorClass.HTTP_4XX
    if status >= 500:
        return ErrorClass.HTTP_5XX
    return ErrorClass.PROTOCOL  # 1xx, or a 3xx that is not a usable redirect


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP-date as an aware UTC datetime, or None when absent or invalid."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """``Retry-After`` (delta-seconds or HTTP-date, RFC 9110 §10.2.3) as a UTC instant.

    The HTTP-date form is taken relative to the response's ``Date`` header, so that a server
    whose clock is off still gets the delay it meant. Garbage gives None.
    """
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        delay = timedelta(seconds=min(int(value), int(RETRY_AFTER_LIMIT.total_seconds())))
        return now + delay
    when = parse_http_date(value)
    if when is None:
        return None
    reference = parse_http_date(headers.get("date")) or now
    delay = max(when - reference, timedelta(0))
    return now + min(delay, RETRY_AFTER_LIMIT)


def permanent_target(start_url: str, redirects: Sequence[Redirect]) -> str | None:
    """The URL to store instead of ``start_url``, or None.

    Only when there was at least one hop, every hop was 301/308 and no hop went from https
    to http (RFC 9110 §15.4.2: permanent replacement is for trusted, secured origins).
    """
    if not redirects:
        return None
    for hop in redirects:
        if hop.status not in PERMANENT_REDIRECTS:
            return None
        if hop.from_url.lower().startswith("https:") and hop.to_url.lower().startswith("http:"):
            return None
    return redirects[-1].to_url
