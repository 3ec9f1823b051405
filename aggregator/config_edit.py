"""Edit the feed list in the configuration file, keeping the rest of it as written.

Why: the configuration file is the single source of truth for the feed list, and people
write comments in it. Rewriting it from parsed data would lose them, so edits go through
tomlkit, which keeps comments, order and formatting of everything we do not touch.

Every edit is all-or-nothing: the new text is built in memory, checked to be valid TOML,
written to a temporary file in the same folder, fsynced and moved over the original with
``os.replace`` (POLITENESS_AND_SECURITY 2.11). A failure at any step leaves the original
file byte for byte; an import never lands half-way.

Feeds are matched by canonical URL (:func:`aggregator.opml.canonical_feed_url`), the same
key the importer uses, so ``HTTPS://Example.org/feed/`` and ``https://example.org/feed``
are one feed.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import tomlkit
import tomlkit.exceptions
from tomlkit.items import AoT, Array, Table
from tomlkit.toml_document import TOMLDocument

from aggregator.errors import ConfigError
from aggregator.opml import canonical_feed_url

__all__ = ["AddReport", "NewFeed", "add_feeds", "remove_feed", "set_paused"]

# FeedConfig defaults: a value equal to its default is not written, to keep entries short.
_DEFAULT_INTERVAL_MINUTES = 60


class NewFeed(Protocol):
    """What :func:`add_feeds` needs of a feed: an ``OpmlFeed`` or a ``FeedConfig`` fits.

    A ``FeedConfig``'s ``interval_minutes``, ``paused`` and ``fetch_page_image`` are
    written too when they differ from the defaults; its ``rules`` are not.
    """

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class AddReport:
    """What :func:`add_feeds` did.

    ``added``: names as written to the file. ``already_present``: URLs not added because
    the file (or an earlier feed of the same batch) already has them. ``renamed``:
    ``(asked, written)`` pairs for names that clashed and got a `` (2)``-style suffix.
    """

    added: tuple[str, ...] = ()
    already_present: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()


def add_feeds(path: Path, feeds: Sequence[NewFeed]) -> AddReport:
    """Append a ``[[feeds]]`` table for each feed whose URL the file does not have yet.

    The file is written once, only if something was added.
    """
    doc = _load(path)
    tables = _feed_tables(doc, path)
    known_urls = {canonical_feed_url(str(t.get("url", ""))) for t in tables}
    known_names = {str(t.get("name", "")).casefold() for t in tables}

    new_tables: list[Table] = []
    added: list[str] = []
    present: list[str] = []
    renamed: list[tuple[str, str]] = []
    for feed in feeds:
        # Refuse before writing anything: one bad URL would make the whole file unloadable.
        parts = urlsplit(feed.url.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ConfigError(path, "feeds", f"{feed.url!r} is not an http(s) feed URL")
        key = canonical_feed_url(feed.url)
        if key in known_urls:
            present.append(feed.url)
            continue
        asked = " ".join(feed.name.split()) or urlsplit(feed.url).hostname or feed.url
        name = _unique_name(asked, known_names)
        if name != asked:
            renamed.append((asked, name))
        known_urls.add(key)
        known_names.add(name.casefold())
        new_tables.append(_feed_table(name, feed))
        added.append(name)

    if new_tables:
        feeds_item = doc.get("feeds")
        if feeds_item is None:
            doc.append("feeds", tomlkit.aot())
            feeds_item = doc["feeds"]
        for table in new_tables:
            if isinstance(feeds_item, AoT):
                feeds_item.append(table)
            else:  # an inline array of tables: keep its style
                feeds_item.append(_inline(table))
        _save(path, doc)
    return AddReport(tuple(added), tuple(present), tuple(renamed))


def remove_feed(path: Path, name_or_url: str, *, missing_ok: bool = False) -> bool:
    """Remove the feed with this name (or URL). Its stored state is not touched.

    Returns True when a feed was removed; False only with ``missing_ok`` and no match.
    Raises :class:`ConfigError` when no feed matches (unless ``missing_ok``).
    """
    doc = _load(path)
    tables = _feed_tables(doc, path)
    index = _find(tables, name_or_url)
    if index is None:
        if missing_ok:
            return False
        raise _unknown(path, name_or_url)
    feeds_item = doc["feeds"]
    assert isinstance(feeds_item, AoT | Array)
    del feeds_item[index]
    _save(path, doc)
    return True


def set_paused(path: Path, name_or_url: str, paused: bool) -> bool:
    """Pause or resume a feed. Returns True when the file changed.

    Resuming a feed that has no ``paused`` key changes nothing (false is the default).
    Raises :class:`ConfigError` when no feed matches.
    """
    doc = _load(path)
    tables = _feed_tables(doc, path)
    index = _find(tables, name_or_url)
    if index is None:
        raise _unknown(path, name_or_url)
    table = tables[index]
    if bool(table.get("paused", False)) == paused:
        return False
    table["paused"] = paused
    _save(path, doc)
    return True


# --------------------------------------------------------------------------------------------


def _load(path: Path) -> TOMLDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(path, None, f"cannot read: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(path, None, "not UTF-8 text") from err
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as err:
        raise ConfigError(path, None, f"not valid TOML: {err}") from err


def _feed_tables(doc: TOMLDocument, path: Path) -> list[Any]:
    """The feed tables, in file order; they are live views, edits land in ``doc``."""
    feeds_item = doc.get("feeds")
    if feeds_item is None:
        return []
    if not isinstance(feeds_item, AoT | Array):
        raise ConfigError(path, "feeds", "must be an array of tables ([[feeds]])")
    tables = list(feeds_item)
    for i, table in enumerate(tables):
        if not isinstance(table, dict):
            raise ConfigError(path, f"feeds[{i}]", "must be a table")
    return tables


def _find(tables: Sequence[Any], name_or_url: str) -> int | None:
    """Index of the feed named ``name_or_url``, else of the feed with that URL."""
    wanted = name_or_url.strip()
    for i, table in enumerate(tables):
        if str(table.get("name", "")) == wanted:
            return i
    key = canonical_feed_url(wanted)
    for i, table in enumerate(tables):
        if canonical_feed_url(str(table.get("url", ""))) == key:
            return i
    return None


def _unknown(path: Path, name_or_url: str) -> ConfigError:
    return ConfigError(path, "feeds", f"no feed named or with URL {name_or_url!r}")


def _unique_name(name: str, taken: set[str]) -> str:
    candidate = name
    n = 2
    while candidate.casefold() in taken:
        candidate = f"{name} ({n})"
        n += 1
    return candidate


def _feed_table(name: str, feed: NewFeed) -> Table:
    table = tomlkit.table()
    table["name"] = name
    table["url"] = feed.url.strip()
    tags = [t for t in feed.tags if t]
    if tags:
        table["tags"] = tags
    interval = getattr(feed, "interval_minutes", _DEFAULT_INTERVAL_MINUTES)
    if interval != _DEFAULT_INTERVAL_MINUTES:
        table["interval_minutes"] = interval
    if getattr(feed, "paused", False):
        table["paused"] = True
    if getattr(feed, "fetch_page_image", True) is False:
        table["fetch_page_image"] = False
    table.add(tomlkit.nl())  # a blank line before whatever table follows
    return table


def _inline(table: Table) -> Any:
    inline = tomlkit.inline_table()
    inline.update({k: v for k, v in table.items()})
    return inline


def _save(path: Path, doc: TOMLDocument) -> None:
    """Replace ``path`` with the new text atomically; on any failure the old file stays."""
    text = tomlkit.dumps(doc)
    try:
        tomllib.loads(text)  # never write a file the loader would refuse
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, None, f"edit would produce invalid TOML: {err}") from err
    data = text.encode("utf-8")
    # Replace the file a symlink points at, not the symlink (which would become a copy).
    path = path.resolve()
    folder = path.parent
    try:
        mode = path.stat().st_mode & 0o7777
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise ConfigError(path, None, f"cannot write: {err.strerror or err}") from err
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(path, None, f"cannot write: {err.strerror or err}") from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(folder)


def _fsync_directory(folder: Path) -> None:
    """Make the rename durable; best effort where directories cannot be opened."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
