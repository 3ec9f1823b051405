"""feedparser's base-URI check, answered from memory (``aggregator.parse``).

feedparser checks its base URI at every start tag; the aggregator keeps the answers of
that pure check. These tests show that the kept answers are feedparser's own: the whole
corpus (feedparser's test suite, with its many ``xml:base`` cases) parses to exactly
what it parses to with feedparser's function in place.
"""

from __future__ import annotations

from typing import Any

import feedparser.mixin
import feedparser.urls
import pytest

from aggregator.parse import parse_feed
from tests.extract.conftest import DATA
from tests.extract.test_corpus import assert_corpus_parses_alike

URL = "https://example.com/feed.xml"
WORDPRESS = (DATA / "interventional_news.xml").read_bytes()
ORIGINAL = feedparser.urls.make_safe_absolute_uri


def test_the_check_is_answered_from_memory() -> None:
    memo: Any = feedparser.mixin.make_safe_absolute_uri
    assert memo is not ORIGINAL
    memo.cache.cache_clear()
    parse_feed(WORDPRESS, url=URL)
    # One check per start tag, with the same base each time: all but the first remembered.
    info = memo.cache.cache_info()
    assert (info.misses, info.hits >= 30) == (1, True)


def test_the_corpus_parses_as_with_feedparser_own_check(monkeypatch: pytest.MonkeyPatch) -> None:
    assert_corpus_parses_alike(
        lambda: monkeypatch.setattr(feedparser.mixin, "make_safe_absolute_uri", ORIGINAL),
        url=URL,
    )


def _atom(base: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.com/news/">
  <title>t</title>
  <entry xml:base="{base}">
    <title>one</title><id>urn:1</id><updated>2026-11-30T10:00:00Z</updated>
    <link rel="alternate" href="item/1"/>
  </entry>
  <entry>
    <title>two</title><id>urn:2</id><updated>2026-11-30T10:00:00Z</updated>
    <link rel="alternate" href="item/2"/>
  </entry>
</feed>""".encode()


def test_an_unsafe_xml_base_is_still_refused() -> None:
    for _ in range(2):  # the second time, from memory
        parsed = parse_feed(_atom("javascript:alert(1)//"), url=URL)
        assert [e.link for e in parsed.entries] == [
            "https://example.com/news/item/1",
            "https://example.com/news/item/2",
        ]
    other = parse_feed(_atom("https://other.example/a/"), url=URL)
    assert [e.link for e in other.entries] == [
        "https://other.example/a/item/1",
        "https://example.com/news/item/2",
    ]


def test_new_accepted_schemes_forget_the_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    check = feedparser.mixin.make_safe_absolute_uri
    assert check("https://example.com/", "https://example.com/a") == "https://example.com/a"
    monkeypatch.setattr(feedparser.urls, "ACCEPTABLE_URI_SCHEMES", ("http",))
    assert check("https://example.com/", "https://example.com/a") == ""
    assert ORIGINAL("https://example.com/", "https://example.com/a") == ""


def test_a_long_base_is_checked_but_not_remembered() -> None:
    memo: Any = feedparser.mixin.make_safe_absolute_uri
    long_base = "https://example.com/" + "a" * 1_000_000 + "/"
    parsed = parse_feed(_atom(long_base), url=URL)
    assert parsed.entries[0].link == long_base + "item/1"
    assert parsed.entries[1].link == "https://example.com/news/item/2"
    # A hostile document's megabyte-long xml:base must not stay in memory after it: its
    # checks do not go through the memory at all (neither kept nor looked up).
    before = memo.cache.cache_info()
    assert memo(long_base, long_base) == long_base
    assert memo("javascript:" + "a" * 5000, None) == ""
    after = memo.cache.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)
    assert memo("https://example.com/", "https://example.com/b") == "https://example.com/b"
    short = memo.cache.cache_info()
    assert short.hits + short.misses == before.hits + before.misses + 1
