"""canonical_url (identity) and absolute_url (output) against ordinary and hostile input."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.extract import urls
from aggregator.extract.urls import absolute_url, canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("HTTPS://Example.COM/Path", "https://example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#section", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        (
            "https://example.com/a?utm_source=rss&b=2&utm_medium=feed&a=1&fbclid=x",
            "https://example.com/a?b=2&a=1",
        ),
        (
            "https://example.com/?gclid=1&dclid=2&msclkid=3&mc_cid=4&mc_eid=5&igshid=6&_ga=7"
            "&yclid=8&ref_src=9&UTM_Campaign=x&p=45870",
            "https://example.com/?p=45870",
        ),
        ("https://interventionalnews.com/?p=45870", "https://interventionalnews.com/?p=45870"),
        ("https://例え.jp/パス", "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9"),
        ("  https://example.com/a b  ", "https://example.com/a%20b"),
        ("https://user:pw@Example.com/", "https://user:pw@example.com/"),
        # A user name and password are escaped like a path (found by the fuzzing harness).
        (
            "http://<img src=x onerror=alert(1)>@0/",
            "http://%3Cimg%20src=x%20onerror=alert%281%29%3E@0/",
        ),
        ('https://a b:c"d@example.com/', "https://a%20b:c%22d@example.com/"),
        ("https://a@b@example.com/", "https://a%40b@example.com/"),
        ("https://us%20er:(pw)@example.com/", "https://us%20er:%28pw%29@example.com/"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        # A host is a name of letters, digits, "-", "_" and "." or an IPv6 literal.
        ("https://my_host.Example/", "https://my_host.example/"),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
        ("https://a)b.example/x.jpg", ""),
        ("https://a(b.example/", ""),
        ("https://a+b.example/", ""),
        ("https://a!b.example/", ""),
        ("ftp://example.com/a", ""),
        ("javascript:alert(1)", ""),
        ("mailto:a@example.com", ""),
        ("/relative/path", ""),
        ("", ""),
        ("http://", ""),
        ("http://[::1", ""),
        ("http://example.com:99999/", ""),
        ("http://exa mple.com/", ""),
        ("https://" + "a" * 3000 + ".com/", ""),
        ("\x00\x01garbage", ""),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/img/a.jpg", "https://example.com/post/1", "https://example.com/img/a.jpg"),
        ("a.jpg", "https://example.com/post/", "https://example.com/post/a.jpg"),
        ("//cdn.example.com/a.jpg", "http://example.com/", "http://cdn.example.com/a.jpg"),
        ("//cdn.example.com/a.jpg", "", "https://cdn.example.com/a.jpg"),
        ("https://example.com/a(1).jpg", "", "https://example.com/a%281%29.jpg"),
        ("https://example.com/a.jpg?x=1&copy=2", "", "https://example.com/a.jpg?x=1&copy=2"),
        ("https://example.com/a.jpg#frag", "", "https://example.com/a.jpg#frag"),
        ("a.jpg", "", ""),
        ("a.jpg", "file:///etc/", ""),
        ("javascript:alert(1)", "https://example.com/", ""),
        ("JaVaScRiPt:alert(1)", "https://example.com/", ""),
        ("jav&#x09;ascript:alert(1)", "https://example.com/", ""),
        ("jav&#x0A;ascript:alert(1)", "https://example.com/", ""),
        ("jav\tascript:alert(1)", "https://example.com/", ""),
        ("jav\nascript:alert(1)", "https://example.com/", ""),
        ("&#106;avascript:alert(1)", "https://example.com/", ""),
        ("&#x6A;avascript:alert(1)", "https://example.com/", ""),
        ("javascript&colon;alert(1)", "https://example.com/", ""),
        ("&#0000106&#0000097vascript:alert(1)", "https://example.com/", ""),
        (" \x01javascript:alert(1)", "https://example.com/", ""),
        ("java\x00script:alert(1)", "https://example.com/", ""),
        ("data:image/png;base64,iVBORw0KGgo=", "https://example.com/", ""),
        ("data:image/svg+xml,<svg onload=alert(1)>", "https://example.com/", ""),
        ("vbscript:msgbox(1)", "https://example.com/", ""),
        ("https://example.com/" + "a" * 2100, "", ""),
    ],
)
def test_absolute_url(url: str, base: str, expected: str) -> None:
    assert absolute_url(url, base) == expected


# --- The plain-URL path (``urls._plain``): the same answers as the whole way -------------


def _plain_path_off() -> Any:
    """A context in which ``canonical_url`` and ``absolute_url`` go the whole way."""
    return mock.patch.object(urls, "_plain", lambda url: None)


def _whole_way(function: Callable[..., str], *args: Any) -> str:
    """``function``'s answer with the plain-URL path turned off."""
    with _plain_path_off():
        return function(*args)


def _answers(urls_: list[Any], base: str) -> list[tuple[str, str]]:
    return [(canonical_url(url), absolute_url(url, base)) for url in urls_]


def _assert_as_the_whole_way(*urls_: Any, base: str = "https://feed.example/news/") -> None:
    answers = _answers(list(urls_), base)
    with _plain_path_off():
        expected = _answers(list(urls_), base)
    for url, ours, theirs in zip(urls_, answers, expected, strict=True):
        assert ours == theirs, url


@pytest.mark.parametrize(
    "url",
    [
        "https://interventionalnews.com/some-article/",
        "https://s1-site00004.example/wp-content/uploads/2026/08/photo-4-43.jpg",
        "https://site.example/2026/08/04/grand-bénévoles-présente-1-45/",
        "http://127.0.0.1/feed/a%20b/",
    ],
)
def test_ordinary_links_take_the_plain_path(url: str) -> None:
    assert urls._plain(url) is not None
    _assert_as_the_whole_way(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/x&amp;y",
        "https://a.example/&#106;s",
        "https://a.example/a?b=1&utm_source=x",
        "https://a.example/a#b",
        "https://A.example/x",
        "HTTPS://a.example/x",
        "https://a.example:443/x",
        "https://a.example:8080/x",
        "https://a.example./x",
        "https://u:p@a.example/x",
        "https://a.example",
        " https://a.example/x",
        "https://a.example/x\xa0",
        "https://a.example/a b",
        "https://a.example/a\tb",
        "https://a.example/a\\b",
        "https://a.example/(x)",
        "https://a.example/" + "x" * 3000,
        "https://例え.jp/x",
    ],
)
def test_near_misses_are_answered_as_the_whole_way(url: str) -> None:
    _assert_as_the_whole_way(url)


def _assert_plain_as_the_whole_way(url: str) -> bool:
    """Whether the plain path answers ``url``; if it does, as ``_normalise`` after
    ``_prepare`` answers it (what both functions do with an http(s) URL otherwise)."""
    plain = urls._plain(url)
    if plain is None:
        return False  # the whole way itself
    assert urls._prepare(url) == url, url
    assert plain == urls._normalise(url, drop_tracking=True), url
    assert plain == urls._normalise(url, drop_tracking=False), url
    return True


@settings(max_examples=400, deadline=None)
@given(st.from_regex(urls._PLAIN_URL_RE, fullmatch=True))
def test_every_plain_url_is_answered_as_the_whole_way(url: str) -> None:
    assert _assert_plain_as_the_whole_way(url)
    _assert_as_the_whole_way(url)


_PIECES = [
    *("https://", "http://", "HTTPS://", "ftp://", "//", "a.example", "A.example", "b-c.d"),
    *("/", "/path", "?", "#", "&", "&amp;", "&#106;", ":", ":443", ":8080", "@", "user@"),
    *(".", "..", "%", "%2F", "%zz", " ", "\t", "\n", "\x00", "\x85", "\xa0", "\u2028"),
    *("\ufeff", "\\", "[", "]", "[::1]", "é", "例", "\U0001f600", "\ud800", "(", ")", "<", '"'),
]


def _outcome(function: Callable[..., str], *args: Any) -> tuple[str, str]:
    try:
        return "value", function(*args)
    except UnicodeEncodeError as err:  # a lone surrogate reaching quote: the same either way
        return "error", type(err).__name__


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=10).map("".join))
def test_any_url_is_answered_as_the_whole_way(url: str) -> None:
    for function, args in ((canonical_url, (url,)), (absolute_url, (url, "https://b.c/"))):
        assert _outcome(function, *args) == _outcome(_whole_way, function, *args), url


def test_every_code_point_in_a_path_or_a_host_is_answered_as_the_whole_way() -> None:
    # Every code point of the Basic Multilingual Plane (where every character the plain
    # path refuses lies) and every 97th beyond it; lone surrogates aside, which are not text
    # a feed can carry (and which quote cannot encode).
    codes = [
        c for c in (*range(0x10000), *range(0x10000, 0x110000, 97)) if not 0xD800 <= c <= 0xDFFF
    ]
    refused = {
        c for c in codes if not _assert_plain_as_the_whole_way(f"https://a.example/x{chr(c)}y")
    }
    assert refused == {
        *range(0x21),  # controls and the space
        *range(0x7F, 0xA1),  # DEL, the C1 controls, the no-break space
        *map(ord, "?#&\\\u2028\u2029\ufeff"),
    }
    hosts = {
        c for c in codes[:0x3000] if _assert_plain_as_the_whole_way(f"https://a{chr(c)}b.example/x")
    }
    assert hosts == {
        *map(ord, "-./"),  # "/" ends the host ("a") and begins the path ("/b.example/x")
        *range(ord("0"), ord("9") + 1),
        *range(ord("a"), ord("z") + 1),
    }
    schemes = {
        c for c in codes[:0x3000] if _assert_plain_as_the_whole_way(f"http{chr(c)}://a.example/x")
    }
    assert schemes == {ord("s")}


# What an answer may hold: RFC 3986's unreserved and reserved characters and "%", less the
# parentheses (escaped so that a URL cannot end a Markdown link early).
_URL_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~/:?#[]@!$&'*+,;=%")


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_every_answer_is_one_token_of_url_characters(url: str) -> None:
    for kind, answer in (_outcome(canonical_url, url), _outcome(absolute_url, url, "https://b.c/")):
        if kind == "value":
            assert set(answer) <= _URL_CHARACTERS, (url, answer)


def test_not_a_string_is_answered_as_the_whole_way() -> None:
    _assert_as_the_whole_way(None, 42, b"https://a.example/x", ["https://a.example/x"])
