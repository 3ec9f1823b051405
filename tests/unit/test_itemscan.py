"""itemscan: a document's items found in its bytes, and keys that change with their frame."""

from __future__ import annotations

import time

import pytest

from aggregator.itemscan import ItemScan, scan_items, without

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>T</title>
  <!-- <item>not an item</item> -->
  <item><title>one</title><description><![CDATA[<p>a</p></item><item>]]></description></item>
  <item><title>two</title><?pi <item> ?><content:encoded><![CDATA[x]]></content:encoded></item>
  <item/>
</channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
  <title>T</title>
  <entry><title type="html">&lt;b&gt;one&lt;/b&gt;</title><id>1</id>
    <source><title>S</title></source></entry>
  <entry xml:base="https://b.example/"><title>two</title><id>2</id></entry>
</feed>
"""


def spans(body: bytes, **kw: object) -> list[bytes]:
    scan = scan_items(body, **kw)  # type: ignore[arg-type]
    assert scan is not None
    return [body[s.start : s.end] for s in scan.items]


def test_rss_items_are_found_past_comments_cdata_and_processing_instructions() -> None:
    assert spans(RSS) == [
        b"<item><title>one</title><description><![CDATA[<p>a</p></item><item>]]>"
        b"</description></item>",
        b"<item><title>two</title><?pi <item> ?><content:encoded><![CDATA[x]]>"
        b"</content:encoded></item>",
        b"<item/>",
    ]


def test_atom_entries_are_found_with_their_attributes() -> None:
    found = spans(ATOM)
    assert len(found) == 2
    assert found[0].startswith(b"<entry><title") and found[0].endswith(b"</source></entry>")
    assert found[1].startswith(b'<entry xml:base="https://b.example/">')


def test_an_element_of_another_name_inside_an_item_belongs_to_it() -> None:
    body = (
        b'<rss><channel><item><x:item xmlns:x="urn:x">in</x:item><entry>n</entry></item>'
        b"</channel></rss>"
    )
    assert spans(body) == [body[len(b"<rss><channel>") : -len(b"</channel></rss>")]]
    # One of the item's own name inside it: not followed, the document is parsed whole.
    assert scan_items(b"<rss><channel><item><item>n</item></item></channel></rss>") is None


def test_attribute_values_may_hold_a_closing_bracket() -> None:
    body = b"<rss><channel><item><enclosure url=\"a?b>c\" type='x>y'/></item></channel></rss>"
    assert len(spans(body)) == 1


def test_without_leaves_out_the_chosen_items() -> None:
    scan = scan_items(RSS)
    assert scan is not None
    cut = without(RSS, [scan.items[0], scan.items[2]])
    assert b"<title>one</title>" not in cut and b"<item/>" not in cut
    assert b"<title>two</title>" in cut and b"<!-- <item>not an item</item> -->" in cut
    assert without(RSS, []) == RSS


def keys(body: bytes, **kw: object) -> list[bytes]:
    scan = scan_items(body, **kw)  # type: ignore[arg-type]
    assert scan is not None
    return [s.key for s in scan.items]


def test_the_same_item_elsewhere_in_a_changed_document_keeps_its_key() -> None:
    head = b'<rss version="2.0"><channel><lastBuildDate>%s</lastBuildDate>'
    one = b"<item><title>one</title></item>"
    two = b"<item><title>two</title></item>"
    before = head % b"Mon" + one + b"</channel></rss>"
    after = head % b"Tue" + two + b"\n  " + one + b"</channel></rss>"
    assert keys(before)[0] == keys(after)[1]
    assert keys(after)[0] != keys(after)[1]
    assert len(keys(before)[0]) == 16


@pytest.mark.parametrize(
    "changed",
    [
        # the namespace of a prefix the item uses
        b'<rss xmlns:dc="urn:other"><channel><item><dc:creator>A</dc:creator></item>'
        b"</channel></rss>",
        # a base URL or a language on an ancestor
        b'<rss xmlns:dc="urn:dc"><channel xml:base="https://else.example/"><item>'
        b"<dc:creator>A</dc:creator></item></channel></rss>",
        # the declared encoding
        b'<?xml version="1.0" encoding="iso-8859-1"?><rss xmlns:dc="urn:dc"><channel><item>'
        b"<dc:creator>A</dc:creator></item></channel></rss>",
    ],
)
def test_a_change_in_what_frames_an_item_changes_its_key(changed: bytes) -> None:
    base = (
        b'<rss xmlns:dc="urn:dc"><channel><item><dc:creator>A</dc:creator></item></channel></rss>'
    )
    assert keys(base) != keys(changed)


def test_the_context_and_the_headers_are_in_the_key() -> None:
    body = b"<rss><channel><item><title>one</title></item></channel></rss>"
    plain = keys(body)
    assert keys(body, context=b"settings 2") != plain
    assert keys(body, headers={"content-type": "application/rss+xml; charset=latin-1"}) != plain
    assert keys(body, headers={"content-language": "fr"}) != plain
    assert keys(body, headers={"content-location": "ignored"}) == plain


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ("<rss><channel><item>x</item></channel></rss>".encode("utf-16"), {}),
        (b"\xef\xbb\xbf" + "<rss><item>x</item></rss>".encode("utf-16-le"), {}),
        (b'<?xml version="1.0" encoding="Shift_JIS"?><rss><channel></channel></rss>', {}),
        (b'<?xml version="1.0" encoding="utf-7"?><rss><channel></channel></rss>', {}),
        (
            b"<rss><channel><item>x</item></channel></rss>",
            {"content-type": "text/xml; charset=iso-2022-jp"},
        ),
        (b"\x4c\x6f\xa7\x94\x93", {}),  # EBCDIC "<?xml"
        (b"<rss><channel><title>a < b</title></channel></rss>", {}),  # a stray "<"
        (b"<rss><channel><item>x</channel></item></rss>", {}),  # crossed tags
        (b"<rss><channel><item>x</item></channel>", {}),  # unclosed
        (b"<rss></rss><rss></rss>", {}),  # two roots
        (b"<rss><channel><item><![CDATA[x</item></channel></rss>", {}),  # open CDATA
        ("<rss><canal><item>x</item></canal></rss>".replace("canal", "caña").encode(), {}),
        (b"   ", {}),
        (b"not xml", {}),
    ],
)
def test_documents_that_cannot_be_cut_safely_give_none(
    body: bytes, headers: dict[str, str]
) -> None:
    assert scan_items(body, headers=headers) is None


@pytest.mark.parametrize(
    "declaration",
    [b"UTF-8", b"utf8", b"us-ascii", b"ISO-8859-1", b"iso-8859-15", b"windows-1252", b"cp1251"],
)
def test_ascii_compatible_encodings_are_scanned(declaration: bytes) -> None:
    body = b'<?xml version="1.0" encoding="' + declaration + b'"?><rss><item/></rss>'
    scan = scan_items(body, headers={"content-type": "text/xml; charset=" + declaration.decode()})
    assert isinstance(scan, ItemScan) and len(scan.items) == 1


def test_a_document_without_items_has_an_empty_scan() -> None:
    assert scan_items(b'<?xml version="1.0"?>\n<!DOCTYPE rss>\n<rss><channel/></rss>') == ItemScan(
        ()
    )


def test_past_the_limit_the_items_are_one_rest_span() -> None:
    items = [b"<item><title>%d</title></item>" % i for i in range(5)]
    body = b"<rss><channel><title>T</title>" + b"\n".join(items) + b"</channel></rss>"
    scan = scan_items(body, limit=2)
    assert scan is not None
    assert [body[s.start : s.end] for s in scan.items] == items[:2]
    assert scan.rest is not None
    assert body[scan.rest.start : scan.rest.end] == b"\n".join(items[2:])
    assert without(body, [scan.rest]) == (
        b"<rss><channel><title>T</title>" + items[0] + b"\n" + items[1] + b"\n</channel></rss>"
    )
    assert scan_items(body, limit=5) == scan_items(body)
    assert scan_items(body, limit=5).rest is None  # type: ignore[union-attr]
    empty_last = body.replace(items[4], b"<item/>")
    rest = scan_items(empty_last, limit=4).rest  # type: ignore[union-attr]
    assert rest is not None and empty_last[rest.start : rest.end] == b"<item/>"


@pytest.mark.parametrize(
    "body",
    [
        # an item after the last item's end tag
        b"<rss><channel><item>1</item><item>2</item></channel><x><item/></x></rss>",
        # the rest would take away an unmatched end tag
        b"<rss><channel><item>1</item><item>2</channel><item>3</item></rss>",
        # an item past the limit that never ends
        b"<rss><channel><item>1</item><item>2</channel></rss>",
    ],
)
def test_a_rest_that_breaks_the_document_gives_none(body: bytes) -> None:
    assert scan_items(body, limit=1) is None


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE x [" + b"]" * 1_000_000,
        b"<rss><channel><a" + b" " * 1_000_000,
        b"<rss><channel><a" + b' b="c"' * 200_000,
        b"<rss>" + b"<!--" * 250_000,
        b"<rss><channel><item><![CDATA[" + b"]" * 1_000_000,
        b"<rss><channel><item><?" + b"?" * 1_000_000,
        b"<rss><channel><item><!--" + b"-" * 1_000_000,
        b"<rss><channel>" + b"<item>" * 200_000,
        b"<rss><channel>" + b"<item></item>" * 80_000 + b"<item>",
    ],
    ids=["doctype", "spaces", "attributes", "comments", "cdata", "pi", "dashes", "opens", "last"],
)
def test_hostile_markup_is_given_up_in_one_pass(body: bytes) -> None:
    # A security bound, not a speed figure: each took 1-10 ms here; with backtracking
    # repeats the first took 5 s for 20,000 "]", and grows with the square of its size.
    started = time.perf_counter()
    assert scan_items(body, limit=500) is None
    assert time.perf_counter() - started < 2
