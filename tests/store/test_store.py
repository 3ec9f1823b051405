"""The storage suite: every test runs on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from aggregator.errors import SchemaBehindError, StoreError
from aggregator.model import (
    Article,
    EntryStatus,
    FeedConfig,
    FeedUpdateIntent,
    IdentityRule,
)
from aggregator.store import NewEntry, SchemaState, Store
from aggregator.store.schema import entries, metadata

NOW = datetime(2024, 3, 28, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def article(n: int, **changes: object) -> Article:
    a = Article(
        title=f"Title {n}",
        date=NOW,
        published_date="28 mars 2024",
        summary=f"Summary {n}",
        importance="",
        source_url=f"https://example.com/{n}",
        tags=("France",),
        permalink=f"/papers/2024-03-28-title-{n}",
        image_url="",
        image_credit="",
        identity=f"https://example.com/{n}",
        identity_rule=IdentityRule.LINK,
        slug=f"title-{n}",
        local_date=date(2024, 3, 28),
    )
    return replace(a, **changes)  # type: ignore[arg-type]


def new_entry(a: Article) -> NewEntry:
    alt = replace(a, slug=a.slug + "-alt")
    return NewEntry(
        article=a,
        file_name=f"2024-03-28-{a.slug}.md",
        alt_article=alt,
        alt_file_name=f"2024-03-28-{alt.slug}.md",
        content_hash="h" + a.slug,
    )


@pytest.fixture
def store(database_url: str) -> Store:
    s = Store.open(database_url)
    s.ensure_schema()
    yield s
    s.close()


def poll(feed_id: int, **changes: Any) -> FeedUpdateIntent:
    """A successful poll an hour before the next; ``changes`` override its fields."""
    values: dict[str, Any] = {
        "checked_at": NOW,
        "next_check_at": NOW + timedelta(hours=1),
        "http_status": 200,
        "ok": True,
        "consecutive_failures": 0,
        "quiet_polls": 0,
    }
    return FeedUpdateIntent(feed_id=feed_id, **{**values, **changes})


FEEDS = [
    FeedConfig(name="A", url="https://a.example/feed"),
    FeedConfig(name="B", url="https://b.example/feed"),
]


def test_schema_created_by_migrations_matches_the_model(store: Store) -> None:
    assert store.schema_state() is SchemaState.CURRENT
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_a_database_behind_is_refused(database_url: str) -> None:
    s = Store.open(database_url)
    try:
        s.ensure_schema()
        with s.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'unknown'")
        with pytest.raises(SchemaBehindError):
            s.ensure_schema()
    finally:
        s.close()


def test_unreachable_database_is_a_store_error(tmp_path) -> None:
    s = Store.open(f"sqlite:///{tmp_path}/missing/dir/x.db")
    with pytest.raises(StoreError):
        s.ensure_schema()


def test_claims_are_exclusive_until_recorded(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    first = store.claim_due_feeds(now=NOW, worker="w1", lease=LEASE, limit=10)
    assert {f.key for f in first} == {f.url for f in FEEDS}
    assert store.claim_due_feeds(now=NOW, worker="w2", lease=LEASE, limit=10) == []
    a = first[0]
    store.record_poll(poll(a.id, etag='W/"abc"', last_modified="Tue, 01 Jul 2025 10:00:00 GMT"))
    # Recorded: not due before its next check, even after the other claim expired.
    later = NOW + LEASE + timedelta(seconds=1)
    again = store.claim_due_feeds(now=later, worker="w2", lease=LEASE, limit=10)
    assert [f.key for f in again] == [first[1].key]
    due = store.claim_due_feeds(now=NOW + timedelta(hours=2), worker="w3", lease=LEASE, limit=10)
    assert [(f.etag, f.last_modified) for f in due if f.id == a.id] == [
        ('W/"abc"', "Tue, 01 Jul 2025 10:00:00 GMT")
    ]


def test_force_claims_feeds_not_due_but_respects_exclusion(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    claimed = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=10)
    store.release_claims("w")
    for f in claimed:
        store.record_poll(poll(f.id, http_status=304, quiet_polls=1))
    assert store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=10) == []
    forced = store.claim_due_feeds(
        now=NOW, worker="w", lease=LEASE, limit=10, force=True, exclude_ids=[claimed[0].id]
    )
    assert [f.id for f in forced] == [claimed[1].id]


def test_claims_of_one_shape_share_one_statement_with_their_values_bound(store: Store) -> None:
    """A claim's statement is built once per shape (force, keys, exclusions), its values
    bound at each execution: the limit, the keys, the excluded ids and the time."""
    many = [FeedConfig(name=f"F{i}", url=f"https://f{i}.example/feed") for i in range(6)]
    store.sync_feeds(many, now=NOW)
    keys = [f.url for f in many[:5]]
    taken: list[int] = []
    for limit in (2, 1, 3):
        claimed = store.claim_due_feeds(
            now=NOW, worker="w", lease=LEASE, limit=limit, keys=keys, exclude_ids=taken
        )
        assert len(claimed) == min(limit, 5 - len(taken))
        assert not {f.id for f in claimed} & set(taken)
        assert {f.key for f in claimed} <= set(keys)
        taken += [f.id for f in claimed]
    assert len(taken) == 5  # the sixth feed is not among the keys
    assert len(store._claim_queries) == 2  # without, then with exclusions
    # Claimed until the lease ends, then due again for another worker.
    assert store.claim_due_feeds(now=NOW, worker="x", lease=LEASE, limit=10, keys=keys) == []
    later = NOW + LEASE + timedelta(seconds=1)
    again = store.claim_due_feeds(now=later, worker="x", lease=LEASE, limit=10, keys=keys)
    assert sorted(f.id for f in again) == sorted(taken)


def test_feeds_removed_from_config_are_not_polled(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    store.sync_feeds(FEEDS[:1], now=NOW)
    claimed = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=10)
    assert [f.key for f in claimed] == [FEEDS[0].url]
    statuses = {s.key: s.in_config for s in store.feed_statuses()}
    assert statuses == {FEEDS[0].url: True, FEEDS[1].url: False}


def test_entries_are_inserted_once_by_identity(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    fa, fb = sorted(
        store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=10), key=lambda f: f.name
    )
    inserted = store.add_entries(
        fa.id, [new_entry(article(1)), new_entry(article(2))], now=NOW, lease=LEASE
    )
    assert sorted(e.file_name for e in inserted) == [
        "2024-03-28-title-1.md",
        "2024-03-28-title-2.md",
    ]
    # The same article in another feed is not inserted again.
    again = store.add_entries(
        fb.id, [new_entry(article(1)), new_entry(article(3))], now=NOW, lease=LEASE
    )
    assert [e.identity for e in again] == ["https://example.com/3"]
    assert store.count_entries() == {"pending": 3}


def test_a_taken_file_name_gives_the_alternative(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    f = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=1)[0]
    one = article(1)
    twin = replace(article(2), slug=one.slug)  # same date and title, another URL
    inserted = store.add_entries(f.id, [new_entry(one), new_entry(twin)], now=NOW, lease=LEASE)
    names = sorted(e.file_name for e in inserted)
    assert names == ["2024-03-28-title-1-alt.md", "2024-03-28-title-1.md"]
    alt = next(e for e in inserted if e.file_name.endswith("-alt.md"))
    assert alt.article.slug == "title-1-alt"


def test_pending_entries_are_recovered_after_their_lease(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    f = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=1)[0]
    inserted = store.add_entries(
        f.id, [new_entry(article(1)), new_entry(article(2))], now=NOW, lease=LEASE
    )
    # Within the lease the writer is presumed alive: nothing to recover.
    assert store.claim_pending_entries(now=NOW, lease=LEASE) == []
    store.mark_written([(inserted[0].id, "sha")], now=NOW, feed_id=f.id)
    later = NOW + LEASE + timedelta(seconds=1)
    recovered = store.claim_pending_entries(now=later, lease=LEASE)
    assert [e.id for e in recovered] == [inserted[1].id]
    assert recovered[0].article == inserted[1].article
    assert store.claim_pending_entries(now=later, lease=LEASE) == []  # leased to us now


def test_permanent_redirect_keeps_history(store: Store) -> None:
    store.sync_feeds(FEEDS[:1], now=NOW)
    f = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=1)[0]
    store.record_poll(poll(f.id, next_check_at=NOW, new_url="https://a.example/new-feed"))
    again = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=1)[0]
    assert (again.key, again.url) == (FEEDS[0].url, "https://a.example/new-feed")
    assert [h[:2] for h in store.url_history(FEEDS[0].url)] == [
        (FEEDS[0].url, "https://a.example/new-feed")
    ]


def test_page_image_cache(store: Store) -> None:
    assert store.cached_page_image("https://x.example/a") is None
    store.cache_page_image("https://x.example/a", "https://x.example/a.jpg", now=NOW)
    store.cache_page_image("https://x.example/a", "other", now=NOW)  # first one stays
    assert store.cached_page_image("https://x.example/a") == "https://x.example/a.jpg"


def test_catchup_entries_are_seen_not_pending(store: Store) -> None:
    store.sync_feeds(FEEDS[:1], now=NOW)
    f = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=1)[0]
    seen = replace(new_entry(article(1)), status=EntryStatus.SEEN)
    assert store.add_entries(f.id, [seen], now=NOW, lease=LEASE) == []
    assert store.count_entries() == {"seen": 1}


def test_revision_constants_match_the_migration_scripts() -> None:
    from alembic.script import ScriptDirectory

    from aggregator.store.migrate import HEAD_REVISION, KNOWN_REVISIONS, MIGRATIONS, head_revision

    script = ScriptDirectory(str(MIGRATIONS))
    assert head_revision() == HEAD_REVISION
    assert tuple(reversed([r.revision for r in script.walk_revisions()])) == KNOWN_REVISIONS


def test_schema_states(database_url: str) -> None:
    s = Store.open(database_url)
    try:
        assert s.schema_state() is SchemaState.EMPTY
        s.ensure_schema()
        assert s.schema_state() is SchemaState.CURRENT
        with s.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM alembic_version")
        assert s.schema_state() is SchemaState.BEHIND  # our tables, no version: migrate
        with pytest.raises(SchemaBehindError, match="aggregator db upgrade"):
            s.ensure_schema()
    finally:
        s.close()


def test_due_feeds_reads_without_claiming(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    due = store.due_feeds(now=NOW)
    assert [f.name for f in due] == ["A", "B"]
    assert [f.name for f in store.due_feeds(now=NOW, keys=[FEEDS[1].url])] == ["B"]
    # Nothing was claimed: a worker still gets both.
    claimed = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=10)
    assert len(claimed) == 2
    assert store.due_feeds(now=NOW) == []  # claimed feeds are not due for others
    assert len(store.due_feeds(now=NOW + LEASE, force=True)) == 2


def test_set_rendered_hash_updates_written_entries_only(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    f = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=1)[0]
    one, two = store.add_entries(
        f.id, [new_entry(article(1)), new_entry(article(2))], now=NOW, lease=LEASE
    )
    store.mark_written([(one.id, "old")], now=NOW, feed_id=f.id)
    store.set_rendered_hash(one.id, "new", article=article(1, permalink="/new/title-1"))
    store.set_rendered_hash(two.id, "ignored")  # still pending: not touched
    written = store.written_entries()
    assert [(e.id, e.rendered_hash) for e in written] == [(one.id, "new")]
    assert written[0].article.permalink == "/new/title-1"
    assert store.claim_pending_entries(now=NOW + LEASE, lease=LEASE)[0].rendered_hash is None


def test_feed_statuses_carry_creation_time(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    assert [s.created_at for s in store.feed_statuses()] == [NOW, NOW]


def test_processes_starting_together_on_an_empty_database_all_succeed(database_url: str) -> None:
    import threading

    stores = [Store.open(database_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def start(s: Store) -> None:
        barrier.wait()
        try:
            s.ensure_schema()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert all(s.schema_state() is SchemaState.CURRENT for s in stores)
    finally:
        for s in stores:
            s.close()


def test_stores_opening_one_new_sqlite_file_together_never_see_it_locked(tmp_path: Path) -> None:
    """Four stores on each of 20 new files: the race to switch the file to WAL, and a
    schema seen half-made (tables but no version row yet), both used to fail a start."""
    import threading

    errors: list[BaseException] = []
    for round_ in range(20):
        stores = [Store.open(f"sqlite:///{tmp_path / f'new-{round_}.db'}") for _ in range(4)]
        barrier = threading.Barrier(len(stores))

        def start(s: Store, barrier: threading.Barrier) -> None:
            barrier.wait()
            try:
                s.ensure_schema()
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=start, args=(s, barrier)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in stores:
            s.close()
    assert errors == []


def test_a_growing_exclusion_is_one_statement_text(store: Store) -> None:
    """A pass excludes every feed it has done; as ``NOT IN (?, ?, …)`` each claim was a new
    statement, which the driver's statement cache kept: 10,000 feeds claimed 16 at a time
    grew the process by 200 MB. One bound parameter keeps one text whatever the count."""
    from sqlalchemy import event

    many = [FeedConfig(name=f"F{i}", url=f"http://127.0.0.1/many/{i}") for i in range(40)]
    store.sync_feeds(many, now=NOW)
    texts: set[str] = set()

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "claimed_until" in statement:
            texts.add(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    done: set[int] = set()
    try:
        while claimed := store.claim_due_feeds(
            now=NOW, worker="w", lease=LEASE, limit=3, force=True, exclude_ids=done
        ):
            assert not done & {f.id for f in claimed}
            done.update(f.id for f in claimed)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert len(done) == len(many)
    assert len(texts) == 2  # the first claim (nothing excluded yet) and all the others


def test_known_items_are_kept_replaced_and_cleared_by_polls(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    a, b = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=2)
    assert store.known_items(a.id) == frozenset()
    keys = tuple(bytes([n]) * 16 for n in range(3))
    store.record_polls([poll(a.id, item_keys=keys), poll(b.id)])
    assert store.known_items(a.id) == frozenset(keys)
    assert store.known_items(b.id) == frozenset()
    store.record_polls([poll(a.id)])  # a 304, a failure: the keys stay
    assert store.known_items(a.id) == frozenset(keys)
    store.record_polls([poll(a.id, item_keys=keys[1:])])
    assert store.known_items(a.id) == frozenset(keys[1:])
    store.record_polls([poll(a.id, item_keys=())])  # a document parsed whole
    assert store.known_items(a.id) == frozenset()
    store.record_polls([poll(b.id, item_keys=(b"short",))])  # not a key: not stored
    assert store.known_items(b.id) == frozenset()
    with store.engine.begin() as conn:  # whatever is stored, a bad value is no keys
        conn.exec_driver_sql(f"UPDATE feeds SET item_keys = '{'ab' * 17}' WHERE id = {a.id}")
    assert store.known_items(a.id) == frozenset()
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE feeds SET item_keys = '{'zz' * 16}' WHERE id = {b.id}")
    assert store.known_items(b.id) == frozenset()
    assert store.known_items(10_000) == frozenset()


def test_a_database_of_the_first_schema_is_upgraded_with_its_feeds(database_url: str) -> None:
    from aggregator.store.migrate import alembic_config, upgrade

    s = Store.open(database_url)
    try:
        upgrade(s.engine, "0001")
        with s.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO feeds (key, url, name, in_config, created_at, quiet_polls,"
                " consecutive_failures, retired, articles_written, body_hash)"
                " VALUES ('k', 'https://a.example/feed', 'A', true, '2024-03-28 12:00:00',"
                " 0, 0, false, 3, 'abc')"
            )
        assert s.schema_state() is SchemaState.BEHIND
        with pytest.raises(SchemaBehindError, match="aggregator db upgrade"):
            s.ensure_schema()
        s.upgrade()
        assert s.schema_state() is SchemaState.CURRENT
        [status] = s.feed_statuses()
        assert (status.name, status.articles_written) == ("A", 3)
        [feed] = s.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=1, force=True)
        assert feed.body_hash == "abc"
        assert s.known_items(feed.id) == frozenset()
        with s.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        # And back: `alembic downgrade 0001` keeps the feed too.
        from alembic import command

        command.downgrade(alembic_config(s.engine), "0001")
        assert s.schema_state() is SchemaState.BEHIND
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT name, body_hash FROM feeds").all() == [("A", "abc")]
    finally:
        s.close()


def test_only_known_items_reads_the_item_keys(store: Store) -> None:
    """A claim is made for every feed of every pass, unchanged or not: it must not carry
    the keys (up to 16 KB a feed), nor must the status listing."""
    from sqlalchemy import event

    store.sync_feeds(FEEDS, now=NOW)
    [a, b] = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=2)
    store.record_polls([poll(a.id, item_keys=(b"k" * 16,)), poll(b.id, item_keys=())])
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        later = NOW + timedelta(hours=2)
        assert len(store.due_feeds(now=later)) == 2
        assert len(store.claim_due_feeds(now=later, worker="w", lease=LEASE, limit=2)) == 2
        assert len(store.feed_statuses()) == 2
        assert statements and not [s for s in statements if "item_keys" in s]
        assert store.known_items(a.id) == frozenset({b"k" * 16})
        assert "item_keys" in statements[-1]
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def test_marking_written_records_each_file_and_counts_them(store: Store) -> None:
    store.sync_feeds(FEEDS, now=NOW)
    f = store.claim_due_feeds(now=NOW, worker="w", lease=LEASE, limit=1)[0]
    one, two, three = store.add_entries(
        f.id, [new_entry(article(n)) for n in (1, 2, 3)], now=NOW, lease=LEASE
    )
    later = NOW + timedelta(seconds=30)
    store.mark_written([(one.id, "d1"), (three.id, "d3")], now=later, feed_id=f.id)
    store.mark_written([(two.id, "d2")], now=later + timedelta(seconds=1), feed_id=None)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(entries.c.id, entries.c.status, entries.c.rendered_hash)
            .add_columns(entries.c.written_at, entries.c.lease_until)
            .order_by(entries.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (one.id, "written", "d1", later, None),
        (two.id, "written", "d2", later + timedelta(seconds=1), None),
        (three.id, "written", "d3", later, None),
    ]
    # Only the call that names the feed counts its files.
    status = next(s for s in store.feed_statuses() if s.key == f.key)
    assert status.articles_written == 2
    assert [e.rendered_hash for e in store.written_entries()] == ["d1", "d2", "d3"]
