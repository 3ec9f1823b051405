"""Load and validate the TOML configuration.

Every problem is a ``ConfigError`` whose message is one line naming the file and the key
(``config/aggregator.toml: feeds[2].url: not an http(s) URL: 'ftp://x'``). Nothing is
fetched or written before the whole file has been validated.

Relative paths (``output_dir``, ``site.locales_dir``, a relative SQLite file in
``database_url``) resolve against the folder that holds the configuration file, so a cron
job behaves the same whatever its working directory. ``AGGREGATOR_DATABASE_URL`` in the
environment overrides ``database_url`` (handy for workers that share one PostgreSQL).
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError

from aggregator.errors import ConfigError
from aggregator.model import (
    DaemonSettings,
    FeedConfig,
    FetchSettings,
    MetricsSettings,
    Rule,
    Settings,
    SiteSettings,
)

DATABASE_URL_ENV = "AGGREGATOR_DATABASE_URL"

_TOP_KEYS = {"output_dir", "database_url", "site", "fetch", "metrics", "daemon", "feeds", "rules"}
_RULE_ACTIONS = ("include", "exclude", "tag", "importance")
_RULE_FIELDS = ("title", "summary", "categories")
_PERMALINK_FIELDS = {"date", "slug"}


def load_settings(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read, validate and resolve one configuration file."""
    path = Path(path)
    environ = os.environ if environ is None else environ
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, None, "no such file") from None
    except OSError as err:
        raise ConfigError(path, None, f"cannot read: {err.strerror}") from err
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(path, None, f"not UTF-8 (byte {err.start})") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, None, f"invalid TOML: {err}") from err
    return settings_from_dict(data, path=path, environ=environ)


def settings_from_dict(
    data: Mapping[str, Any], *, path: Path, environ: Mapping[str, str] | None = None
) -> Settings:
    """Validate an already-decoded configuration (``path`` names it in errors)."""
    environ = {} if environ is None else environ
    v = _Validator(path)
    v.known_keys(data, _TOP_KEYS, "")
    base = path.resolve().parent
    output_dir = _resolve(base, v.string(data, "output_dir", "", default="articles"))
    database_url = environ.get(DATABASE_URL_ENV) or v.string(
        data, "database_url", "", default="sqlite:///aggregator.db"
    )
    database_url = _resolve_database_url(v, database_url, base)

    site = _site(v, v.table(data, "site", ""), base)
    fetch = _fetch(v, v.table(data, "fetch", ""))
    metrics = _metrics(v, v.table(data, "metrics", ""))
    daemon = _daemon(v, v.table(data, "daemon", ""))
    global_rules = _rules(v, data.get("rules", []), "rules")
    feeds_raw = data.get("feeds", [])
    if not isinstance(feeds_raw, list):
        v.fail("feeds", "must be an array of tables ([[feeds]])")
    feeds = tuple(_feed(v, item, f"feeds[{i}]") for i, item in enumerate(feeds_raw))
    names: dict[str, int] = {}
    urls: dict[str, int] = {}
    for i, feed in enumerate(feeds):
        if feed.name.casefold() in names:
            v.fail(
                f"feeds[{i}].name",
                f"duplicate feed name {feed.name!r} (also feeds[{names[feed.name.casefold()]}])",
            )
        if feed.url in urls:
            v.fail(
                f"feeds[{i}].url", f"duplicate feed URL {feed.url!r} (also feeds[{urls[feed.url]}])"
            )
        names[feed.name.casefold()] = i
        urls[feed.url] = i
    return Settings(
        config_path=path,
        output_dir=output_dir,
        database_url=database_url,
        site=site,
        fetch=fetch,
        feeds=feeds,
        global_rules=global_rules,
        metrics=metrics,
        daemon=daemon,
    )


def _site(v: _Validator, t: Mapping[str, Any], base: Path) -> SiteSettings:
    defaults = SiteSettings()
    v.known_keys(t, {f.name for f in fields(SiteSettings)}, "site")
    language = v.string(t, "language", "site", default=defaults.language)
    try:
        Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        v.fail("site.language", f"unknown language {language!r}")
    timezone = v.string(t, "timezone", "site", default=defaults.timezone)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        v.fail("site.timezone", f"unknown time zone {timezone!r}")
    permalink = v.string(t, "permalink", "site", default=defaults.permalink)
    used = set(re.findall(r"{(\w*)}", permalink))
    if not permalink.startswith("/") or "slug" not in used or used - _PERMALINK_FIELDS:
        v.fail(
            "site.permalink",
            f"must start with '/' and use {{slug}} (and optionally {{date}}) only: {permalink!r}",
        )
    credit = t.get("image_credit")
    if credit is not None:
        credit = v.string(t, "image_credit", "site")
        if set(re.findall(r"{(\w*)}", credit)) - {"sourceUrl"}:
            v.fail("site.image_credit", "only {sourceUrl} may be used")
    locales_dir = t.get("locales_dir")
    return SiteSettings(
        language=language,
        timezone=timezone,
        permalink=permalink,
        summary_length=v.integer(
            t, "summary_length", "site", default=defaults.summary_length, low=50, high=100_000
        ),
        image_credit=credit,
        keep_wordpress_footer=v.boolean(
            t, "keep_wordpress_footer", "site", default=defaults.keep_wordpress_footer
        ),
        locales_dir=None
        if locales_dir is None
        else _resolve(base, v.string(t, "locales_dir", "site")),
    )


def _fetch(v: _Validator, t: Mapping[str, Any]) -> FetchSettings:
    d = FetchSettings()
    v.known_keys(t, {f.name for f in fields(FetchSettings)}, "fetch")
    proxy = t.get("proxy")
    if proxy is not None:
        proxy = v.url(t, "proxy", "fetch", schemes=("http", "https", "socks5"))
    return FetchSettings(
        user_agent=v.string(t, "user_agent", "fetch", default=d.user_agent),
        timeout_seconds=v.number(t, "timeout_seconds", "fetch", d.timeout_seconds, 1, 600),
        connect_timeout_seconds=v.number(
            t, "connect_timeout_seconds", "fetch", d.connect_timeout_seconds, 0.1, 120
        ),
        read_timeout_seconds=v.number(
            t, "read_timeout_seconds", "fetch", d.read_timeout_seconds, 0.1, 300
        ),
        max_raw_bytes=v.integer(
            t, "max_raw_bytes", "fetch", default=d.max_raw_bytes, low=1024, high=1 << 30
        ),
        max_decoded_bytes=v.integer(
            t, "max_decoded_bytes", "fetch", default=d.max_decoded_bytes, low=1024, high=1 << 30
        ),
        max_redirects=v.integer(
            t, "max_redirects", "fetch", default=d.max_redirects, low=0, high=5
        ),
        concurrency=v.integer(t, "concurrency", "fetch", default=d.concurrency, low=1, high=512),
        per_host_concurrency=v.integer(
            t, "per_host_concurrency", "fetch", default=d.per_host_concurrency, low=1, high=16
        ),
        per_host_delay_seconds=v.number(
            t, "per_host_delay_seconds", "fetch", d.per_host_delay_seconds, 0, 60
        ),
        allow_private_networks=v.boolean(
            t, "allow_private_networks", "fetch", default=d.allow_private_networks
        ),
        proxy=proxy,
    )


def _metrics(v: _Validator, t: Mapping[str, Any]) -> MetricsSettings:
    d = MetricsSettings()
    v.known_keys(t, {f.name for f in fields(MetricsSettings)}, "metrics")
    listen = v.string(t, "listen", "metrics", default=d.listen).strip()
    if listen:
        host, sep, port = listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            v.fail("metrics.listen", f"must be host:port, like '127.0.0.1:9464': {listen!r}")
    return MetricsSettings(
        listen=listen,
        stale_grace_minutes=v.integer(
            t, "stale_grace_minutes", "metrics", default=d.stale_grace_minutes, low=0, high=10_080
        ),
    )


def _daemon(v: _Validator, t: Mapping[str, Any]) -> DaemonSettings:
    d = DaemonSettings()
    v.known_keys(t, {f.name for f in fields(DaemonSettings)}, "daemon")
    return DaemonSettings(
        tick_seconds=v.number(t, "tick_seconds", "daemon", d.tick_seconds, 1, 86_400),
        batch_size=v.integer(t, "batch_size", "daemon", default=d.batch_size, low=1, high=1000),
        feed_lease_seconds=v.number(
            t, "feed_lease_seconds", "daemon", d.feed_lease_seconds, 1, 86_400
        ),
        entry_lease_seconds=v.number(
            t, "entry_lease_seconds", "daemon", d.entry_lease_seconds, 1, 86_400
        ),
    )


def _feed(v: _Validator, item: Any, where: str) -> FeedConfig:
    if not isinstance(item, Mapping):
        v.fail(where, "must be a table")
    d = FeedConfig(name="", url="")
    v.known_keys(item, {f.name for f in fields(FeedConfig)}, where)
    name = v.string(item, "name", where)
    if not name.strip():
        v.fail(f"{where}.name", "must not be empty")
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(x, str) and x.strip() for x in tags):
        v.fail(f"{where}.tags", "must be an array of non-empty strings")
    return FeedConfig(
        name=name.strip(),
        url=v.url(item, "url", where),
        tags=tuple(x.strip() for x in tags),
        interval_minutes=v.integer(
            item, "interval_minutes", where, default=d.interval_minutes, low=1, high=60 * 24 * 31
        ),
        paused=v.boolean(item, "paused", where, default=d.paused),
        fetch_page_image=v.boolean(item, "fetch_page_image", where, default=d.fetch_page_image),
        rules=_rules(v, item.get("rules", []), f"{where}.rules"),
    )


def _rules(v: _Validator, items: Any, where: str) -> tuple[Rule, ...]:
    if not isinstance(items, list):
        v.fail(where, "must be an array of tables")
    rules = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            v.fail(at, "must be a table")
        v.known_keys(item, {f.name for f in fields(Rule)}, at)
        action = v.string(item, "action", at)
        if action not in _RULE_ACTIONS:
            v.fail(f"{at}.action", f"must be one of {', '.join(_RULE_ACTIONS)}")
        pattern = v.string(item, "pattern", at)
        if not pattern:
            v.fail(f"{at}.pattern", "must not be empty")
        regex = v.boolean(item, "regex", at, default=False)
        if regex:
            try:
                re.compile(pattern)
            except re.error as err:
                v.fail(f"{at}.pattern", f"invalid regular expression: {err}")
        rule_fields = item.get("fields", list(_RULE_FIELDS))
        if (
            not isinstance(rule_fields, list)
            or not rule_fields
            or any(f not in _RULE_FIELDS for f in rule_fields)
        ):
            v.fail(f"{at}.fields", f"must be a non-empty array of {', '.join(_RULE_FIELDS)}")
        value = v.string(item, "value", at, default="")
        if action in ("tag", "importance") and not value:
            v.fail(f"{at}.value", f"a {action} rule needs a value")
        rules.append(
            Rule(
                action=action, pattern=pattern, fields=tuple(rule_fields), regex=regex, value=value
            )
        )
    return tuple(rules)


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _resolve_database_url(v: _Validator, url: str, base: Path) -> str:
    """Make a relative SQLite file path absolute against the config folder."""
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("sqlite"):
        prefix = url.split("://", 1)[0] + "://"
        rest = url[len(prefix) :]
        if not rest.startswith("/"):
            v.fail("database_url", f"must be sqlite:///<path>: {url!r}")
        path_part, sep, query = rest[1:].partition("?")
        if path_part in ("", ":memory:"):
            return url
        file = _resolve(base, path_part)
        return f"{prefix}/{file}{sep}{query}"
    if scheme.startswith("postgresql"):
        return url
    v.fail("database_url", f"unsupported database {scheme!r} (sqlite or postgresql)")
    raise AssertionError  # unreachable: fail() raises


class _Validator:
    """Typed getters that raise ``ConfigError`` naming the file and the dotted key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> Any:
        raise ConfigError(self.path, key, message)

    @staticmethod
    def _key(where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def known_keys(self, t: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in t:
            if key not in allowed:
                self.fail(self._key(where, key), "unknown key")

    def table(self, t: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = t.get(key, {})
        if not isinstance(value, Mapping):
            self.fail(self._key(where, key), "must be a table")
        table: Mapping[str, Any] = value
        return table

    def _get(
        self,
        t: Mapping[str, Any],
        key: str,
        where: str,
        default: Any,
        check: Callable[[Any], bool],
        kind: str,
    ) -> Any:
        if key not in t:
            if default is _REQUIRED:
                self.fail(self._key(where, key), "missing")
            return default
        value = t[key]
        if not check(value):
            self.fail(self._key(where, key), f"must be {kind}, not {value!r}")
        return value

    def string(self, t: Mapping[str, Any], key: str, where: str, default: Any = None) -> str:
        if default is None:
            default = _REQUIRED
        return str(self._get(t, key, where, default, lambda x: isinstance(x, str), "a string"))

    def boolean(self, t: Mapping[str, Any], key: str, where: str, *, default: bool) -> bool:
        return bool(
            self._get(t, key, where, default, lambda x: isinstance(x, bool), "true or false")
        )

    def integer(
        self, t: Mapping[str, Any], key: str, where: str, *, default: int, low: int, high: int
    ) -> int:
        return int(
            self._get(
                t,
                key,
                where,
                default,
                lambda x: isinstance(x, int) and not isinstance(x, bool) and low <= x <= high,
                f"an integer from {low} to {high}",
            )
        )

    def number(
        self, t: Mapping[str, Any], key: str, where: str, default: float, low: float, high: float
    ) -> float:
        return float(
            self._get(
                t,
                key,
                where,
                default,
                lambda x: (
                    isinstance(x, int | float) and not isinstance(x, bool) and low <= x <= high
                ),
                f"a number from {low:g} to {high:g}",
            )
        )

    def url(
        self,
        t: Mapping[str, Any],
        key: str,
        where: str,
        schemes: tuple[str, ...] = ("http", "https"),
    ) -> str:
        value = self.string(t, key, where).strip()
        try:
            parts = urlsplit(value)
            ok = parts.scheme.lower() in schemes and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            ok = False
        if not ok or _WHITESPACE.search(value):
            self.fail(self._key(where, key), f"not an {'/'.join(schemes)} URL: {value!r}")
        return value


_REQUIRED: Any = object()
# What ``str.isspace`` calls whitespace (``re`` asks the same Unicode table), in one search
# instead of a generator step per character of every URL (1,000 feeds: 36,000 steps).
_WHITESPACE = re.compile(r"\s")

__all__ = ["DATABASE_URL_ENV", "load_settings", "settings_from_dict"]
