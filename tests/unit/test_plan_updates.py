"""plan_updates: which stored entries an extracted article changes (a pure decision)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from aggregator.model import EntryStatus
from aggregator.pipeline import content_hash, plan_updates
from aggregator.store import StoredEntry
from tests.store.test_store import NOW, article


def stored(n: int, feed_id: int = 1, **changes: object) -> StoredEntry:
    a = article(n, **changes)
    return StoredEntry(
        id=n,
        identity=a.identity,
        feed_id=feed_id,
        file_name=f"2024-03-28-title-{n}.md",
        status=EntryStatus.WRITTEN,
        content_hash=content_hash(a),
        rendered_hash="r",
        rewrites=0,
        article=a,
    )


def test_only_changed_written_entries_of_this_feed_are_updates() -> None:
    same, edited, other_feed, pending = stored(1), stored(2), stored(3, feed_id=2), stored(4)
    pending = replace(pending, status=EntryStatus.PENDING)
    by_identity = {s.identity: s for s in (same, edited, other_feed, pending)}
    extracted = [
        article(1),
        article(2, title="New"),
        article(3, title="New"),
        article(4, title="New"),
    ]
    assert plan_updates(extracted, by_identity, feed_id=1) == [(edited, extracted[1])]


def test_an_article_dated_by_the_poll_keeps_its_first_date() -> None:
    first = stored(1)  # first stored at NOW, the poll's time then
    later = NOW + timedelta(hours=5)
    again = article(1, date=later, published_date="28 mars 2024", local_date=date(2024, 3, 28))
    by_identity = {first.identity: first}
    # Its own date: the new date is a change.
    assert plan_updates([again], by_identity, feed_id=1) == [(first, again)]
    # Dated by the poll: no change at all...
    assert plan_updates([again], by_identity, 1, frozenset({again.identity})) == []
    # ...and a real change keeps the first date.
    edited = replace(again, title="Edited")
    [(_, update)] = plan_updates([edited], by_identity, 1, frozenset({edited.identity}))
    assert (update.title, update.date, update.local_date) == (
        "Edited",
        NOW,
        first.article.local_date,
    )
