"""An entry's enclosures, read from its own ``links``: as feedparser's ``enclosures`` key
gives them on every corpus document, and without its ``TypeError`` when an element named
``links`` has made that list a text (which lost the whole feed: the fuzzer's
``tests/hostile/crashes/crash-721adbeeff52d5b8.xml``)."""

from __future__ import annotations

import io
import warnings
from typing import Any

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.model import Enclosure
from aggregator.parse import FEEDPARSER_OPTIONS, _dicts, _enclosures, _int, _str, parse_feed
from tests.extract.test_corpus import _files

URL = "https://a.example/feed/"


def _rss(item: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>'
        f"<link>https://a.example/</link><item>{item}</item></channel></rss>"
    ).encode()


def test_enclosures_are_read() -> None:
    body = _rss(
        "<title>t</title><link>https://a.example/1</link>"
        '<enclosure url="https://a.example/a.mp3" length="12" type="audio/mpeg"/>'
        '<enclosure url="https://a.example/b.jpg" type="image/jpeg"/>'
        '<enclosure type="image/jpeg"/>'  # no URL: nothing to use
    )
    (entry,) = parse_feed(body, url=URL).entries
    assert entry.enclosures == (
        Enclosure("https://a.example/a.mp3", "audio/mpeg", 12),
        Enclosure("https://a.example/b.jpg", "image/jpeg", None),
    )


@pytest.mark.parametrize(
    "item",
    [
        "<links>x</links><enclosure url='https://a.example/i.jpg' type='image/jpeg'/>",
        "<enclosure url='https://a.example/i.jpg' type='image/jpeg'/><links/>",
        "<links><a>1</a></links>",
    ],
)
def test_an_element_named_links_loses_nothing_but_enclosures(item: str) -> None:
    body = _rss(f"<title>kept</title><link>https://a.example/1</link>{item}")
    (entry,) = parse_feed(body, url=URL).entries
    assert (entry.title.value, entry.link) == ("kept", "https://a.example/1")
    assert entry.enclosures == ()


def _feedparser_enclosures(entry: Any) -> tuple[Enclosure, ...] | None:
    """What the aggregator read before: feedparser's ``enclosures``, or None if it raises."""
    try:
        found = entry.get("enclosures")
    except Exception:  # the case this module is about
        return None
    return tuple(
        Enclosure(
            url=_str(x.get("href")), mime_type=_str(x.get("type")), length=_int(x.get("length"))
        )
        for x in _dicts(found)
        if x.get("href")
    )


def _entries(body: bytes) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = feedparser.parse(
            io.BytesIO(body), response_headers={"content-location": URL}, **FEEDPARSER_OPTIONS
        )
    return list(result.get("entries") or ())


def test_the_corpus_gives_feedparser_enclosures() -> None:
    files = _files()
    if not files:
        pytest.skip("feed corpus not found (set AGGREGATOR_CORPUS)")
    compared = with_enclosures = 0
    for path in files:
        for entry in _entries(path.read_bytes()):
            theirs = _feedparser_enclosures(entry)
            if theirs is None:
                continue
            assert _enclosures(entry) == theirs, path
            compared += 1
            with_enclosures += bool(theirs)
    assert compared > 1000 and with_enclosures > 20  # 1,217 and 23 in the shared corpus


_RSS_PARTS = [
    '<enclosure url="https://a.example/a.mp3" length="12" type="audio/mpeg"/>',
    '<enclosure url="https://a.example/b.jpg"/>',
    '<enclosure length="x" type="image/png"/>',
    '<enclosure url="" type="image/png"/>',
    "<link>https://a.example/1</link>",
    '<atom:link rel="enclosure" href="https://a.example/c.ogg" type="audio/ogg"/>',
    '<atom:link rel="related" href="https://a.example/r"/>',
    '<atom:link href="https://a.example/alt"/>',
    '<media:content url="https://a.example/m.jpg" medium="image"/>',
]
_ATOM_PARTS = [
    '<link rel="enclosure" href="https://a.example/a.mp3" length="12" type="audio/mpeg"/>',
    '<link rel="enclosure" href="c.ogg"/>',
    '<link rel="enclosure"/>',
    '<link rel="alternate" href="https://a.example/1"/>',
    '<link href="https://a.example/2"/>',
    '<link rel="license" href="https://a.example/l"/>',
    '<link rel="ENCLOSURE" href="https://a.example/upper.mp3"/>',
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(_RSS_PARTS), max_size=6),
    st.lists(st.sampled_from(_ATOM_PARTS), max_size=6),
)
def test_generated_entries_give_feedparser_enclosures(rss: list[str], atom: list[str]) -> None:
    rss_body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"'
        ' xmlns:media="http://search.yahoo.com/mrss/"><channel><title>F</title>'
        f"<item><title>t</title>{''.join(rss)}</item></channel></rss>"
    ).encode()
    atom_body = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>'
        f"<entry><title>t</title><id>urn:x</id>{''.join(atom)}</entry></feed>"
    ).encode()
    for body in (rss_body, atom_body):
        (entry,) = _entries(body)
        assert _enclosures(entry) == _feedparser_enclosures(entry)
