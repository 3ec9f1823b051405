"""feedparser's join of an absolute link to its base, answered without ``urljoin``.

``aggregator.parse`` gives feedparser a ``_urljoin`` that answers a link matching
``_JOINS_TO_ITSELF_RE`` with the link itself once its base is known to parse. These tests
show that answer is feedparser's own: for every code point in each part of such a link,
for generated links and bases, and for the whole corpus.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import feedparser.mixin
import feedparser.urls
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import parse
from aggregator.parse import parse_feed
from tests.extract.conftest import DATA
from tests.extract.test_corpus import assert_corpus_parses_alike

ORIGINAL = feedparser.urls._urljoin
JOIN: Any = feedparser.mixin._urljoin
URL = "https://example.com/feed.xml"
BASES = [
    "",
    "https://feed.example/news/",
    "http://127.0.0.1/feed/3",
    "HTTP://UPPER.example/a/",
    "ftp://files.example/pub/",
    "relative/base/",
    "javascript:alert(1)",
    "http://[::1/",  # urlsplit: "Invalid IPv6 URL"
    "http://ex\u2100ample.com/",  # ℀ normalises to "a/c": urlsplit refuses the host
]
BAD_BASES = {"http://[::1/", "http://ex\u2100ample.com/"}
# Lone surrogates aside (not text a feed can carry): the Basic Multilingual Plane, where
# every character the pattern refuses lies, and every 97th code point beyond it.
CODES = [c for c in (*range(0x10000), *range(0x10000, 0x110000, 97)) if not 0xD800 <= c <= 0xDFFF]


def _outcome(function: Any, base: Any, uri: Any) -> tuple[str, Any]:
    try:
        return "value", function(base, uri)
    except Exception as err:  # the same failure either way is the point
        return "error", type(err).__name__


@contextmanager
def _counting_urljoins() -> Iterator[list[int]]:
    """Counts the calls of ``urllib.parse.urljoin`` (which feedparser's function makes)."""
    calls = [0]
    real = feedparser.urls.urllib.parse.urljoin

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    with mock.patch.object(feedparser.urls.urllib.parse, "urljoin", counted):
        yield calls


def _takes_the_plain_path(uri: str) -> bool:
    """Whether ``uri`` is answered without ``urljoin`` (over a base that parses); and, if
    it is, that the answer is feedparser's for every base of ``BASES``."""
    with _counting_urljoins() as calls:
        JOIN("https://feed.example/news/", uri)
    plain = calls[0] == 0
    if plain:
        for base in BASES:
            assert _outcome(JOIN, base, uri) == _outcome(ORIGINAL, base, uri), (base, uri)
    return plain


def test_feedparser_joins_through_the_plain_path() -> None:
    assert JOIN is not ORIGINAL
    assert JOIN.original is ORIGINAL
    body = (DATA / "interventional_news.xml").read_bytes()
    parse_feed(body, url=URL)  # the base checks, remembered: none left to count below
    with _counting_urljoins() as calls:
        parsed = parse_feed(body, url=URL)
    with _counting_urljoins() as whole, mock.patch.object(feedparser.mixin, "_urljoin", ORIGINAL):
        assert parse_feed(body, url=URL) == parsed
    # The real feed's links are absolute: its atom:link and link, and each entry's link
    # (the guids are not permalinks, so not joined). None of them goes to urljoin.
    assert (calls[0], whole[0]) == (0, 2 + len(parsed.entries)) == (0, 4)


@pytest.mark.parametrize(
    "uri",
    [
        "https://interventionalnews.com/some-article/",
        "https://interventionalnews.com/?p=12345",
        "http://127.0.0.1/feed/a%20b/?x=1&y=2;z",
        "https://site.example/2026/08/04/grand-bénévoles-présente-1-45/",
        "https://a.example",
        "https://a.example?q",
        "https://a.example//double//slashes/./../x",
    ],
)
def test_absolute_links_take_the_plain_path(uri: str) -> None:
    assert _takes_the_plain_path(uri)
    assert JOIN("https://feed.example/", uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "/relative",
        "relative",
        "HTTPS://a.example/x",
        "https://A.example/x",
        "https://a.example:8080/x",
        "https://user@a.example/x",
        "https://a.example/x#fragment",
        "https://a.example/x?",
        "https://a.example/x;",
        "https://a.example/x;params",
        "https://a.example/x y",
        "https://a.example/x\ty",
        " https://a.example/x",
        "https:///a.example/x",
        "https://[::1]/x",
        "https://例え.jp/x",
        "ftp://a.example/x",
        "javascript:alert(1)",
    ],
)
def test_near_misses_go_to_feedparser(uri: str) -> None:
    assert not _takes_the_plain_path(uri)
    for base in BASES:
        assert _outcome(JOIN, base, uri) == _outcome(ORIGINAL, base, uri), (base, uri)


def test_every_code_point_in_each_part_is_answered_as_feedparser_does() -> None:
    in_path = {c for c in CODES if not _takes_the_plain_path(f"https://a.example/x{chr(c)}y")}
    # "?" begins a query ("?y"), which is accepted.
    assert in_path == {*range(0x21), 0x7F, *map(ord, ";#")}
    in_query = {c for c in CODES if not _takes_the_plain_path(f"https://a.example/x?a{chr(c)}b")}
    assert in_query == {*range(0x21), 0x7F, ord("#")}
    in_host = {c for c in CODES[:0x3000] if _takes_the_plain_path(f"https://a{chr(c)}b.example/x")}
    assert in_host == {
        *map(ord, "-./?"),  # "/" and "?" end the host ("a") and begin the path or query
        *range(ord("0"), ord("9") + 1),
        *range(ord("a"), ord("z") + 1),
    }
    schemes = {c for c in CODES[:0x3000] if _takes_the_plain_path(f"http{chr(c)}://a.example/x")}
    assert schemes == {ord("s")}


def test_a_base_that_does_not_parse_gives_feedparser_answer() -> None:
    for base in sorted(BAD_BASES):
        assert not parse._base_parses(base)
        for _ in range(2):  # the second time, from memory
            hits = JOIN.bases.cache_info().hits
            assert JOIN(base, "https://a.example/x") == ORIGINAL(base, "https://a.example/x")
            assert JOIN(base, "https://a.example/x") == ""
        assert JOIN.bases.cache_info().hits > hits


_PIECES = [
    *("https://", "http://", "HTTPS://", "ftp://", "//", "a.example", "A.example", "b-c.d"),
    *("/", "/path", "?", "#", ";", "&", "=", ":", ":443", "@", "user@", ".", "..", "%", "%2F"),
    *(" ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\x85", "\xa0", "\u2028", "\ufeff"),
    *("\\", "[", "]", "[::1]", "é", "例", "\u2100", "\U0001f600", "(", ")", "<", '"'),
]


@settings(max_examples=500, deadline=None)
@given(
    st.from_regex(parse._JOINS_TO_ITSELF_RE, fullmatch=True),
    st.sampled_from(BASES) | st.text(max_size=30),
)
def test_every_matching_link_is_itself_over_any_base(uri: str, base: str) -> None:
    assert _outcome(JOIN, base, uri) == _outcome(ORIGINAL, base, uri)
    assert _takes_the_plain_path(uri)


@settings(max_examples=800, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=10).map("".join),
    st.sampled_from(BASES) | st.lists(st.sampled_from(_PIECES), max_size=6).map("".join),
)
def test_any_link_over_any_base_is_answered_as_feedparser_does(uri: str, base: str) -> None:
    assert _outcome(JOIN, base, uri) == _outcome(ORIGINAL, base, uri), (base, uri)


def test_not_strings_go_to_feedparser() -> None:
    for base, uri in [
        (None, "https://a.example/x"),
        ("https://b.example/", None),
        (b"https://b.example/", "https://a.example/x"),
        ("https://b.example/", b"https://a.example/x"),
        ("https://b.example/", 42),
    ]:
        assert _outcome(JOIN, base, uri) == _outcome(ORIGINAL, base, uri), (base, uri)


def test_the_memory_of_bases_is_bounded() -> None:
    JOIN.bases.cache_clear()
    long_base = "https://example.com/" + "a" * 1_000_000 + "/"
    assert JOIN(long_base, "https://a.example/x") == "https://a.example/x"
    # A hostile megabyte-long base is not kept: it does not go through the memory at all.
    info = JOIN.bases.cache_info()
    assert (info.hits, info.misses, info.currsize) == (0, 0, 0)
    for n in range(parse._REMEMBERED_BASES + 10):
        assert JOIN(f"https://b.example/{n}", "https://a.example/x") == "https://a.example/x"
    assert 0 < JOIN.bases.cache_info().currsize <= parse._REMEMBERED_BASES


def test_the_corpus_parses_as_with_feedparser_own_join(monkeypatch: pytest.MonkeyPatch) -> None:
    assert_corpus_parses_alike(
        lambda: monkeypatch.setattr(feedparser.mixin, "_urljoin", ORIGINAL), url=URL
    )
