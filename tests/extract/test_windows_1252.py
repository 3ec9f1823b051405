"""feedparser's windows-1252 table, answered by indexing a string instead of a dictionary.

``aggregator.parse`` gives ``feedparser.mixin`` its ``_cp1252`` table as a string of the
Basic Multilingual Plane indexed by code point, each mapped as feedparser's table maps it
and to itself otherwise. These tests show that every code point is translated as with
feedparser's own table, that a table feedparser might ship in another shape is left alone,
and that the corpus parses the same with either table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import feedparser.html
import feedparser.mixin
import pytest

from aggregator import parse
from aggregator.parse import FEEDPARSER_OPTIONS
from tests.extract.test_feedparser_dict import assert_corpus_parses_the_same

OWN = feedparser.html._cp1252  # feedparser's table, which mixin's is a copy of


def _every_code_point(chunk: int = 1 << 16) -> Iterator[str]:
    for start in range(0, 0x110000, chunk):
        yield "".join(map(chr, range(start, min(start + chunk, 0x110000))))


def test_the_table_is_in_place() -> None:
    table = feedparser.mixin._cp1252
    assert type(table) is str and len(table) == parse._TABLE_SIZE == 0x10000
    assert type(OWN) is dict and len(OWN) >= 27
    assert {k: table[k] for k in OWN} == OWN


def test_every_code_point_is_translated_as_with_feedparser_table() -> None:
    table = feedparser.mixin._cp1252
    changed = 0
    for text in _every_code_point(chunk=2048):
        ours = text.translate(table)
        assert ours == text.translate(OWN)
        changed += sum(a != b for a, b in zip(text, ours, strict=True))
    assert changed == sum(chr(k) != v for k, v in OWN.items())  # the C1 characters only
    # Past the table's end (IndexError, a LookupError): the character itself, as with a dict.
    assert "\U0010fff0 \u0080 \U0001f600".translate(table) == "\U0010fff0 \u20ac \U0001f600"


@pytest.mark.parametrize(
    "shape",
    [
        {0x80: "\u20ac", 0x1F600: "x"},  # a code point past the table
        {0x80: "EUR"},  # more than one character
        {0x80: 0x20AC},  # a code point instead of a character
        {0x80: None},  # a deletion
        {"\x80": "\u20ac"},  # a character as the key
    ],
)
def test_a_table_of_another_shape_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, shape: dict[object, object]
) -> None:
    monkeypatch.setattr(feedparser.mixin, "_cp1252", shape)
    parse._quick_windows_1252_fixes()
    assert feedparser.mixin._cp1252 is shape
    monkeypatch.setattr(feedparser.mixin, "_cp1252", dict(OWN))
    parse._quick_windows_1252_fixes()
    made: object = feedparser.mixin._cp1252
    assert made == table_of(OWN)


def table_of(mapping: dict[int, str]) -> str:
    """The string the aggregator makes of ``mapping``, written out another way."""
    return "".join(mapping.get(code, chr(code)) for code in range(0x10000))


@pytest.fixture
def feedparser_table(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to put feedparser's own table back (until the test ends)."""
    return lambda: monkeypatch.setattr(feedparser.mixin, "_cp1252", OWN)


def test_the_corpus_parses_as_with_feedparser_table(
    feedparser_table: Callable[[], None],
) -> None:
    assert_corpus_parses_the_same(FEEDPARSER_OPTIONS, feedparser_table)
