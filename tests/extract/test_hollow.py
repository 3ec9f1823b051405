"""Large CDATA sections kept away from feedparser and put back: the same entries by
construction, and a whole parse whenever that cannot be shown (aggregator/hollow.py).

Every comparison here is with feedparser reading the document itself (``parse_feed``
without ``known_items`` never hollows anything).
"""

from __future__ import annotations

import io
from dataclasses import replace

import feedparser
import pytest

from aggregator import hollow
from aggregator.itemscan import scan_items
from aggregator.model import ParsedFeed
from aggregator.parse import FEEDPARSER_OPTIONS, parse_feed
from tests.extract.conftest import DATA
from tests.extract.test_corpus import _files
from tests.extract.test_known_items import check_document

URL = "https://example.com/feed.xml"
PAD = "<p>" + "padding " * 40 + "</p>"  # over MIN_SECTION_BYTES


def rss(*items: bytes, head: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        b' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        b"<channel><title>T</title><link>https://example.com/</link>"
        + head
        + b"".join(items)
        + b"</channel></rss>"
    )


def item(n: int, inner: bytes) -> bytes:
    return b"<item><title>t%d</title><guid>g%d</guid>%s</item>" % (n, n, inner)


def cdata(name: bytes, text: str) -> bytes:
    return b"<%s><![CDATA[%s]]></%s>" % (name, text.encode(), name)


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many documents were parsed hollowed and put back (the others whole)."""
    count: list[int] = []
    real = hollow.restore

    def counting(parsed: ParsedFeed, body: bytes, h: hollow.Hollow) -> ParsedFeed | None:
        result = real(parsed, body, h)
        if result is not None:
            count.append(len(h.spans))
        return result

    monkeypatch.setattr("aggregator.parse.restore", counting)
    return count


def keyed_equals_plain(body: bytes) -> ParsedFeed:
    keyed = parse_feed(body, url=URL, known_items=frozenset())
    plain = parse_feed(body, url=URL)
    assert keyed.entries == plain.entries
    assert keyed.item_keys and len(keyed.item_keys) == len(keyed.entries)
    return keyed


@pytest.mark.parametrize(
    "text",
    [
        PAD,
        "  \n\t" + PAD + "\n  ",  # stripped
        PAD.replace("padding", "line\r\nend\rmac"),  # expat's line ends
        PAD + " Caf\u00c3\u00a9 cr\u00c3\u00a8me",  # UTF-8 read as Latin-1: undone
        PAD + " caf\u00e9 and \u00c3 alone",  # Latin-1 that is not UTF-8: kept
        PAD + " \u0093quoted\u0094 \u0080 \u009d",  # the windows-1252 range mapped
        PAD + " \U0001f600 \u4e2d\u6587 \ufffd",  # outside Latin-1: kept as is
        PAD + " ]] > ]>",  # no end of section
    ],
)
def test_the_text_put_back_is_feedparsers(text: str, restored: list[int]) -> None:
    body = rss(item(1, cdata(b"description", text) + cdata(b"content:encoded", text + "!")))
    section = text.encode()
    d = feedparser.parse(io.BytesIO(body), **FEEDPARSER_OPTIONS)
    assert hollow.as_feedparser_reads(section) == d.entries[0].summary
    parsed = keyed_equals_plain(body)
    assert restored == [2]
    assert parsed.entries[0].summary.value == d.entries[0].summary
    assert parsed.entries[0].content[0].value == d.entries[0].content[0].value


def test_a_wordpress_feed_is_hollowed_and_reads_the_same(restored: list[int]) -> None:
    body = (DATA / "interventional_news.xml").read_bytes()
    keyed_equals_plain(body)
    assert restored and restored[0] >= 2


@pytest.mark.parametrize(
    "inner",
    [
        # attributes (a mode or a type could change how feedparser reads the text)
        b'<description mode="base64"><![CDATA[' + PAD.encode() + b"]]></description>",
        # text beside the section, or two sections in one element
        b"<description>x<![CDATA[" + PAD.encode() + b"]]></description>",
        b"<description><![CDATA[" + PAD.encode() + b"]]]]><![CDATA[>]]></description>",
        # another element of the same name, elsewhere
        b"<itunes:description><![CDATA[" + PAD.encode() + b"]]></itunes:description>",
        # too short to be worth a token
        b"<description><![CDATA[<p>short</p>]]></description>",
    ],
)
def test_sections_that_are_not_the_whole_plain_content_stay(inner: bytes) -> None:
    body = rss(item(1, inner))
    found = hollow.find_sections(body, [(body.index(b"<item>"), len(body))])
    assert found is None
    keyed_equals_plain(body)


def test_only_sections_inside_items_are_taken() -> None:
    channel = cdata(b"description", PAD)
    body = rss(item(1, cdata(b"description", PAD)), head=channel)
    start = body.index(b"<item>")
    found = hollow.find_sections(body, [(start, body.index(b"</item>") + 7)])
    assert found is not None and len(found.spans) == 1
    assert found.spans[0][0] > start
    keyed_equals_plain(body)


@pytest.mark.parametrize(
    "inner, why",
    [
        # An itunes:summary first: feedparser then reads the description as content of
        # type text/plain, and decides from its text whether it is HTML.
        (
            b"<itunes:summary>s</itunes:summary>" + cdata(b"description", PAD),
            "text/plain",
        ),
        # A character XML forbids: the whole document is not well-formed.
        (cdata(b"description", PAD + "\x0b"), "not XML"),
        # Bytes that are not UTF-8: feedparser reads the document as windows-1252.
        (b"<description><![CDATA[" + PAD.encode() + b"\xe9]]></description>", "encoding"),
    ],
)
def test_when_it_cannot_be_shown_the_same_the_whole_document_is_parsed(
    inner: bytes, why: str, restored: list[int]
) -> None:
    body = rss(item(1, inner), item(2, cdata(b"content:encoded", PAD)))
    keyed = parse_feed(body, url=URL, known_items=frozenset())
    assert keyed.entries == parse_feed(body, url=URL).entries, why
    assert restored == [], why


def test_a_document_holding_its_token_prefix_is_not_hollowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = rss(item(1, cdata(b"description", PAD)))
    assert hollow.find_sections(body, [(0, len(body))]) is not None
    monkeypatch.setattr(hollow, "token_prefix", lambda _: b"padding padding")
    assert hollow.find_sections(body, [(0, len(body))]) is None


def test_restore_refuses_a_token_out_of_place() -> None:
    body = rss(item(1, cdata(b"description", PAD)))
    found = hollow.find_sections(body, [(0, len(body))])
    assert found is not None
    token = found.tokens[0].decode()
    parsed = parse_feed(hollow.edited(body, [], found), url=URL)
    assert parsed.entries[0].summary.value == token
    assert hollow.restore(parsed, body, found) is not None
    entry = parsed.entries[0]
    for moved in (
        replace_entry(parsed, title=entry.summary, summary=entry.title),
        replace_entry(parsed, link=token),
        replace_entry(parsed, summary=type(entry.summary)(token + " and more")),
        replace_entry(parsed, summary=type(entry.summary)(token, "text/plain")),
        replace_entry(parsed, summary=type(entry.summary)("")),  # the token is lost
    ):
        assert hollow.restore(moved, body, found) is None


def replace_entry(parsed: ParsedFeed, **changes: object) -> ParsedFeed:
    return replace(parsed, entries=(replace(parsed.entries[0], **changes),))  # type: ignore[arg-type]


CONTENT_NS = b'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
# Texts that each take a different turn in feedparser's handling of an element's text
# (and some that must make the whole document be parsed instead).
TRICKY = [
    b"<p>plain</p>",
    b"  \n\t<p>spaced</p> \r\n ",
    b"a\r\nb\rc\n\rd",
    "Caf\u00c3\u00a9 cr\u00c3\u00a8me".encode(),
    "caf\u00e9 \u00c3 alone".encode(),
    "\u0093q\u0094 \u0080 \u009d \u0085".encode(),
    "\u00c2\u0093 after the fix".encode(),
    "\U0001f600 \u4e2d \ufffd \u00a0\u2028".encode(),
    b"]] > ]>",
    b"",
    b"   ",
    b"\x0b vertical tab",
    b"\xef\xbf\xbe nonchar",
    b"caf\xe9 latin-1 byte",
    b"<![CDATA[ nested start",
    b"</description></item><item><title>forged</title>",
]


def test_every_corpus_document_reads_the_same_with_sections_hollowed(
    monkeypatch: pytest.MonkeyPatch, restored: list[int]
) -> None:
    """The corpus differential of test_known_items on documents given sections to hollow.

    feedparser's test feeds hold few CDATA descriptions, so every item of every corpus
    document gets one (and a ``content:encoded`` one where the document binds its prefix),
    in turn with each text of TRICKY,
    in whatever encoding the document is in; hollowing every section, however short.
    Whatever the document, the keyed parse must read as feedparser reads it whole.
    """
    files = _files()
    if not files:
        pytest.skip("feed corpus not found (set AGGREGATOR_CORPUS)")
    monkeypatch.setattr(hollow, "MIN_SECTION_BYTES", 0)
    problems = []
    for n, path in enumerate(files):
        body = path.read_bytes()
        scan = scan_items(body, context=URL.encode() + b"\0")
        if scan is None or not scan.items:
            continue
        text = TRICKY[n % len(TRICKY)]
        section = b"<description><![CDATA[" + text + b"]]></description>"
        if CONTENT_NS in body:  # elsewhere the prefix would be unbound
            section += b"<content:encoded><![CDATA[" + text + b"!]]></content:encoded>"
        parts, pos = [], 0
        for span in scan.items:
            head_end = body.index(b">", span.start) + 1
            if body[head_end - 2 : head_end] == b"/>":
                continue
            parts += [body[pos:head_end], section]
            pos = head_end
        given = b"".join([*parts, body[pos:]])
        # Served as UTF-8 (as most feeds are) or with no Content-Type (then feedparser
        # reads a document without an XML declaration as ISO-8859-1: nothing is hollowed).
        headers = {"content-type": "application/rss+xml; charset=utf-8"} if n % 3 else None
        try:
            check_document(given, headers=headers)
        except AssertionError as err:
            problems.append(f"{path.name} with {text!r}: {str(err)[:300]}")
    assert not problems, "\n".join(problems[:20])
    # Most documents (UTF-8, well-formed, text that needs no whole parse) were hollowed.
    assert len(restored) > 500, len(restored)


def only_the_new_item_is_parsed(before: bytes, after: bytes) -> ParsedFeed:
    """``after`` is ``before`` with one item on top: only that item must be parsed."""
    known = frozenset(parse_feed(before, url=URL, known_items=frozenset()).item_keys)
    assert len(known) == 2
    cut = parse_feed(after, url=URL, known_items=known)
    assert cut.skipped_items == 2, "the known items were parsed again"
    assert cut.entries == parse_feed(after, url=URL).entries[:1]
    return cut


def test_a_refused_hollowing_still_skips_the_known_items() -> None:
    # A podcast's items: an itunes:summary before the description makes feedparser read
    # the description as text/plain content, so the hollowed parse is refused; the cut
    # one (without the known items) must still be what is parsed, not the whole document.
    def podcast(n: int) -> bytes:
        return item(n, b"<itunes:summary>s</itunes:summary>" + cdata(b"description", PAD))

    only_the_new_item_is_parsed(
        rss(podcast(1), podcast(2)), rss(podcast(3), podcast(1), podcast(2))
    )


def test_a_document_not_in_utf8_is_cut_but_not_hollowed(restored: list[int]) -> None:
    def latin(n: int) -> bytes:
        return item(n, b"<description><![CDATA[" + PAD.encode() + b" caf\xe9]]></description>")

    def doc(*items: bytes) -> bytes:
        return rss(*items).replace(b'encoding="UTF-8"', b'encoding="iso-8859-1"')

    cut = only_the_new_item_is_parsed(doc(latin(1), latin(2)), doc(latin(3), latin(1), latin(2)))
    assert cut.entries[0].summary.value.endswith("caf\u00e9")
    assert restored == []
