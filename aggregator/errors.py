"""The exception tree of aggregator.

Every error the package raises on purpose derives from ``AggregatorError``;
third-party errors are translated at the edge that met them (``raise ... from err``)::

    AggregatorError
    ├── ConfigError        bad configuration (the CLI exits 2)
    ├── StoreError         the database cannot be reached or used (exit 1)
    │   └── SchemaBehindError   the schema needs ``aggregator db upgrade``
    ├── OutputError        the output folder cannot be used (exit 1)
    ├── FetchError         one feed could not be fetched (carries an ErrorClass)
    └── ParseError         one feed's body is not a usable feed

Feed-level problems (FetchError, ParseError) never escape a run: the pipeline turns them
into a recorded result for that feed.
"""

from __future__ import annotations

import enum


class ErrorClass(enum.StrEnum):
    """Why a fetch or parse failed; drives back-off and is shown to operators."""

    DNS = "dns"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    BLOCKED = "blocked"  # refused by the SSRF guard or the scheme/port policy
    HTTP_4XX = "http_4xx"
    HTTP_403 = "http_403"
    HTTP_404 = "http_404"
    HTTP_410 = "http_410"
    HTTP_429 = "http_429"
    HTTP_5XX = "http_5xx"
    TOO_LARGE = "too_large"
    BAD_ENCODING = "bad_encoding"  # unknown or stacked Content-Encoding, corrupt stream
    TOO_MANY_REDIRECTS = "too_many_redirects"
    PROTOCOL = "protocol"  # malformed HTTP
    PARSE = "parse"  # the body is not a feed
    ENTITIES = "entities"  # the document declares XML entities
    INTERNAL = "internal"  # a bug of ours, recorded so the run goes on


class AggregatorError(Exception):
    """Root of every error raised by aggregator."""


class ConfigError(AggregatorError):
    """The configuration file is missing, unreadable or invalid.

    ``str(err)`` is one line naming the file and the key.
    """

    def __init__(self, path: object, key: str | None, message: str) -> None:
        self.path = str(path)
        self.key = key
        self.message = message
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {message}")


class StoreError(AggregatorError):
    """The database cannot be reached or used."""


class SchemaBehindError(StoreError):
    """The database schema is older than this version of aggregator."""


class OutputError(AggregatorError):
    """The output folder cannot be created or written."""


class FeedError(AggregatorError):
    """A problem with one feed; carries the feed URL and an error class."""

    def __init__(self, url: str, error_class: ErrorClass, message: str) -> None:
        self.url = url
        self.error_class = error_class
        self.message = message
        super().__init__(f"{url}: {error_class.value}: {message}")

    def __reduce__(self) -> tuple[type[FeedError], tuple[str, ErrorClass, str]]:
        # Crosses process boundaries (parsing runs in a process pool).
        return (type(self), (self.url, self.error_class, self.message))


class FetchError(FeedError):
    """The feed could not be fetched."""


class ParseError(FeedError):
    """The fetched body is not a usable feed."""


__all__ = [
    "AggregatorError",
    "ConfigError",
    "ErrorClass",
    "FeedError",
    "FetchError",
    "OutputError",
    "ParseError",
    "SchemaBehindError",
    "StoreError",
]
