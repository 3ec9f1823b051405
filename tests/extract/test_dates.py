"""Article instant and its day, in the site's time zone and language."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aggregator.extract.dates import (
    article_instant,
    format_instant,
    local_day,
    long_date,
    own_instant,
)
from tests.extract.conftest import NOW, entry

PUB = datetime(2024, 3, 28, 14, 25, 2, tzinfo=UTC)
UPD = datetime(2024, 3, 29, 9, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "updated", "expected"),
    [
        (PUB, UPD, PUB),  # published wins
        (None, UPD, UPD),  # else updated
        (None, None, NOW),  # else first seen
        (NOW + timedelta(hours=23), None, NOW + timedelta(hours=23)),  # clock skew tolerated
        (NOW + timedelta(days=3), None, NOW),  # far future clamped
        (datetime(2024, 3, 28, 14, 25, 2), None, PUB),  # naive means UTC
    ],
)
def test_article_instant(
    published: datetime | None, updated: datetime | None, expected: datetime
) -> None:
    assert article_instant(entry(published=published, updated=updated), NOW) == expected


@pytest.mark.parametrize(
    ("instant", "tz", "expected"),
    [
        (datetime(2024, 3, 28, 14, 25, tzinfo=UTC), "Europe/Paris", date(2024, 3, 28)),
        (datetime(2024, 3, 28, 23, 30, tzinfo=UTC), "Europe/Paris", date(2024, 3, 29)),
        (datetime(2024, 3, 28, 2, 0, tzinfo=UTC), "America/New_York", date(2024, 3, 27)),
        (datetime(2024, 12, 31, 23, 59, tzinfo=UTC), "Asia/Tokyo", date(2025, 1, 1)),
        (datetime(2024, 3, 28, 23, 30, tzinfo=UTC), "UTC", date(2024, 3, 28)),
    ],
)
def test_local_day_crosses_midnight(instant: datetime, tz: str, expected: date) -> None:
    assert local_day(instant, tz) == expected


@pytest.mark.parametrize(
    ("day", "language", "expected"),
    [
        (date(2024, 3, 28), "fr", "28 mars 2024"),
        (date(2024, 7, 5), "fr", "5 juillet 2024"),
        (date(2024, 3, 28), "en", "March 28, 2024"),
        (date(2024, 3, 28), "en-GB", "28 March 2024"),
        (date(2024, 3, 28), "de", "28. März 2024"),
    ],
)
def test_long_date(day: date, language: str, expected: str) -> None:
    assert long_date(day, language) == expected


def test_format_instant() -> None:
    assert format_instant(PUB) == "2024-03-28T14:25:02.000Z"
    assert format_instant(PUB.replace(microsecond=123456)) == "2024-03-28T14:25:02.123Z"
    paris = PUB.astimezone(ZoneInfo("Europe/Paris"))
    assert format_instant(paris) == "2024-03-28T14:25:02.000Z"


@pytest.mark.parametrize(
    ("published", "updated", "expected"),
    [
        (PUB, UPD, PUB),
        (None, UPD, UPD),
        (None, None, None),  # dated by the poll
        (NOW + timedelta(hours=23), None, NOW + timedelta(hours=23)),
        (NOW + timedelta(days=3), None, None),  # too far ahead: dated by the poll
    ],
)
def test_own_instant_is_none_when_the_poll_gives_the_date(
    published: datetime | None, updated: datetime | None, expected: datetime | None
) -> None:
    e = entry(published=published, updated=updated)
    assert own_instant(e, NOW) == expected
    assert article_instant(e, NOW) == (expected or NOW)
