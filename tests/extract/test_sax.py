"""feedparser's XML parser hands each run of text over in one call (``aggregator.sax``).

These tests show that feedparser gets that parser, that it does join the pieces expat
would hand over one by one, and that feedparser's results are the same as with the
standard library's driver: on documents made to split text every way expat does
(lines, references, CDATA sections, comments, runs longer than the buffer, a document
that is not well-formed), and on the whole corpus (feedparser's test suite), with the
aggregator's options and with feedparser's defaults.
"""

from __future__ import annotations

import io
import xml.sax
import xml.sax.expatreader
import xml.sax.handler
from collections.abc import Callable, Iterator
from typing import Any

import feedparser
import feedparser.api
import pytest

from aggregator import sax
from aggregator.parse import parse_feed
from tests.extract.test_feedparser_dict import BOTH_OPTIONS, _normal, assert_corpus_parses_the_same


@pytest.fixture
def standard_driver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call it to have feedparser read with the standard library's expat driver (until the
    test ends): named outright, since feedparser's own first choice is libxml2's."""

    def restore() -> None:
        monkeypatch.setattr(feedparser.api, "PREFERRED_XML_PARSERS", ["xml.sax.expatreader"])

    yield restore


class Pieces(xml.sax.handler.ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []

    def characters(self, content: str) -> None:
        self.pieces.append(content)


def pieces(parser: xml.sax.xmlreader.XMLReader, body: bytes) -> list[str]:
    handler = Pieces()
    parser.setContentHandler(handler)
    source = xml.sax.xmlreader.InputSource()
    source.setByteStream(io.BytesIO(body))
    parser.parse(source)
    return handler.pieces


TEXT = b"<a>one\ntwo\r\nthree &amp; &#233;&lt;p&gt; <![CDATA[four\n<b>]]> five<!-- c --> six</a>"


def test_feedparser_gets_the_buffered_driver() -> None:
    assert feedparser.api.PREFERRED_XML_PARSERS == ["aggregator.sax"]
    parser = xml.sax.make_parser(feedparser.api.PREFERRED_XML_PARSERS)
    assert type(parser) is sax.BufferedExpatParser
    assert isinstance(parser, xml.sax.expatreader.ExpatParser)


def test_a_run_of_text_comes_in_one_piece() -> None:
    expected = "one\ntwo\nthree & \xe9<p> four\n<b> five six"
    plain = pieces(xml.sax.expatreader.create_parser(), TEXT)
    assert "".join(plain) == expected
    assert len(plain) > 10
    assert pieces(sax.create_parser(), TEXT) == [expected]


def test_a_run_longer_than_the_buffer_comes_in_as_few_pieces() -> None:
    text = "x\n" * sax.BUFFER_SIZE  # two buffers' worth, in 131,072 lines
    got = pieces(sax.create_parser(), f"<a>{text}</a>".encode())
    assert "".join(got) == text
    assert len(got) <= 4


def test_each_parse_starts_buffered() -> None:
    parser = sax.create_parser()
    for _ in range(2):  # the driver makes a new expat parser for every document
        assert pieces(parser, TEXT) == ["one\ntwo\nthree & \xe9<p> four\n<b> five six"]


def _rss(inner: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>T &amp; t</title><link>https://example.com/</link>
<description>line one
line two &#x2014; &lt;b&gt;</description>
{inner}
</channel></rss>""".encode()


def _atom(inner: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">a &lt;b&gt;x&lt;/b&gt;
y</title><id>urn:f</id><updated>2026-11-30T10:00:00Z</updated>
{inner}
</feed>""".encode()


DOCUMENTS = {
    "rss lines and references": _rss(
        "<item><title>A\r\nB &amp; C &#233; <![CDATA[<i>D</i>]]></title>"
        "<link>https://example.com/1</link><guid>g1</guid>"
        "<description>&lt;p&gt;one&lt;/p&gt;\n&lt;p&gt;two<!-- c -->three&lt;/p&gt;</description>"
        "<content:encoded><![CDATA[<p>x</p>\n<p>y</p>]]><![CDATA[<p>z</p>]]>\n</content:encoded>"
        "<category>a\nb</category><category> <![CDATA[c]]> </category></item>"
    ),
    "rss text longer than the buffer": _rss(
        "<item><title>t</title><guid>g2</guid><description>"
        + "&lt;p&gt;word &amp; word\n" * 20_000
        + "</description></item>"
    ),
    "atom xhtml content": _atom(
        "<entry><id>urn:1</id><title>e</title><updated>2026-11-30T10:00:00Z</updated>"
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">a &amp; b\n'
        "<p>c &lt; d <![CDATA[e < f]]></p>\ng</div></content>"
        '<summary type="html">&lt;p&gt;s&lt;/p&gt;\r\n&lt;p&gt;t&lt;/p&gt;</summary></entry>'
    ),
    "atom base64 content": _atom(
        "<entry><id>urn:2</id><title>b</title><updated>2026-11-30T10:00:00Z</updated>"
        '<content type="text/plain" mode="base64">aGVs\nbG8g\nd29y\nbGQ=</content></entry>'
    ),
    "not well-formed after the text": _rss(
        "<item><title>one\ntwo &amp; three</title><guid>g3</guid>"
        "<description>a\nb &amp; c</description></item><item><title>x & y</title></item>"
    ),
}


def _parse_all(options: dict[str, Any]) -> dict[str, Any]:
    results = {}
    for name, body in DOCUMENTS.items():
        result = feedparser.parse(
            io.BytesIO(body),
            response_headers={"content-location": "https://example.com/feed.xml"},
            **options,
        )
        results[name] = _normal(result)
    return results


@BOTH_OPTIONS
def test_feedparser_reads_split_texts_as_with_the_standard_driver(
    options: dict[str, Any], standard_driver: Callable[[], None]
) -> None:
    buffered = _parse_all(options)
    standard_driver()
    standard = _parse_all(options)
    assert buffered == standard
    assert buffered["not well-formed after the text"]["bozo"]
    long_text = buffered["rss text longer than the buffer"]["entries"][0]["summary"]
    assert len(long_text) > 4 * sax.BUFFER_SIZE


def test_a_parsed_feed_is_the_same(standard_driver: Callable[[], None]) -> None:
    url = "https://example.com/feed.xml"
    buffered = {name: parse_feed(body, url=url) for name, body in DOCUMENTS.items()}
    standard_driver()
    assert buffered == {name: parse_feed(body, url=url) for name, body in DOCUMENTS.items()}


@BOTH_OPTIONS
def test_the_corpus_parses_as_with_the_standard_driver(
    options: dict[str, Any], standard_driver: Callable[[], None]
) -> None:
    assert_corpus_parses_the_same(options, standard_driver)
