"""The one portable schema (SQLAlchemy Core), for SQLite and PostgreSQL alike.

Alembic migrations in ``migrations/versions`` create exactly this; a test compares them.
Datetimes are stored as naive UTC (``UTCDateTime``) so both backends agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


URL = String(2048)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", URL, nullable=False, unique=True),  # the configured URL
    Column("url", URL, nullable=False),  # the URL fetched (after permanent redirects)
    Column("name", String(500), nullable=False),
    Column("in_config", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    # HTTP caching state, stored byte for byte
    Column("etag", String(1024)),
    Column("last_modified", String(1024)),
    Column("body_hash", String(64)),
    # the keys of the last document's items (itemscan), 16 bytes each, as hex
    Column("item_keys", Text),
    # scheduling
    Column("next_check_at", UTCDateTime),
    Column("claimed_until", UTCDateTime),
    Column("claimed_by", String(200)),
    Column("quiet_polls", Integer, nullable=False, default=0),
    # health
    Column("last_checked_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_status", Integer),
    Column("last_error_class", String(40)),
    Column("last_error_message", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("retired", Boolean, nullable=False, default=False),  # 410 Gone
    Column("articles_written", Integer, nullable=False, default=0),
)
Index("ix_feeds_next_check_at", feeds.c.next_check_at)

feed_url_history = Table(
    "feed_url_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("old_url", URL, nullable=False),
    Column("new_url", URL, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True),
    # sha256 of the identity: a short fixed-size unique key whatever the URL's length
    Column("identity_hash", String(64), nullable=False, unique=True),
    Column("identity", Text, nullable=False),
    Column("identity_rule", String(8), nullable=False),
    Column("guid", Text),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("source_url", Text, nullable=False),
    Column("file_name", String(255), nullable=False, unique=True),
    Column("article", Text, nullable=False),  # JSON of the Article
    Column("content_hash", String(64), nullable=False),  # upstream fields, for updates
    Column("rendered_hash", String(64)),  # sha256 of the bytes written
    Column("status", String(10), nullable=False),
    Column("lease_until", UTCDateTime),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("written_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    Column("rewrites", Integer, nullable=False, default=0),
)
Index("ix_entries_status", entries.c.status)
Index("ix_entries_feed_id", entries.c.feed_id)

page_images = Table(
    "page_images",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url_hash", String(64), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("image_url", Text, nullable=False),  # "" when the page had none or failed
    Column("fetched_at", UTCDateTime, nullable=False),
)

__all__ = ["entries", "feed_url_history", "feeds", "metadata", "page_images"]
