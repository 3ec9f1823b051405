"""Shared inputs of the extractor tests: real feed files and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.locales import Labels, load_labels
from aggregator.model import FeedConfig, ParsedEntry, ParsedFeed, SiteSettings, Text
from aggregator.parse import parse_feed

DATA = Path(__file__).resolve().parent.parent / "data"
NOW = datetime(2024, 7, 6, 8, 0, 0, tzinfo=UTC)
SOURCE = FeedConfig(
    name="Interventional News — Latest",
    url="https://interventionalnews.com/feed/",
    tags=("France", "Actualité"),
)


@pytest.fixture
def fr() -> Labels:
    return load_labels("fr")


@pytest.fixture
def en() -> Labels:
    return load_labels("en")


@pytest.fixture
def site() -> SiteSettings:
    return SiteSettings()


def entry(**kw: object) -> ParsedEntry:
    """A ParsedEntry with plain strings accepted for the Text fields."""
    for name in ("title", "summary"):
        if isinstance(kw.get(name), str):
            kw[name] = Text(str(kw[name]))
    if "content" in kw:
        kw["content"] = tuple(Text(c) if isinstance(c, str) else c for c in kw["content"])  # type: ignore[attr-defined]
    kw.setdefault("base_url", "https://example.com/feed/")
    return ParsedEntry(**kw)  # type: ignore[arg-type]


def parse(body: bytes, url: str = SOURCE.url) -> ParsedFeed:
    return parse_feed(body, url=url)
