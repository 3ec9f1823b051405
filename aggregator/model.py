"""Frozen dataclasses that flow between the stages.

Names say which way data flows (after lemon24/reader's ``_types``):

- ``Settings``, ``SiteSettings``, ``FetchSettings``, ``MetricsSettings``, ``FeedConfig``: from
  the configuration file.
- ``FetchRequest`` to the fetcher, ``FetchResult`` from it.
- ``ParsedFeed`` / ``ParsedEntry``: from the parse stage; nothing of feedparser leaves it.
- ``Article``: from the extractor to the store and the writer; every front-matter field.

Every datetime is timezone-aware UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime
from pathlib import Path

from aggregator.errors import ErrorClass

# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True, slots=True)
class Rule:
    """One include/exclude/tag/importance rule (see docs/configuration.md)."""

    action: str  # "include" | "exclude" | "tag" | "importance"
    pattern: str  # a keyword (case-insensitive substring) or, with regex=True, a regex
    fields: tuple[str, ...] = ("title", "summary", "categories")
    regex: bool = False
    value: str = ""  # the tag to add, or the importance to set


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One configured source feed. ``url`` is the key that ties it to its stored state."""

    name: str
    url: str
    tags: tuple[str, ...] = ()
    interval_minutes: int = 60
    paused: bool = False
    fetch_page_image: bool = True  # look for og:image on the article page when the feed has none
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """How articles look: language, time zone, permalinks, summary and credit."""

    language: str = "fr"
    timezone: str = "Europe/Paris"
    permalink: str = "/papers/{date}-{slug}"
    summary_length: int = 600
    # None means the credit sentence of the site's language (locales/<lang>.toml).
    image_credit: str | None = None
    keep_wordpress_footer: bool = False
    locales_dir: Path | None = None  # extra language tables, <lang>.toml


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """Limits and manners of the fetcher."""

    user_agent: str = ""  # empty: "aggregator/<version> (+<project URL>)"
    timeout_seconds: float = 30.0  # total deadline of one exchange, headers and body included
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 15.0
    max_raw_bytes: int = 10 * 1024 * 1024
    max_decoded_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 16
    per_host_concurrency: int = 2
    per_host_delay_seconds: float = 1.0
    allow_private_networks: bool = False
    proxy: str | None = None


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """The daemon's metrics and health endpoint (off unless ``listen`` is set)."""

    listen: str = ""  # "127.0.0.1:9464"; empty: no endpoint
    stale_grace_minutes: int = 30  # added to 3 x a feed's interval before it counts as stale


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """How the daemon ticks, and the leases every worker (daemon or ``run``) takes."""

    tick_seconds: float = 60.0  # how often the daemon looks for due feeds
    batch_size: int = 64  # feeds claimed in one transaction
    feed_lease_seconds: float = 900.0  # a claimed feed is ours this long, then anyone's
    entry_lease_seconds: float = 300.0  # a pending entry is ours this long, then recovered


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole validated configuration."""

    config_path: Path
    output_dir: Path
    database_url: str
    site: SiteSettings = field(default_factory=SiteSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    feeds: tuple[FeedConfig, ...] = ()
    global_rules: tuple[Rule, ...] = ()
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)


# --------------------------------------------------------------------------------------------
# Fetching


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What the fetcher is asked: the URL and the validators stored for it (byte for byte)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


class FetchStatus(enum.StrEnum):
    OK = "ok"  # 200 with a body
    NOT_MODIFIED = "not_modified"  # 304
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Redirect:
    status: int
    from_url: str
    to_url: str


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What the fetcher answers. A feed-level problem is a value here, never an exception."""

    status: FetchStatus
    url: str  # the URL asked for
    final_url: str  # after redirects
    http_status: int | None = None
    body: bytes = b""  # decoded (decompressed) body, at most max_decoded_bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-cased names
    etag: str | None = None
    last_modified: str | None = None
    redirects: tuple[Redirect, ...] = ()
    # Set when every hop was 301/308 and https was not downgraded: the URL to store
    # once the body has parsed as a feed.
    permanent_url: str | None = None
    error_class: ErrorClass | None = None
    error_message: str = ""
    retry_after: datetime | None = None  # from Retry-After on 429/503
    raw_bytes: int = 0  # bytes on the wire
    elapsed_seconds: float = 0.0


# --------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class Text:
    """A text construct as the feed gave it: ``mime`` is text/html, text/plain or xhtml."""

    value: str
    mime: str = "text/html"

    @property
    def is_html(self) -> bool:
        return "html" in self.mime


@dataclass(frozen=True, slots=True)
class MediaItem:
    """A ``media:content`` or ``media:thumbnail``."""

    url: str
    medium: str = ""
    mime_type: str = ""
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    mime_type: str = ""
    length: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One entry as the feed gave it, before any cleaning."""

    guid: str = ""
    guid_is_permalink: bool = False
    link: str = ""
    orig_link: str = ""  # feedburner:origLink
    title: Text = field(default_factory=lambda: Text(""))
    summary: Text = field(default_factory=lambda: Text(""))
    content: tuple[Text, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    media_content: tuple[MediaItem, ...] = ()
    media_thumbnails: tuple[MediaItem, ...] = ()
    media_credit: str = ""
    enclosures: tuple[Enclosure, ...] = ()
    itunes_image: str = ""
    categories: tuple[str, ...] = ()
    base_url: str = ""  # what relative URLs of this entry resolve against


# The size of an item's key (``itemscan``), as ``ParsedFeed.item_keys`` carries it and the
# store keeps it.
ITEM_KEY_BYTES = 16


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document."""

    url: str  # the URL it was fetched from (final, after redirects)
    title: str = ""
    link: str = ""
    language: str = ""
    version: str = ""  # feedparser's version string, e.g. "rss20", "atom10"
    bozo: bool = False  # not well-formed; parsed by the tolerant parser
    bozo_message: str = ""
    ttl_minutes: int | None = None
    sy_update_period: str = ""
    sy_update_frequency: int | None = None
    skip_hours: frozenset[int] = frozenset()
    skip_days: frozenset[str] = frozenset()
    entries: tuple[ParsedEntry, ...] = ()
    # Keys of the document's items (itemscan), when the parse stage could tell them; the
    # ``skipped_items`` of them that were known were cut out and are not in ``entries``.
    item_keys: tuple[bytes, ...] = ()
    skipped_items: int = 0


# --------------------------------------------------------------------------------------------
# Extraction


class IdentityRule(enum.StrEnum):
    """Which rule gave an entry its identity (stored beside it)."""

    LINK = "link"  # canonical URL of the entry's link (or FeedBurner origLink)
    GUID = "guid"  # the guid, when there is no link
    HASH = "hash"  # a hash of title + content, when there is neither


@dataclass(frozen=True, slots=True)
class Article:
    """Everything needed to write one article file; front-matter fields first."""

    title: str
    date: datetime  # UTC instant; rendered 2024-03-28T14:25:02.000Z
    published_date: str  # long date in the site's language and time zone
    summary: str
    importance: str
    source_url: str
    tags: tuple[str, ...]
    permalink: str
    image_url: str
    image_credit: str
    # Not in the front matter:
    identity: str  # the dedup key: canonical URL, "guid:<guid>" or "hash:<hex>"
    identity_rule: IdentityRule
    slug: str
    local_date: Date  # the publishedDate day, used in the file name and permalink
    guid: str = ""


# --------------------------------------------------------------------------------------------
# Store


class EntryStatus(enum.StrEnum):
    PENDING = "pending"  # committed, its file not yet durable
    WRITTEN = "written"  # its file is durable and recorded
    SEEN = "seen"  # marked seen without a file (run --catchup)


@dataclass(frozen=True, slots=True)
class FeedForUpdate:
    """A claimed feed as the store hands it to the pipeline."""

    id: int
    key: str  # the configured URL: ties the store row to the configuration
    url: str  # the URL to fetch (differs from key after a permanent redirect)
    name: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    consecutive_failures: int = 0
    quiet_polls: int = 0
    next_check_at: datetime | None = None
    last_success_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedUpdateIntent:
    """What the pipeline decided about one feed after a poll; the store applies it."""

    feed_id: int
    checked_at: datetime
    next_check_at: datetime
    http_status: int | None
    ok: bool
    consecutive_failures: int
    quiet_polls: int
    retired: bool = False
    error_class: str | None = None
    error_message: str = ""
    # Validators and body hash: None means "keep what is stored".
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    # Keys of the items of the document just processed (itemscan): None keeps the stored.
    item_keys: tuple[bytes, ...] | None = None
    new_url: str | None = None  # a permanent redirect to record (old URL kept in history)


@dataclass(frozen=True, slots=True)
class EntryForWrite:
    """An entry whose file is to be written (new, recovered after a crash, or rebuilt)."""

    id: int
    identity: str
    file_name: str
    article: Article
    status: EntryStatus
    rendered_hash: str | None = None  # hash of the bytes last written, None if never
