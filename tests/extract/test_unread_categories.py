"""``<category>`` cut from new items when no rule reads the entries' categories
(``parse_feed(categories=False)``, aggregator/unread.py): the same entries but for their
categories, which are then always empty, cut or not; and categories kept whenever a rule
reads them.

Every comparison is with feedparser reading the whole document itself, its entries'
categories then blanked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from aggregator.errors import ParseError
from aggregator.locales import load_labels
from aggregator.model import FeedConfig, ParsedFeed, Rule, SiteSettings
from aggregator.parse import parse_feed
from aggregator.pipeline import extraction_context, parse_and_extract
from tests.extract.conftest import DATA
from tests.extract.test_hollow import URL
from tests.extract.test_known_items import feed_fields
from tests.extract.test_unread import (
    NAMESPACES,
    UNREAD,
    WORDPRESS_CHILDREN,
    corpus_differential,
    cut,  # noqa: F401 (a fixture)
    generated_documents,
    item,
    rss,
    spans,
)

CATEGORIES = b"<category><![CDATA[Venous]]></category><category>Oncology</category>"


def blanked(feed: ParsedFeed) -> tuple[object, ...]:
    return tuple(replace(e, categories=()) for e in feed.entries)


def without_categories_equals_plain(
    body: bytes, headers: dict[str, str] | None = None
) -> ParsedFeed:
    """The keyed parse without categories reads as feedparser reads the whole document,
    but for the categories, which it leaves empty; the plain parse without them too."""
    whole = parse_feed(body, url=URL, headers=headers)
    keyed = parse_feed(body, url=URL, headers=headers, known_items=frozenset(), categories=False)
    assert keyed.entries == blanked(whole)
    assert feed_fields(keyed) == feed_fields(whole)
    plain = parse_feed(body, url=URL, headers=headers, categories=False)
    assert plain.entries == blanked(whole)
    return keyed


def reads_alike(body: bytes, headers: dict[str, str] | None = None) -> None:
    """``without_categories_equals_plain``, or both parses refuse a document that is not a
    feed."""
    try:
        parse_feed(body, url=URL, headers=headers)
    except ParseError:
        with pytest.raises(ParseError):
            parse_feed(body, url=URL, headers=headers, known_items=frozenset(), categories=False)
        return
    without_categories_equals_plain(body, headers)


def test_categories_are_cut_only_when_nobody_reads_them(cut: list[int]) -> None:  # noqa: F811
    body = rss(item(1, CATEGORIES + WORDPRESS_CHILDREN), item(2, CATEGORIES))
    assert spans(body, categories_unread=False) == [
        b"<comments>https://example.com/p/#respond</comments>",
        b"<dc:creator><![CDATA[Jane Doe]]></dc:creator>",
        b"<wfw:commentRss>https://example.com/p/feed/</wfw:commentRss>",
        b"<slash:comments>3</slash:comments>",
    ]
    assert spans(body, categories_unread=True) == [
        b"<category><![CDATA[Venous]]></category>",
        b"<category>Oncology</category>",
        *spans(body, categories_unread=False)[:4],
        b"<category><![CDATA[Venous]]></category>",
        b"<category>Oncology</category>",
    ]
    whole = parse_feed(body, url=URL)
    assert [e.categories for e in whole.entries] == [("Venous", "Oncology")] * 2
    read = parse_feed(body, url=URL, known_items=frozenset())
    assert read.entries == whole.entries  # categories read: only the four are cut
    assert cut == [4]
    keyed = without_categories_equals_plain(body)
    assert cut[1:2] == [8]
    assert [e.categories for e in keyed.entries] == [(), ()]
    assert [e.link for e in keyed.entries] == ["https://example.com/1", "https://example.com/2"]


def test_the_interventional_news_feed_reads_the_same_without_categories(
    cut: list[int],  # noqa: F811
) -> None:
    body = (DATA / "interventional_news.xml").read_bytes()
    without_categories_equals_plain(body)
    assert cut[0] == body.count(b"<dc:creator>") + body.count(b"<category>")


@pytest.mark.parametrize(
    ("inner", "why"),
    [
        (b'<category domain="https://example.com/c">c</category>', "an attribute"),
        (b"<category>a &amp; b</category>", "an entity"),
        (b"<category>a<b/>c</category>", "a child element"),
        (b"<source url='u'><category>c</category></source>", "inside a child"),
    ],
)
def test_a_category_that_cannot_be_shown_unread_is_not_cut_and_still_left_out(
    inner: bytes, why: str
) -> None:
    body = rss(item(1, inner))
    assert spans(body, categories_unread=True) == [], why
    without_categories_equals_plain(body)


def test_no_category_is_cut_under_a_default_namespace() -> None:
    body = rss(item(1, CATEGORIES), root=NAMESPACES + b' xmlns="urn:x"')
    assert spans(body, categories_unread=True) == []


def test_an_atom_entrys_categories_are_left_out_too() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>T</title><id>urn:f</id><updated>2024-03-28T00:00:00Z</updated>"
        b"<entry><title>E</title><id>urn:e</id><link href='https://example.com/e'/>"
        b'<updated>2024-03-28T00:00:00Z</updated><category term="Venous"/></entry></feed>'
    )
    assert parse_feed(body, url=URL).entries[0].categories == ("Venous",)
    assert without_categories_equals_plain(body).entries[0].categories == ()


def test_generated_items_read_the_same_without_categories(cut: list[int]) -> None:  # noqa: F811
    """Items of random children (categories among them), unread elements in random forms
    and places, categories in every text form."""
    for body in generated_documents(11, [*UNREAD, b"category", b"category"], 6):
        without_categories_equals_plain(body)
    assert sum(cut) > 600, sum(cut)  # 741 when written


def test_every_corpus_document_reads_the_same_without_categories(
    cut: list[int],  # noqa: F811
) -> None:
    """The corpus differential of test_unread, each item given categories too: whatever
    the document, the keyed parse without categories reads as feedparser reads it whole,
    but for the categories."""
    problems, used = corpus_differential(
        cut,
        lambda text: [CATEGORIES, *(b"<%s>%s</%s>" % (u, text, u) for u in (b"category", *UNREAD))],
        reads_alike,
    )
    assert not problems, "\n".join(problems[:20])
    assert used > 120, used  # 150 when written


SITE = SiteSettings()
LABELS = load_labels("fr")
NOW = datetime(2026, 11, 20, tzinfo=UTC)
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


def extract(body: bytes, rules: tuple[Rule, ...]) -> list[str]:
    source = FeedConfig(name="F", url=URL)
    context = extraction_context(source, SITE, LABELS, rules)
    done = parse_and_extract(
        body, URL, HEADERS, source, SITE, LABELS, rules, NOW, frozenset(), context
    )
    assert done.error is None
    return [a.source_url for a in done.articles]


@pytest.mark.parametrize(
    ("rules", "kept"),
    [
        ((), ["https://example.com/1", "https://example.com/2"]),
        ((Rule("exclude", "venous"),), ["https://example.com/2"]),  # default fields
        ((Rule("exclude", "venous", fields=("categories",)),), ["https://example.com/2"]),
        ((Rule("include", "oncology", fields=("categories",)),), ["https://example.com/1"]),
        (
            (Rule("exclude", "venous", fields=("title",)),),
            ["https://example.com/1", "https://example.com/2"],
        ),
    ],
)
def test_a_rule_on_categories_still_reads_them(
    rules: tuple[Rule, ...],
    kept: list[str],
    cut: list[int],  # noqa: F811
) -> None:
    body = rss(item(1, CATEGORIES + WORDPRESS_CHILDREN), item(2, WORDPRESS_CHILDREN))
    assert extract(body, rules) == kept
    reads_categories = any("categories" in r.fields for r in rules)
    assert cut == [8 if reads_categories else 10]
