"""feedparser's element names remembered (``aggregator.parse._remembered_element_names``).

The names must be the ones feedparser's own ``startElementNS`` and ``endElementNS`` give:
shown tag by tag on a real parser (known namespaces under their own and other prefixes,
in upper case, as a default namespace, a namespace feedparser does not know, the
backend.userland variants, MathML and SVG roots, attributes), and on the whole corpus
(feedparser's test suite), with the aggregator's options and with feedparser's defaults.
"""

from __future__ import annotations

import io
import xml.sax.xmlreader
from collections.abc import Callable, Iterator
from typing import Any

import feedparser
import feedparser.api
import pytest

from aggregator import parse
from tests.extract.test_feedparser_dict import BOTH_OPTIONS, _normal, assert_corpus_parses_the_same

STRICT = feedparser.api.StrictFeedParser


@pytest.fixture
def feedparser_own(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call it to put feedparser's own methods back (until the test ends)."""

    def put_back() -> None:
        for name in ("startElementNS", "endElementNS"):
            monkeypatch.setattr(STRICT, name, getattr(STRICT, name).original)

    yield put_back


def recording() -> Any:
    """feedparser's strict parser (its own class: a subclass's instance is not
    remembered), recording the tags its SAX methods name in ``tags``."""
    parser = STRICT("https://example.com/", None, "utf-8")
    parser.tags = []
    parser.unknown_starttag = lambda tag, attrs: parser.tags.append(("start", tag, sorted(attrs)))
    parser.unknown_endtag = lambda tag: parser.tags.append(("end", tag))
    return parser


DECLARED = [
    (None, "http://www.w3.org/2005/Atom"),
    ("dc", "http://purl.org/dc/elements/1.1/"),
    ("DUBLIN", "HTTP://PURL.ORG/DC/ELEMENTS/1.1/"),  # known, in upper case, another prefix
    ("a", "http://www.w3.org/2005/Atom"),
    ("x", "http://example.com/unknown"),
    ("y", "http://example.com/unknown"),
    ("bu", "http://backend.userland.com/rss2"),
    ("m", "http://www.w3.org/1998/Math/MathML"),
    ("s", "http://www.w3.org/2000/svg"),
    ("xl", "http://www.w3.org/1999/xlink"),
]

ELEMENTS = [
    (None, "Title"),
    ("http://www.w3.org/2005/Atom", "Entry"),
    ("http://purl.org/dc/elements/1.1/", "Creator"),
    ("HTTP://PURL.ORG/DC/ELEMENTS/1.1/", "creator"),
    ("http://example.com/unknown", "Thing"),
    ("http://example.com/never-declared", "thing"),
    ("http://backend.userland.com/rss2", "Item"),
    ("http://backend.userland.com/rss", "item"),
    ("http://www.w3.org/1998/Math/MathML", "math"),
    ("http://www.w3.org/2000/svg", "svg"),
    ("http://www.w3.org/2000/svg", "rect"),
    ("http://purl.org/rss/1.0/modules/content/", "encoded"),  # known, never declared
]

ATTRIBUTES = [
    {},
    {(None, "Type"): "text/HTML", (None, "href"): "/x"},
    {("http://www.w3.org/1999/xlink", "href"): "/y", (None, "rel"): "Alternate"},
    {("http://example.com/unknown", "a"): "1"},
]


def _tags(parser: Any) -> list[tuple[Any, ...]]:
    for prefix, uri in DECLARED:
        parser.startPrefixMapping(prefix, uri)
    for name in ELEMENTS:
        for values in ATTRIBUTES:
            qnames = {key: key[1] for key in values}
            attrs = xml.sax.xmlreader.AttributesNSImpl(dict(values), qnames)
            parser.startElementNS(name, None, attrs)
            parser.endElementNS(name, None)
    return parser.tags


def test_installed() -> None:
    for name in ("startElementNS", "endElementNS"):
        method = getattr(STRICT, name)
        assert method.original.__module__ == "feedparser.parsers.strict"
        assert method is not method.original


def test_each_tag_is_named_as_feedparser_names_it(feedparser_own: Callable[[], None]) -> None:
    for method in (STRICT.startElementNS, STRICT.endElementNS):
        method.names.clear()
    remembered = _tags(recording())
    assert (None, "Title") in STRICT.startElementNS.names
    again = _tags(recording())  # now from memory
    feedparser_own()
    own = _tags(recording())
    assert remembered == again == own
    assert ("start", "dc:creator", []) in own
    assert ("start", "m:math", [("xmlns", "http://www.w3.org/1998/Math/MathML")]) in own
    assert ("end", "x:thing") in own  # the unknown namespace's first prefix
    assert ("end", "item") in own  # a backend.userland variant
    assert ("start", "title", [("xmlns:xl", "http://www.w3.org/1999/xlink")]) in own
    assert len(own) == 2 * len(ELEMENTS) * len(ATTRIBUTES)


def test_a_subclass_and_a_qualified_name_go_to_feedparser() -> None:
    class Sub(STRICT):  # type: ignore[misc, valid-type]
        pass

    parser = Sub("https://example.com/", None, "utf-8")
    parser.tags = []
    parser.unknown_starttag = lambda tag, attrs: parser.tags.append(("start", tag, attrs))
    parser.unknown_endtag = lambda tag: parser.tags.append(("end", tag))
    parser.startElementNS((None, "Title"), None, xml.sax.xmlreader.AttributesNSImpl({}, {}))
    parser.endElementNS((None, "Title"), "Title")
    assert parser.tags == [("start", "title", []), ("end", "title")]


def test_the_names_kept_are_bounded() -> None:
    names = "".join(f"<e{i}>x</e{i}>" for i in range(3 * parse._REMEMBERED_NAMES))
    long_name = "z" * (parse._REMEMBERED_NAME_CHARS + 1)
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><{long_name}/>{names}'
    body += "<item><title>t</title></item></channel></rss>"
    result = feedparser.parse(io.BytesIO(body.encode()), **parse.FEEDPARSER_OPTIONS)
    assert result["entries"][0]["title"] == "t"
    for method in (STRICT.startElementNS, STRICT.endElementNS):
        assert len(method.names) <= parse._REMEMBERED_NAMES
        assert (None, long_name) not in method.names


NAMESPACED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:DC="HTTP://PURL.ORG/DC/ELEMENTS/1.1/" xmlns:x="http://example.com/x"
  xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>T</title><atom:link rel="self" href="https://example.com/feed"/>
<item><title>A</title><DC:Creator>Ann</DC:Creator><x:Extra>e</x:Extra>
<content:encoded><![CDATA[<p>c</p>]]></content:encoded></item>
</channel></rss>"""


@BOTH_OPTIONS
def test_a_namespaced_feed_parses_the_same(
    options: dict[str, Any], feedparser_own: Callable[[], None]
) -> None:
    def parsed() -> Any:
        return _normal(feedparser.parse(io.BytesIO(NAMESPACED), **options))

    remembered = parsed()
    feedparser_own()
    own = parsed()
    assert remembered == own
    assert own["entries"][0]["author"] == "Ann"
    assert own["entries"][0]["x_extra"] == "e"


@BOTH_OPTIONS
def test_the_corpus_parses_as_with_feedparser_own_names(
    options: dict[str, Any], feedparser_own: Callable[[], None]
) -> None:
    assert_corpus_parses_the_same(options, feedparser_own)
