"""The SQL store: feeds' HTTP and scheduling state, and every entry seen.

SQLAlchemy is imported only inside this package. One ``Store`` serves SQLite (the embedded
default, WAL) and PostgreSQL; the dialect differences live in ``_engine.py`` and in the two
``_insert`` variants below. Every public method is one short transaction.

Claims: which feeds are due is state here, never in a process's memory. A claim sets
``claimed_until`` (a lease) in one transaction: ``BEGIN IMMEDIATE`` on SQLite (one writer at
a time, so no upgrade deadlock), ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (workers skip each
other's rows). A worker that dies simply lets its lease expire.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    all_,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from aggregator.errors import SchemaBehindError, StoreError
from aggregator.model import (
    ITEM_KEY_BYTES,
    Article,
    EntryForWrite,
    EntryStatus,
    FeedConfig,
    FeedForUpdate,
    FeedUpdateIntent,
    IdentityRule,
)
from aggregator.store._engine import create_engine_for_url, schema_lock
from aggregator.store.migrate import SchemaState, schema_state, upgrade
from aggregator.store.schema import entries, feed_url_history, feeds, page_images

_BATCH = 500
T = TypeVar("T")


def identity_hash(identity: str) -> str:
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to insert: its article, and the variant to use if its file name is taken."""

    article: Article
    file_name: str
    alt_article: Article
    alt_file_name: str
    content_hash: str
    status: EntryStatus = EntryStatus.PENDING


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """What the store knows of an entry already seen (for update decisions)."""

    id: int
    identity: str
    feed_id: int | None
    file_name: str
    status: EntryStatus
    content_hash: str
    rendered_hash: str | None
    rewrites: int
    article: Article


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One row of ``aggregator status``."""

    key: str
    url: str
    name: str
    in_config: bool
    retired: bool
    last_checked_at: datetime | None
    last_success_at: datetime | None
    next_check_at: datetime | None
    last_status: int | None
    last_error_class: str | None
    last_error_message: str | None
    consecutive_failures: int
    articles_written: int
    created_at: datetime | None = None


class Store:
    """All reads and writes of the database. Build it with ``Store.open(url)``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        # SQLite has one writer at a time. Threads of this process queue on a lock rather
        # than in SQLite's busy handler, which sleeps up to 100 ms between tries (measured:
        # more than half of a first ingest's wall time idle). Other processes still wait on
        # the busy timeout; PostgreSQL needs no lock.
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self._dialect == "sqlite" else contextlib.nullcontext()
        )
        # Statements built once per shape, their values bound at execution (``_claim_query``,
        # ``record_polls``, ``add_entries``).
        self._claim_queries: dict[tuple[bool, bool, bool], Any] = {}
        self._poll_updates: dict[tuple[str, ...], Any] = {}
        self._add_entries: Any = None

    @contextlib.contextmanager
    def _begin(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(create_engine_for_url(url))

    def close(self) -> None:
        self.engine.dispose()

    # -- schema -------------------------------------------------------------------------------

    def schema_state(self) -> SchemaState:
        return self._guard(lambda: schema_state(self.engine))

    def upgrade(self) -> None:
        with self._schema_lock():
            self._guard(lambda: upgrade(self.engine))

    @contextlib.contextmanager
    def _schema_lock(self) -> Iterator[None]:
        try:
            with schema_lock(self.engine):
                yield
        except OSError as err:
            raise StoreError(f"cannot lock the database for a schema change: {err}") from err

    def ensure_schema(self) -> None:
        """Create the schema on an empty database; refuse one that is behind or unknown."""
        state = self.schema_state()
        if state is not SchemaState.CURRENT:
            # Several processes may start together on one empty database: one creates it,
            # and the others must not mistake its half-made schema for an old one (tables
            # but no version row yet): they look again once it is done.
            with self._schema_lock():
                state = self.schema_state()
                if state is SchemaState.EMPTY:
                    self._guard(lambda: upgrade(self.engine))
                    return
        if state is SchemaState.BEHIND:
            raise SchemaBehindError(
                "the database schema is older than this version of aggregator: "
                "run `aggregator db upgrade --config FILE` first"
            )
        elif state is SchemaState.AHEAD:
            raise SchemaBehindError(
                "the database schema is newer than this version of aggregator: upgrade it"
            )

    # -- feeds --------------------------------------------------------------------------------

    def sync_feeds(self, configured: Sequence[FeedConfig], *, now: datetime) -> None:
        """Make the feeds table follow the configuration (the source of truth)."""
        wanted = {f.url: f for f in configured}

        def work() -> None:
            with self._begin() as conn:
                rows = conn.execute(
                    select(feeds.c.id, feeds.c.key, feeds.c.name, feeds.c.in_config)
                ).all()
                known = {r.key: r for r in rows}
                for key, row in known.items():
                    feed = wanted.get(key)
                    if feed is None and row.in_config:
                        conn.execute(
                            update(feeds).where(feeds.c.id == row.id).values(in_config=False)
                        )
                    elif feed is not None and (not row.in_config or row.name != feed.name):
                        conn.execute(
                            update(feeds)
                            .where(feeds.c.id == row.id)
                            .values(in_config=True, name=feed.name)
                        )
                new = [f for key, f in wanted.items() if key not in known]
                if new:
                    conn.execute(
                        self._insert(feeds).on_conflict_do_nothing(),
                        [
                            {
                                "key": f.url,
                                "url": f.url,
                                "name": f.name,
                                "in_config": True,
                                "created_at": now,
                                "next_check_at": now,
                                "quiet_polls": 0,
                                "consecutive_failures": 0,
                                "retired": False,
                                "articles_written": 0,
                            }
                            for f in new
                        ],
                    )

        self._guard(work)

    def claim_due_feeds(
        self,
        *,
        now: datetime,
        worker: str,
        lease: timedelta,
        limit: int,
        keys: Iterable[str] | None = None,
        force: bool = False,
        exclude_ids: Iterable[int] = (),
    ) -> list[FeedForUpdate]:
        """Claim up to ``limit`` due feeds (or, with ``force``, any unclaimed feed)."""
        excluded = list(exclude_ids)
        query = self._claim_query(force=force, keys=keys is not None, excluded=bool(excluded))
        params: dict[str, Any] = {"now": now, "limit": limit}
        if keys is not None:
            params["keys"] = list(keys)
        if excluded:
            params["excluded_ids"] = _excluded_value(excluded, self._dialect)

        def work() -> list[FeedForUpdate]:
            with self._begin() as conn:
                rows = conn.execute(query, params).all()
                if not rows:
                    return []
                conn.execute(
                    _CLAIM,
                    {
                        "ids": [r.id for r in rows],
                        "until": now + lease,
                        "worker": worker,
                    },
                )
            return [_for_update(r) for r in rows]

        return self._guard(work)

    def _claim_query(self, *, force: bool, keys: bool, excluded: bool) -> Any:
        """The claim's SELECT, built once per shape: its values are bound at execution.

        Building the statement again for every claim, and SQLAlchemy computing its cache
        key again, was most of a claim's CPU (2.5 ms a claim, 34 claims in a re-poll of
        1,000 feeds, on the store threads, holding the GIL the event loop needs).
        """
        shape = (force, keys, excluded)
        query = self._claim_queries.get(shape)
        if query is None:
            query = _due_statement(
                force=force, keys=keys, excluded=excluded, dialect=self._dialect
            ).limit(bindparam("limit", type_=Integer))
            if self._dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            self._claim_queries[shape] = query
        return query

    def due_feeds(
        self, *, now: datetime, keys: Iterable[str] | None = None, force: bool = False
    ) -> list[FeedForUpdate]:
        """The feeds ``claim_due_feeds`` would claim, read only (for ``run --dry-run``)."""

        def work() -> list[FeedForUpdate]:
            with self.engine.connect() as conn:
                rows = conn.execute(_due_query(now, keys=keys, force=force)).all()
            return [_for_update(r) for r in rows]

        return self._guard(work)

    def release_claims(self, worker: str) -> None:
        def work() -> None:
            with self._begin() as conn:
                conn.execute(
                    update(feeds)
                    .where(feeds.c.claimed_by == worker)
                    .values(claimed_until=None, claimed_by=None)
                )

        self._guard(work)

    def record_poll(self, intent: FeedUpdateIntent) -> None:
        """Apply a poll's outcome and release the feed's claim."""
        self.record_polls([intent])

    def record_polls(self, intents: Sequence[FeedUpdateIntent]) -> None:
        """Apply several polls' outcomes (and release their claims) in one transaction.

        Polls whose values have the same shape go in one ``executemany``: a re-poll of
        1,000 unchanged feeds is a few statements, not 1,000 transactions.
        """
        if not intents:
            return
        plain: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        moved: list[tuple[FeedUpdateIntent, dict[str, Any]]] = []
        for intent in intents:
            values = _poll_values(intent)
            if intent.new_url is not None:
                moved.append((intent, values))
            else:
                row = {f"_{column}": value for column, value in values.items()}
                row["_feed_id"] = intent.feed_id
                plain.setdefault(tuple(sorted(values)), []).append(row)

        def work() -> None:
            with self._begin() as conn:
                for columns, rows in plain.items():
                    conn.execute(self._poll_update(columns), rows)
                for intent, values in moved:
                    self._record_moved(conn, intent, values)

        self._guard(work)

    def _poll_update(self, columns: tuple[str, ...]) -> Any:
        statement = self._poll_updates.get(columns)
        if statement is None:
            statement = self._poll_updates[columns] = (
                update(feeds)
                .where(feeds.c.id == bindparam("_feed_id"))
                .values({c: bindparam(f"_{c}", type_=feeds.c[c].type) for c in columns})
            )
        return statement

    @staticmethod
    def _record_moved(conn: Connection, intent: FeedUpdateIntent, values: dict[str, Any]) -> None:
        """A poll whose feed moved permanently: keep the old URL in the history."""
        old = conn.execute(select(feeds.c.url).where(feeds.c.id == intent.feed_id)).scalar_one()
        taken = conn.execute(
            select(feeds.c.id).where(feeds.c.url == intent.new_url, feeds.c.id != intent.feed_id)
        ).first()
        if old != intent.new_url and taken is None:
            conn.execute(
                feed_url_history.insert().values(
                    feed_id=intent.feed_id,
                    old_url=old,
                    new_url=intent.new_url,
                    changed_at=intent.checked_at,
                )
            )
            values = {**values, "url": intent.new_url}
        conn.execute(update(feeds).where(feeds.c.id == intent.feed_id).values(**values))

    def known_items(self, feed_id: int) -> frozenset[bytes]:
        """The keys of the items of the feed's last processed document (none if unknown)."""

        def work() -> frozenset[bytes]:
            with self.engine.connect() as conn:
                stored = conn.execute(
                    select(feeds.c.item_keys).where(feeds.c.id == feed_id)
                ).scalar_one_or_none()
            return _item_keys(stored)

        return self._guard(work)

    def feed_statuses(self) -> list[FeedStatus]:
        def work() -> list[FeedStatus]:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(*(c for c in feeds.c if c is not feeds.c.item_keys)).order_by(
                        feeds.c.name
                    )
                ).all()
            return [
                FeedStatus(
                    key=r.key,
                    url=r.url,
                    name=r.name,
                    in_config=r.in_config,
                    retired=r.retired,
                    last_checked_at=r.last_checked_at,
                    last_success_at=r.last_success_at,
                    next_check_at=r.next_check_at,
                    last_status=r.last_status,
                    last_error_class=r.last_error_class,
                    last_error_message=r.last_error_message,
                    consecutive_failures=r.consecutive_failures,
                    articles_written=r.articles_written,
                    created_at=r.created_at,
                )
                for r in rows
            ]

        return self._guard(work)

    def url_history(self, key: str) -> list[tuple[str, str, datetime]]:
        def work() -> list[tuple[str, str, datetime]]:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(
                        feed_url_history.c.old_url,
                        feed_url_history.c.new_url,
                        feed_url_history.c.changed_at,
                    )
                    .join(feeds, feeds.c.id == feed_url_history.c.feed_id)
                    .where(feeds.c.key == key)
                    .order_by(feed_url_history.c.id)
                ).all()
            return [(r.old_url, r.new_url, r.changed_at) for r in rows]

        return self._guard(work)

    # -- entries ------------------------------------------------------------------------------

    def stored_entries(self, identities: Iterable[str]) -> dict[str, StoredEntry]:
        """The entries already known among ``identities``, by identity."""
        by_hash = {identity_hash(i): i for i in identities}

        def work() -> dict[str, StoredEntry]:
            found: dict[str, StoredEntry] = {}
            hashes = list(by_hash)
            with self.engine.connect() as conn:
                for start in range(0, len(hashes), _BATCH):
                    chunk = hashes[start : start + _BATCH]
                    for r in conn.execute(_STORED, {"hashes": chunk}):
                        found[r.identity] = _stored(r)
            return found

        return self._guard(work)

    def add_entries(
        self, feed_id: int, new: Sequence[NewEntry], *, now: datetime, lease: timedelta
    ) -> list[EntryForWrite]:
        """Insert the entries not seen before; return those inserted as pending, leased.

        An entry whose identity exists already is skipped (the same article in two feeds
        gives one file). A file name already used by another entry makes the entry take its
        alternative (hash-suffixed) name.
        """

        def work() -> list[EntryForWrite]:
            inserted: list[EntryForWrite] = []
            with self._begin() as conn:
                todo = list(new)
                for _attempt in range(3):
                    if not todo:
                        break
                    names = [n.file_name for n in todo] + [n.alt_file_name for n in todo]
                    taken = set(conn.execute(_TAKEN_NAMES, {"names": names}).scalars())
                    rows, chosen = [], {}
                    for n in todo:
                        use_alt = n.file_name in taken
                        article = n.alt_article if use_alt else n.article
                        name = n.alt_file_name if use_alt else n.file_name
                        if name in taken:
                            continue  # both names taken: only a hash clash; skip it
                        taken.add(name)
                        h = identity_hash(article.identity)
                        chosen[h] = (n, article, name)
                        rows.append(
                            {
                                "identity_hash": h,
                                "identity": article.identity,
                                "identity_rule": article.identity_rule.value,
                                "guid": article.guid or None,
                                "feed_id": feed_id,
                                "source_url": article.source_url,
                                "file_name": name,
                                "article": article_to_json(article),
                                "content_hash": n.content_hash,
                                "status": n.status.value,
                                "lease_until": now + lease
                                if n.status is EntryStatus.PENDING
                                else None,
                                "first_seen_at": now,
                                "rewrites": 0,
                                "written_at": now if n.status is EntryStatus.SEEN else None,
                            }
                        )
                    if not rows:
                        break
                    result = conn.execute(self._add_entries_statement(), rows)
                    done = {r.identity_hash: r.id for r in result}
                    for h, entry_id in done.items():
                        n, article, name = chosen[h]
                        if n.status is EntryStatus.PENDING:
                            inserted.append(
                                EntryForWrite(
                                    id=entry_id,
                                    identity=article.identity,
                                    file_name=name,
                                    article=article,
                                    status=EntryStatus.PENDING,
                                )
                            )
                    missing = [h for h in chosen if h not in done]
                    if not missing:
                        break
                    # Not inserted: its identity exists (fine), or a concurrent worker took
                    # the file name in between (PostgreSQL): retry those with fresh names.
                    existing = set(conn.execute(_EXISTING, {"hashes": missing}).scalars())
                    todo = [chosen[h][0] for h in missing if h not in existing]
            return inserted

        return self._guard(work)

    def mark_written(
        self, written: Sequence[tuple[int, str]], *, now: datetime, feed_id: int | None = None
    ) -> None:
        """Record files as durable: (entry id, sha256 of the bytes written)."""
        if not written:
            return

        def work() -> None:
            with self._begin() as conn:
                conn.execute(
                    _MARK_WRITTEN, [{"entry_id": i, "digest": d, "now": now} for i, d in written]
                )
                if feed_id is not None:
                    conn.execute(_COUNT_WRITTEN, {"feed_id": feed_id, "count": len(written)})

        self._guard(work)

    def rename_entry(self, entry_id: int, file_name: str, article: Article) -> bool:
        """Move a pending entry to another file name; False if that name is taken."""

        def work() -> bool:
            with self._begin() as conn:
                if (
                    conn.execute(
                        select(entries.c.id).where(entries.c.file_name == file_name)
                    ).first()
                    is not None
                ):
                    return False
                conn.execute(
                    update(entries)
                    .where(entries.c.id == entry_id)
                    .values(file_name=file_name, article=article_to_json(article))
                )
                return True

        return self._guard(work)

    def update_entry(
        self,
        entry_id: int,
        *,
        article: Article,
        content_hash: str,
        rendered_hash: str | None,
        now: datetime,
        rewritten: bool,
    ) -> None:
        """Record an upstream change (and the new file's hash when it was rewritten)."""

        def work() -> None:
            values: dict[str, Any] = {
                "article": article_to_json(article),
                "content_hash": content_hash,
                "updated_at": now,
            }
            if rewritten:
                values["rendered_hash"] = rendered_hash
                values["rewrites"] = entries.c.rewrites + 1
            with self._begin() as conn:
                conn.execute(update(entries).where(entries.c.id == entry_id).values(**values))

        self._guard(work)

    def set_rendered_hash(
        self, entry_id: int, rendered_hash: str, *, article: Article | None = None
    ) -> None:
        """Record a written entry's new file hash (and article) after ``rebuild``."""
        values: dict[str, Any] = {"rendered_hash": rendered_hash}
        if article is not None:
            values["article"] = article_to_json(article)

        def work() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    update(entries)
                    .where(entries.c.id == entry_id, entries.c.status == EntryStatus.WRITTEN.value)
                    .values(**values)
                )

        self._guard(work)

    def claim_pending_entries(
        self,
        *,
        now: datetime,
        lease: timedelta,
        limit: int = 1000,
    ) -> list[EntryForWrite]:
        """Pending entries whose lease expired (their writer died): lease them to us."""
        query = (
            select(entries)
            .where(
                entries.c.status == EntryStatus.PENDING.value,
                or_(entries.c.lease_until.is_(None), entries.c.lease_until <= now),
            )
            .order_by(entries.c.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)

        def work() -> list[EntryForWrite]:
            with self._begin() as conn:
                rows = conn.execute(query).all()
                if rows:
                    conn.execute(
                        update(entries)
                        .where(entries.c.id.in_([r.id for r in rows]))
                        .values(lease_until=now + lease)
                    )
            return [
                EntryForWrite(
                    id=r.id,
                    identity=r.identity,
                    file_name=r.file_name,
                    article=article_from_json(r.article),
                    status=EntryStatus(r.status),
                    rendered_hash=r.rendered_hash,
                )
                for r in rows
            ]

        return self._guard(work)

    def written_entries(self, *, after_id: int = 0, limit: int = 1000) -> list[EntryForWrite]:
        """Written entries in id order, for ``rebuild``."""

        def work() -> list[EntryForWrite]:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(entries)
                    .where(entries.c.status == EntryStatus.WRITTEN.value, entries.c.id > after_id)
                    .order_by(entries.c.id)
                    .limit(limit)
                ).all()
            return [
                EntryForWrite(
                    id=r.id,
                    identity=r.identity,
                    file_name=r.file_name,
                    article=article_from_json(r.article),
                    status=EntryStatus(r.status),
                    rendered_hash=r.rendered_hash,
                )
                for r in rows
            ]

        return self._guard(work)

    def count_entries(self) -> dict[str, int]:
        def work() -> dict[str, int]:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(entries.c.status, func.count()).group_by(entries.c.status)
                ).all()
            return {r[0]: int(r[1]) for r in rows}

        return self._guard(work)

    # -- article page images ------------------------------------------------------------------

    def cached_page_image(self, url: str) -> str | None:
        def work() -> str | None:
            with self.engine.connect() as conn:
                value = conn.execute(
                    select(page_images.c.image_url).where(
                        page_images.c.url_hash == identity_hash(url)
                    )
                ).scalar_one_or_none()
            return value

        return self._guard(work)

    def cache_page_image(self, url: str, image_url: str, *, now: datetime) -> None:
        def work() -> None:
            with self._begin() as conn:
                conn.execute(
                    self._insert(page_images).on_conflict_do_nothing(),
                    [
                        {
                            "url_hash": identity_hash(url),
                            "url": url,
                            "image_url": image_url,
                            "fetched_at": now,
                        }
                    ],
                )

        self._guard(work)

    # -- internals ----------------------------------------------------------------------------

    def _add_entries_statement(self) -> Any:
        """``add_entries``' INSERT (skipping a known identity), built once per store."""
        if self._add_entries is None:
            self._add_entries = (
                self._insert(entries)
                .on_conflict_do_nothing()
                .returning(entries.c.id, entries.c.identity_hash)
            )
        return self._add_entries

    def _insert(self, table: Any) -> Any:
        if self._dialect == "postgresql":
            from sqlalchemy.dialects import postgresql  # not imported on SQLite: 40 ms

            return postgresql.insert(table)
        return sqlite.insert(table)

    def _guard(self, work: Callable[[], T]) -> T:
        """Translate database errors at this edge; bugs surface as they are."""
        try:
            return work()
        except (OperationalError, DBAPIError) as err:
            raise StoreError(f"database error: {_one_line(err)}") from err
        except SQLAlchemyError as err:
            raise StoreError(f"database error: {_one_line(err)}") from err


def _poll_values(intent: FeedUpdateIntent) -> dict[str, Any]:
    """The columns a poll sets: validators and body hash only when it brought new ones."""
    values: dict[str, Any] = {
        "last_checked_at": intent.checked_at,
        "next_check_at": intent.next_check_at,
        "last_status": intent.http_status,
        "consecutive_failures": intent.consecutive_failures,
        "quiet_polls": intent.quiet_polls,
        "retired": intent.retired,
        "last_error_class": intent.error_class,
        "last_error_message": intent.error_message[:2000] or None,
        "claimed_until": None,
        "claimed_by": None,
    }
    if intent.ok:
        values["last_success_at"] = intent.checked_at
    if intent.etag is not None:
        values["etag"] = intent.etag
    if intent.last_modified is not None:
        values["last_modified"] = intent.last_modified
    if intent.body_hash is not None:
        values["body_hash"] = intent.body_hash
    if intent.item_keys is not None:
        values["item_keys"] = "".join(
            key.hex() for key in intent.item_keys if len(key) == ITEM_KEY_BYTES
        )
    return values


def _item_keys(stored: str | None) -> frozenset[bytes]:
    """``feeds.item_keys`` read back; anything malformed counts as no keys at all."""
    if not stored or len(stored) % (2 * ITEM_KEY_BYTES):
        return frozenset()
    try:
        raw = bytes.fromhex(stored)
    except ValueError:
        return frozenset()
    return frozenset(raw[i : i + ITEM_KEY_BYTES] for i in range(0, len(raw), ITEM_KEY_BYTES))


def _one_line(err: Exception) -> str:
    text = str(getattr(err, "orig", None) or err)
    return " ".join(text.split())[:500]


def _due_query(now: datetime, *, keys: Iterable[str] | None, force: bool) -> Any:
    """The feeds a claim would take, as one statement with its values (``run --dry-run``)."""
    statement = _due_statement(force=force, keys=keys is not None, excluded=False)
    values: dict[str, Any] = {"now": now}
    if keys is not None:
        values["keys"] = list(keys)
    return statement.params(values)


def _due_statement(*, force: bool, keys: bool, excluded: bool, dialect: str = "sqlite") -> Any:
    """Feeds in the configuration, not retired, not claimed, and due (unless ``force``).

    Bound at execution: ``now``; ``keys`` (the configured URLs to take, when ``keys``);
    ``excluded_ids`` (``_excluded_value``, when ``excluded``).
    """
    now = bindparam("now", type_=feeds.c.next_check_at.type)
    conditions = [
        feeds.c.in_config.is_(True),
        feeds.c.retired.is_(False),
        or_(feeds.c.claimed_until.is_(None), feeds.c.claimed_until <= now),
    ]
    due = or_(feeds.c.next_check_at.is_(None), feeds.c.next_check_at <= now)
    # Forcing skips the normal interval, never an error back-off: a publisher's
    # Retry-After (429/503) or a failing feed's back-off is not cut short.
    conditions.append(or_(due, feeds.c.consecutive_failures == 0) if force else due)
    if keys:
        conditions.append(feeds.c.key.in_(bindparam("keys", expanding=True)))
    if excluded:
        conditions.append(_not_among(dialect))
    return (
        select(*_FOR_UPDATE_COLUMNS)
        .where(and_(*conditions))
        .order_by(feeds.c.next_check_at.nulls_first(), feeds.c.id)
    )


def _not_among(dialect: str) -> Any:
    """``feeds.id NOT IN excluded_ids`` as one bound parameter, whatever the number of ids.

    A pass excludes the feeds it has done, a list that grows to every feed. As a plain
    ``NOT IN (?, ?, …)`` each claim was a new statement text, and the driver's statement
    cache kept up to 128 of them per connection: claiming 10,000 feeds 16 at a time grew
    the process by 200 MB (61 → 269 MB) and took 5 times as long.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return feeds.c.id != all_(bindparam("excluded_ids", type_=postgresql.ARRAY(Integer)))
    values = func.json_each(bindparam("excluded_ids", type_=String)).table_valued("value")
    return feeds.c.id.not_in(select(values.c.value))


def _excluded_value(ids: list[int], dialect: str) -> Any:
    """The value ``_not_among``'s parameter takes: an array, or a JSON list for SQLite."""
    return ids if dialect == "postgresql" else json.dumps(ids)


# A claim's UPDATE: the claimed ids (an expanding IN), the lease's end and the worker.
_CLAIM = (
    update(feeds)
    .where(feeds.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        claimed_until=bindparam("until", type_=feeds.c.claimed_until.type),
        claimed_by=bindparam("worker", type_=feeds.c.claimed_by.type),
    )
)


# The statements of a first ingest's every feed, built once (their values bound at
# execution): building them and computing their cache keys again for every call was about a
# fifth of the store's CPU in a first ingest (docs/performance.md).
_STORED = select(entries).where(entries.c.identity_hash.in_(bindparam("hashes", expanding=True)))
_TAKEN_NAMES = select(entries.c.file_name).where(
    entries.c.file_name.in_(bindparam("names", expanding=True))
)
_EXISTING = select(entries.c.identity_hash).where(
    entries.c.identity_hash.in_(bindparam("hashes", expanding=True))
)
_MARK_WRITTEN = (
    update(entries)
    .where(entries.c.id == bindparam("entry_id", type_=Integer))
    .values(
        status=EntryStatus.WRITTEN.value,
        rendered_hash=bindparam("digest", type_=entries.c.rendered_hash.type),
        written_at=bindparam("now", type_=entries.c.written_at.type),
        lease_until=None,
    )
)
_COUNT_WRITTEN = (
    update(feeds)
    .where(feeds.c.id == bindparam("feed_id", type_=Integer))
    .values(articles_written=feeds.c.articles_written + bindparam("count", type_=Integer))
)


# What a claim reads: not ``item_keys`` (up to 16 KB a feed), which only a changed
# document needs (``known_items``), nor the health columns.
_FOR_UPDATE_COLUMNS = (
    feeds.c.id,
    feeds.c.key,
    feeds.c.url,
    feeds.c.name,
    feeds.c.etag,
    feeds.c.last_modified,
    feeds.c.body_hash,
    feeds.c.consecutive_failures,
    feeds.c.quiet_polls,
    feeds.c.next_check_at,
    feeds.c.last_success_at,
)


def _for_update(r: Any) -> FeedForUpdate:
    return FeedForUpdate(
        id=r.id,
        key=r.key,
        url=r.url,
        name=r.name,
        etag=r.etag,
        last_modified=r.last_modified,
        body_hash=r.body_hash,
        consecutive_failures=r.consecutive_failures,
        quiet_polls=r.quiet_polls,
        next_check_at=r.next_check_at,
        last_success_at=r.last_success_at,
    )


def _stored(r: Any) -> StoredEntry:
    return StoredEntry(
        id=r.id,
        identity=r.identity,
        feed_id=r.feed_id,
        file_name=r.file_name,
        status=EntryStatus(r.status),
        content_hash=r.content_hash,
        rendered_hash=r.rendered_hash,
        rewrites=r.rewrites,
        article=article_from_json(r.article),
    )


def article_to_json(a: Article) -> str:
    return json.dumps(
        {
            "title": a.title,
            "date": a.date.isoformat(),
            "published_date": a.published_date,
            "summary": a.summary,
            "importance": a.importance,
            "source_url": a.source_url,
            "tags": list(a.tags),
            "permalink": a.permalink,
            "image_url": a.image_url,
            "image_credit": a.image_credit,
            "identity": a.identity,
            "identity_rule": a.identity_rule.value,
            "slug": a.slug,
            "local_date": a.local_date.isoformat(),
            "guid": a.guid,
        },
        ensure_ascii=False,
    )


def article_from_json(text: str) -> Article:
    d = json.loads(text)
    return Article(
        title=d["title"],
        date=datetime.fromisoformat(d["date"]),
        published_date=d["published_date"],
        summary=d["summary"],
        importance=d["importance"],
        source_url=d["source_url"],
        tags=tuple(d["tags"]),
        permalink=d["permalink"],
        image_url=d["image_url"],
        image_credit=d["image_credit"],
        identity=d["identity"],
        identity_rule=IdentityRule(d["identity_rule"]),
        slug=d["slug"],
        local_date=date.fromisoformat(d["local_date"]),
        guid=d.get("guid", ""),
    )


__all__ = [
    "FeedStatus",
    "NewEntry",
    "SchemaState",
    "Store",
    "StoredEntry",
    "article_from_json",
    "article_to_json",
    "identity_hash",
    "new_worker_id",
]
