"""Inputs built to hurt: entity expansion, size, depth, outline count."""

from __future__ import annotations

import time

import pytest

from aggregator.opml import MAX_OPML_BYTES, MAX_OUTLINES, OpmlError, read_opml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<opml version="2.0"><head><title>&lol9;</title></head>
<body><outline text="&lol9;" xmlUrl="https://a.example/"/></body></opml>
"""


def test_billion_laughs_is_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(OpmlError, match="entities"):
        read_opml(BILLION_LAUGHS)
    assert time.monotonic() - started < 1.0


def test_entities_are_refused_even_in_a_broken_document() -> None:
    # Not well-formed, so a naive reader would fall back to a recovering parser.
    broken = BILLION_LAUGHS.replace(b"</body>", b"<oops></body>")
    with pytest.raises(OpmlError, match="entities"):
        read_opml(broken)


def test_external_entity_is_refused() -> None:
    xxe = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<opml><body><outline text="&x;" xmlUrl="https://a.example/"/></body></opml>"""
    with pytest.raises(OpmlError):
        read_opml(xxe)


def test_twenty_megabytes_is_refused_by_size() -> None:
    outline = b'<outline text="a" xmlUrl="https://a.example/"/>\n'
    data = (
        b'<opml version="2.0"><body>'
        + outline * (20 * 1024 * 1024 // len(outline))
        + b"</body></opml>"
    )
    assert len(data) > 20 * 1000 * 1000
    started = time.monotonic()
    with pytest.raises(OpmlError, match="limit"):
        read_opml(data)
    assert time.monotonic() - started < 1.0


def test_just_under_the_size_limit_is_parsed() -> None:
    outline = b'<outline text="a" xmlUrl="https://a.example/"/>\n'
    data = b'<opml version="2.0"><body>' + outline * 1000 + b"</body></opml>"
    data += b" " * (MAX_OPML_BYTES - len(data))
    assert len(read_opml(data).feeds) == 1


def test_too_many_outlines_is_refused() -> None:
    outlines = b"".join(
        b'<outline text="f" xmlUrl="https://a.example/%d"/>' % i for i in range(MAX_OUTLINES + 1)
    )
    with pytest.raises(OpmlError, match=r"more than \d+ outlines"):
        read_opml(b'<opml version="2.0"><body>' + outlines + b"</body></opml>")


def test_too_many_elements_is_refused() -> None:
    junk = b"<x/>" * (2 * MAX_OUTLINES + 1)
    with pytest.raises(OpmlError, match=r"^big\.opml: more than \d+ elements"):
        read_opml(b'<opml version="2.0"><body>' + junk + b"</body></opml>", source="big.opml")


def test_deep_nesting_does_not_hit_the_recursion_limit() -> None:
    depth = 5000
    data = (
        b'<opml version="2.0"><body>'
        + b'<outline text="d">' * depth
        + b'<outline text="f" xmlUrl="https://a.example/"/>'
        + b"</outline>" * depth
        + b"</body></opml>"
    )
    [feed] = read_opml(data).feeds
    assert feed.tags == ("d",)
