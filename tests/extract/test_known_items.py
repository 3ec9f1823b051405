"""parse_feed with known items: only the new items are parsed, and nothing else changes.

The differential test runs every document of the corpus (feedparser's own test suite,
written by others) three ways: the plain parse, the keyed parse with nothing known, and
keyed parses with some or all of its items known. Whatever is cut, the entries left must
be exactly the plain parse's entries of the items not known, and the feed's own fields
must not move.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from aggregator.errors import ParseError
from aggregator.itemscan import scan_items
from aggregator.model import ParsedFeed
from aggregator.parse import parse_feed
from tests.extract.conftest import DATA
from tests.extract.test_corpus import _files

URL = "https://example.com/feed.xml"
WORDPRESS = (DATA / "interventional_news.xml").read_bytes()


def feed_fields(feed: ParsedFeed) -> ParsedFeed:
    return replace(feed, entries=(), item_keys=(), skipped_items=0)


def check_document(
    body: bytes, url: str = URL, headers: dict[str, str] | None = None
) -> tuple[bool, int]:
    """(whether its items got keys, how many keyed parses really cut something)."""
    try:
        whole = parse_feed(body, url=url, headers=headers)
    except ParseError:
        with pytest.raises(ParseError):
            parse_feed(body, url=url, headers=headers, known_items=frozenset())
        return False, 0
    keyed = parse_feed(body, url=url, headers=headers, known_items=frozenset())
    assert keyed.entries == whole.entries
    assert feed_fields(keyed) == feed_fields(whole)
    assert keyed.skipped_items == 0
    if not keyed.item_keys:
        return False, 0
    assert len(keyed.item_keys) == len(keyed.entries)
    cuts = 0
    all_keys = keyed.item_keys
    for known in {frozenset(all_keys[::2]), frozenset(all_keys[1::2]), frozenset(all_keys)}:
        cut = parse_feed(body, url=url, headers=headers, known_items=known)
        assert cut.item_keys == all_keys
        assert feed_fields(cut) == feed_fields(whole)
        if cut.skipped_items:
            cuts += 1
            left = tuple(e for e, k in zip(whole.entries, all_keys, strict=True) if k not in known)
            assert cut.entries == left
            assert cut.skipped_items == sum(k in known for k in all_keys)
        else:
            assert cut.entries == whole.entries  # parsed whole: nothing lost
    return True, cuts


def test_every_corpus_document_parses_the_same_with_its_items_cut() -> None:
    files = _files()
    if not files:
        pytest.skip("feed corpus not found (set AGGREGATOR_CORPUS)")
    keyed = cuts = 0
    problems = []
    for path in files:
        try:
            got_keys, got_cuts = check_document(path.read_bytes())
        except AssertionError as err:
            problems.append(f"{path.name}: {str(err)[:300]}")
            continue
        keyed += got_keys
        cuts += got_cuts
    assert not problems, "\n".join(problems[:20])
    # Most of the corpus is keyed and cut (it is mostly well-formed one-entry feeds); the
    # rest (not well-formed, UTF-16/32, legacy CJK encodings, no items) is parsed whole.
    assert keyed > 1000, keyed
    assert cuts > 1000, cuts


def test_a_wordpress_feed_that_gained_a_post_parses_only_that_post() -> None:
    before = parse_feed(WORDPRESS, url=URL, known_items=frozenset())
    assert len(before.item_keys) == len(before.entries) == 2
    first = WORDPRESS.index(b"<item>")
    new_post = (
        b"<item><title>A new post</title><link>https://interventionalnews.com/new/</link>"
        b"<pubDate>Sat, 06 Jul 2024 09:00:00 +0000</pubDate>"
        b'<guid isPermaLink="false">https://interventionalnews.com/?p=1</guid>'
        b"<description><![CDATA[<p>New.</p>]]></description></item>\n\t"
    )
    after = (WORDPRESS[:first] + new_post + WORDPRESS[first:]).replace(
        b"Fri, 05 Jul 2024 15:02:11", b"Sat, 06 Jul 2024 09:00:00"
    )
    cut = parse_feed(after, url=URL, known_items=frozenset(before.item_keys))
    assert cut.skipped_items == 2
    assert [e.title.value for e in cut.entries] == ["A new post"]
    assert cut.item_keys[1:] == before.item_keys
    assert cut.entries == parse_feed(after, url=URL).entries[:1]
    check_document(after)


def test_the_same_items_under_another_url_or_context_are_not_known() -> None:
    known = frozenset(parse_feed(WORDPRESS, url=URL, known_items=frozenset()).item_keys)
    assert parse_feed(WORDPRESS, url=URL, known_items=known).skipped_items == 2
    elsewhere = parse_feed(WORDPRESS, url=URL + "?moved", known_items=known)
    assert elsewhere.skipped_items == 0 and len(elsewhere.entries) == 2
    other = parse_feed(WORDPRESS, url=URL, known_items=known, context=b"other settings")
    assert other.skipped_items == 0 and len(other.entries) == 2


def test_when_the_cut_document_reads_differently_the_whole_one_is_parsed() -> None:
    # A top-level element whose local name is "item" but that feedparser does not take
    # for an entry: the scan counts it, feedparser does not.
    body = (
        b'<rss version="2.0" xmlns:x="urn:x"><channel><title>T</title>'
        b"<x:item>not an entry</x:item>"
        b"<item><title>one</title><guid>1</guid></item>"
        b"<item><title>two</title><guid>2</guid></item>"
        b"</channel></rss>"
    )
    scan = scan_items(body, context=URL.encode() + b"\0")
    assert scan is not None and len(scan.items) == 3
    whole = parse_feed(body, url=URL)
    assert len(whole.entries) == 2
    # Counts differ, so no keys are given out...
    assert parse_feed(body, url=URL, known_items=frozenset()).item_keys == ()
    # ...and keys from elsewhere that would cut "one" lead to a whole parse.
    cut = parse_feed(body, url=URL, known_items=frozenset({scan.items[1].key}))
    assert cut.skipped_items == 0 and cut.entries == whole.entries


@pytest.mark.parametrize("title", [b"new &nbsp; one", b"new < one", b"new <b>one</i>"])
def test_a_new_item_that_is_not_well_formed_means_a_whole_parse(title: bytes) -> None:
    head = b'<rss version="2.0"><channel><title>T</title>'
    old = b"<item><title>one</title><guid>1</guid></item>"
    old += b"<item><title>two</title><guid>2</guid></item>"
    before = parse_feed(head + old + b"</channel></rss>", url=URL, known_items=frozenset())
    assert len(before.item_keys) == 2
    body = head + b"<item><title>" + title + b"</title><guid>3</guid></item>" + old
    body += b"</channel></rss>"
    whole = parse_feed(body, url=URL)
    assert whole.bozo and len(whole.entries) == 3
    cut = parse_feed(body, url=URL, known_items=frozenset(before.item_keys))
    assert cut.skipped_items == 0 and cut.entries == whole.entries
    assert cut.item_keys == ()  # not remembered: parsed whole next time too


def test_a_byte_that_changes_the_whole_documents_encoding_means_a_whole_parse() -> None:
    head = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    old = "<item><title>caf\u00e9</title><guid>1</guid></item>".encode()
    before = parse_feed(head + old + b"</channel></rss>", url=URL, known_items=frozenset())
    assert len(before.item_keys) == 1
    # A new item that is valid UTF-8 beside an old one that is not: feedparser reads the
    # whole document as windows-1252, and so must the new item be read.
    bad_old = b"<item><title>caf\xe9 \xe9t\xe9</title><guid>0</guid></item>"
    t1 = head + bad_old + b"</channel></rss>"
    keyed = parse_feed(t1, url=URL, known_items=frozenset())
    assert keyed.item_keys and keyed.entries[0].title.value == "caf\u00e9 \u00e9t\u00e9"
    t2 = head + old + bad_old + b"</channel></rss>"
    whole = parse_feed(t2, url=URL)
    cut = parse_feed(t2, url=URL, known_items=frozenset(keyed.item_keys))
    assert cut.skipped_items == 0 and cut.entries == whole.entries


def test_entries_past_the_limit_are_cut_and_not_keyed() -> None:
    items = b"".join(b"<item><title>%d</title><guid>%d</guid></item>" % (i, i) for i in range(6))
    body = b'<rss version="2.0"><channel><title>T</title>' + items + b"</channel></rss>"
    first = parse_feed(body, url=URL, max_entries=4, known_items=frozenset())
    assert [e.title.value for e in first.entries] == ["0", "1", "2", "3"]
    assert len(first.item_keys) == 4
    assert first.entries == parse_feed(body, url=URL, max_entries=4).entries
    again = parse_feed(body, url=URL, max_entries=4, known_items=frozenset(first.item_keys[:3]))
    assert [e.title.value for e in again.entries] == ["3"]
    assert again.item_keys == first.item_keys and again.skipped_items == 3


def test_a_declared_entity_is_still_refused_when_items_are_cut() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">]>'
        b'<rss version="2.0"><channel><item><title>&a;</title></item></channel></rss>'
    )
    scan = scan_items(body, context=URL.encode() + b"\0")
    assert scan is not None and len(scan.items) == 1
    for known in (frozenset(), frozenset({scan.items[0].key})):
        with pytest.raises(ParseError, match="entities"):
            parse_feed(body, url=URL, known_items=known)


def test_a_document_that_is_no_feed_without_its_items_is_parsed_whole() -> None:
    # feedparser cannot tell this RSS 1.0 version (its namespace is mistyped): with its
    # only item cut out it is "not a feed" at all. Found by the fuzzing harness.
    body = (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="ittp://purl.org/rss/1.0/"><channel rdf:about="http://fuzz.invalid/">'
        b'<title>R</title></channel><item rdf:about="http://fuzz.invalid/1"><title>r1</title>'
        b"<link>http://fuzz.invalid/1</link><description>d</description></item></rdf:RDF>"
    )
    keyed = parse_feed(body, url=URL, known_items=frozenset())
    assert len(keyed.item_keys) == len(keyed.entries) == 1
    again = parse_feed(body, url=URL, known_items=frozenset(keyed.item_keys))
    assert again.skipped_items == 0 and again.entries == keyed.entries
    check_document(body)
