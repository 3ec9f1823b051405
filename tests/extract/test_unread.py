"""Elements nobody reads cut from new items: the same entries by construction, and no cut
wherever that cannot be shown (aggregator/unread.py).

Every comparison is with feedparser reading the document itself (``parse_feed`` without
``known_items`` never cuts anything).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aggregator import parse, unread
from aggregator.itemscan import scan_items
from aggregator.model import ParsedFeed
from aggregator.parse import parse_feed
from tests.extract.conftest import DATA
from tests.extract.test_corpus import _files
from tests.extract.test_hollow import URL, keyed_equals_plain
from tests.extract.test_known_items import check_document

NAMESPACES = (
    b' xmlns:dc="http://purl.org/dc/elements/1.1/"'
    b' xmlns:wfw="http://wellformedweb.org/CommentAPI/"'
    b' xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
    b' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
)
WORDPRESS_CHILDREN = (
    b"<comments>https://example.com/p/#respond</comments>"
    b"<dc:creator><![CDATA[Jane Doe]]></dc:creator>"
    b"<wfw:commentRss>https://example.com/p/feed/</wfw:commentRss>"
    b"<slash:comments>3</slash:comments>"
)


def rss(*items: bytes, root: bytes = NAMESPACES) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"' + root + b">"
        b"<channel><title>T</title><link>https://example.com/</link>"
        + b"".join(items)
        + b"</channel></rss>"
    )


def item(n: int, inner: bytes) -> bytes:
    return (
        b"<item><title>t%d</title><link>https://example.com/%d</link><guid>g%d</guid>%s"
        b"<description>d%d</description></item>" % (n, n, n, inner, n)
    )


def spans(body: bytes, *, categories_unread: bool = False) -> list[bytes]:
    """The bytes of every element ``unread_spans`` would cut from ``body``."""
    scan = scan_items(body)
    assert scan is not None
    found = unread.unread_spans(body, scan.items, categories_unread=categories_unread)
    return [body[s:e] for s, e in found]


@pytest.fixture
def cut(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many spans each cut parse left out (parses of documents without known items:
    every span is an unread element)."""
    count: list[int] = []
    real = parse._parse_cut

    def counting(body: bytes, cuts: list[tuple[int, int]], *args: Any) -> ParsedFeed | None:
        count.append(len(cuts))
        return real(body, cuts, *args)

    monkeypatch.setattr(parse, "_parse_cut", counting)
    return count


def test_a_wordpress_item_loses_its_four_unread_elements(cut: list[int]) -> None:
    body = rss(item(1, WORDPRESS_CHILDREN), item(2, WORDPRESS_CHILDREN))
    assert (
        spans(body)
        == [
            b"<comments>https://example.com/p/#respond</comments>",
            b"<dc:creator><![CDATA[Jane Doe]]></dc:creator>",
            b"<wfw:commentRss>https://example.com/p/feed/</wfw:commentRss>",
            b"<slash:comments>3</slash:comments>",
        ]
        * 2
    )
    parsed = keyed_equals_plain(body)
    assert cut == [8]
    assert [e.link for e in parsed.entries] == ["https://example.com/1", "https://example.com/2"]


def test_the_scan_gives_each_items_parents_and_the_end_of_its_start_tag() -> None:
    body = rss(item(1, b""), b'<item xml:lang="en"/>')
    scan = scan_items(body)
    assert scan is not None
    first, empty = scan.items
    assert first.parents == empty.parents == (b"rss", b"channel")
    assert body[first.start : first.opened] == b"<item>"
    assert body[empty.start : empty.opened] == b'<item xml:lang="en"/>'
    assert empty.opened == empty.end


def test_the_interventional_news_feed_reads_the_same(cut: list[int]) -> None:
    body = (DATA / "interventional_news.xml").read_bytes()
    keyed_equals_plain(body)
    assert cut and cut[0] == body.count(b"<dc:creator>")


def test_other_prefixes_bound_to_the_same_namespaces_are_cut_too() -> None:
    body = rss(
        item(1, b"<d:creator>Jane</d:creator><w:commentRss>u</w:commentRss>"),
        root=b' xmlns:d="http://purl.org/dc/elements/1.1/"'
        b' xmlns:w="http://wellformedweb.org/CommentAPI/"',
    )
    assert spans(body) == [b"<d:creator>Jane</d:creator>", b"<w:commentRss>u</w:commentRss>"]
    keyed_equals_plain(body)


def test_after_a_nested_child_the_elements_are_still_found() -> None:
    media = (
        b'<media:content url="https://example.com/a.jpg" medium="image">'
        b'<media:title type="plain">A <![CDATA[<b>]]></media:title><!-- c --></media:content>'
    )
    body = rss(
        item(1, media + b"<?pi x?><!-- <comments>no</comments> -->" + WORDPRESS_CHILDREN),
        root=NAMESPACES + b' xmlns:media="http://search.yahoo.com/mrss/"',
    )
    assert len(spans(body)) == 4
    keyed_equals_plain(body)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        # attributes: xml:base, xml:lang or a declaration would change what follows
        (rss(item(1, b'<comments xml:lang="en">u</comments>')), "an attribute"),
        (rss(item(1, b"<comments >u</comments>")), "not a bare start tag"),
        # markup or entities in the text (expat checks them; a cut would not)
        (rss(item(1, b"<comments>a &amp; b</comments>")), "an entity"),
        (rss(item(1, b"<comments>a<b/>c</comments>")), "a child element"),
        (rss(item(1, b"<dc:creator> <![CDATA[x]]></dc:creator>")), "text beside a CDATA"),
        # a direct child of the item only: inside another element it is that one's text
        (rss(item(1, b"<source url='u'><comments>u</comments></source>")), "inside a child"),
        (rss(b"<item><title>a<comments>u</comments></title></item>"), "inside the title"),
        (
            rss(item(1, b"<a><b><c>x</c></b></a>" + WORDPRESS_CHILDREN)),
            "after a child three levels deep (the search does not follow it)",
        ),
        # names whose meaning is not certain
        (rss(item(1, b"<comments>u</comments>"), root=NAMESPACES + b' xmlns="urn:x"'), "xmlns"),
        (
            rss(item(1, b'<dc:creator xmlns:dc="urn:other">x</dc:creator>')),
            "a prefix declared again",
        ),
        (
            rss(b'<item xmlns:dc="urn:other"><title>t</title><dc:creator>x</dc:creator></item>'),
            "a prefix declared again on the item",
        ),
        (
            rss(item(1, b"<dc:creator>x</dc:creator>"), root=b' xmlns:dc="urn:not-dc"'),
            "a prefix bound to another namespace",
        ),
        (
            rss(item(1, b"<dc:creator>x</dc:creator>"), root=b"").replace(
                b"<channel>", b'<channel xmlns:dc="http://purl.org/dc/elements/1.1/">'
            ),
            "a prefix declared below the root",
        ),
        # not an RSS 2.0 item: its ancestors could make feedparser read it otherwise
        (
            rss(b"<image><url>u</url>" + item(1, b"<comments>u</comments>") + b"</image>"),
            "an item inside an image",
        ),
    ],
)
def test_what_cannot_be_shown_the_same_is_not_cut(body: bytes, why: str) -> None:
    assert spans(body) == [], why
    try:
        keyed_equals_plain(body)
    except AssertionError:
        # No keys: the document is parsed whole anyway (e.g. not well-formed).
        assert not parse_feed(body, url=URL, known_items=frozenset()).item_keys


@pytest.mark.parametrize(
    "text",
    [b"a\x0bb", b"\x01", b"x\xef\xbf\xbey", b"x\xef\xbf\xbf", b"a]]>b"],
)
def test_text_that_expat_refuses_is_not_cut(text: bytes) -> None:
    """Cutting it would make a document that is not well-formed read as if it were."""
    body = rss(item(1, b"<comments>" + text + b"</comments>" + WORDPRESS_CHILDREN))
    assert spans(body) == []
    whole = parse_feed(body, url=URL)
    assert whole.bozo
    keyed = parse_feed(body, url=URL, known_items=frozenset())
    assert keyed.entries == whole.entries
    assert keyed.bozo


def test_a_document_not_read_as_utf8_is_not_cut(cut: list[int]) -> None:
    body = rss(item(1, WORDPRESS_CHILDREN + b"<category>caf\xe9</category>")).replace(
        b'encoding="UTF-8"', b'encoding="ISO-8859-1"'
    )
    assert len(spans(body)) == 4  # found, but the caller knows the document is Latin-1
    keyed = keyed_equals_plain(body)
    assert keyed.entries[0].categories == ("caf\u00e9",)
    assert cut == []  # parsed whole
    keyed_equals_plain(body.replace(b"ISO-8859-1", b"UTF-8").replace(b"caf\xe9", b"cafe"))
    assert cut == [4]


def test_an_unread_element_is_cut_from_new_items_only() -> None:
    one = item(1, WORDPRESS_CHILDREN)
    two = item(2, WORDPRESS_CHILDREN)
    known = frozenset(parse_feed(rss(one), url=URL, known_items=frozenset()).item_keys)
    after = parse_feed(rss(two, one), url=URL, known_items=known)
    assert after.skipped_items == 1
    assert after.entries == parse_feed(rss(two), url=URL).entries


# Texts for the unread elements of the generated and corpus documents.
TEXTS = [
    b"https://example.com/p/?a=1#c",
    b"",
    b"  \r\n\t ",
    b"<![CDATA[Jane & <b>Doe</b>]]>",
    b"<![CDATA[]]>",
    "caf\u00e9 \u2028 \U0001f600".encode(),
    b"a > b ] ]] >",
    b"a &amp; b",  # not cut: an entity
    b"<![CDATA[a]]>b",  # not cut: text beside the section
]
CHILDREN = [
    b"<category>c</category>",
    b"<category><![CDATA[d]]></category>",
    b'<enclosure url="https://example.com/a.mp3" length="1" type="audio/mpeg"/>',
    b"<pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>",
    b"<author>a@example.com (A)</author>",
    b'<source url="https://example.com/s">S</source>',
    b"<!-- <comments>x</comments> -->",
    b'<media:content url="https://example.com/m.jpg"><media:title>M</media:title></media:content>',
    b"<content:encoded><![CDATA[<p>body</p>]]></content:encoded>",
    b"\n\t\t",
    b"stray text",
]
UNREAD = [b"comments", b"dc:creator", b"wfw:commentRss", b"slash:comments"]


def generated_documents(seed: int, names: list[bytes], most: int) -> Iterator[bytes]:
    """150 documents of items of random children of CHILDREN, with up to ``most`` of
    ``names`` among them as elements of a text of TEXTS, in random places."""
    rng = random.Random(seed)
    root = NAMESPACES + b' xmlns:media="http://search.yahoo.com/mrss/"'
    for _ in range(150):
        items = []
        for n in range(rng.randint(1, 4)):
            parts = rng.sample(CHILDREN, rng.randint(0, 6))
            for name in rng.sample(names, rng.randint(0, most)):
                element = b"<%s>%s</%s>" % (name, rng.choice(TEXTS), name)
                parts.insert(rng.randint(0, len(parts)), element)
            items.append(item(n, b"".join(parts)))
        yield rss(*items, root=root)


def test_generated_items_read_the_same(cut: list[int]) -> None:
    """Items of random children, unread elements among them in random forms and places."""
    for body in generated_documents(7, UNREAD, 4):
        keyed_equals_plain(body)
    assert sum(cut) > 350, sum(cut)  # 457 when written


def items_given(body: bytes, children: list[bytes]) -> bytes | None:
    """``body`` with ``children`` at the start of each of its items (the prefixes of
    NAMESPACES bound on its root when it is ``<rss``); None when it has no item."""
    body = re.sub(rb"<rss\b", b"<rss" + NAMESPACES, body, count=1)
    scan = scan_items(body, context=URL.encode() + b"\0")
    if scan is None or not scan.items:
        return None
    parts, pos = [], 0
    for span in scan.items:
        if span.opened >= span.end:
            continue
        parts += [body[pos : span.opened], *children]
        pos = span.opened
    return b"".join([*parts, body[pos:]])


def corpus_differential(
    cut: list[int],
    children: Callable[[bytes], list[bytes]],
    check: Callable[..., object],
) -> tuple[list[str], int]:
    """``check(document, headers=...)`` on every corpus document whose items were given
    ``children(text)``, a text of TEXTS in turn: (the failures, how many documents had
    spans cut by their first keyed parse, which knows no item)."""
    files = _files()
    if not files:
        pytest.skip("feed corpus not found (set AGGREGATOR_CORPUS)")
    problems = []
    used = 0
    for n, path in enumerate(files):
        text = TEXTS[n % len(TEXTS)]
        given = items_given(path.read_bytes(), children(text))
        if given is None:
            continue
        headers = {"content-type": "application/rss+xml; charset=utf-8"} if n % 3 else None
        cut.clear()
        try:
            check(given, headers=headers)
        except AssertionError as err:
            problems.append(f"{path.name} with {text!r}: {str(err)[:300]}")
        used += bool(cut and cut[0])
    return problems, used


def test_every_corpus_document_reads_the_same_with_unread_elements_cut(cut: list[int]) -> None:
    """The corpus differential of test_known_items, on documents given unread elements.

    feedparser's test feeds hold few WordPress items, so every item of every corpus
    document gets the four elements (the prefixes bound on its root element when it is
    ``<rss``, whatever else it declares), each with a text of TEXTS in turn. Whatever the
    document, the keyed parse must read as feedparser reads it whole.
    """
    problems, used = corpus_differential(
        cut, lambda text: [b"<%s>%s</%s>" % (u, text, u) for u in UNREAD], check_document
    )
    assert not problems, "\n".join(problems[:20])
    # Many documents (RSS 2.0, UTF-8, well-formed) had elements cut: 150 when written.
    assert used > 120, used
