"""feedparser's windows-1252 table, answered without a ``KeyError`` per character.

``aggregator.parse`` gives ``feedparser.mixin`` a copy of its ``_cp1252`` table whose
``__missing__`` answers a code point with itself, which is what ``str.translate`` does when
the lookup fails. These tests show that every code point is translated as with
feedparser's own table, that the remembered answers stay bounded, and that the corpus
parses the same with either table.
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
    assert type(table) is parse._Windows1252Table
    assert type(OWN) is dict and len(OWN) >= 27
    assert {k: table[k] for k in OWN} == OWN


def test_every_code_point_is_translated_as_with_feedparser_table() -> None:
    changed = 0
    for text in _every_code_point(chunk=2048):
        table = parse._Windows1252Table(OWN)
        ours = text.translate(table)
        assert ours == text.translate(OWN)
        assert text.translate(table) == ours  # the same again, from the remembered answers
        changed += sum(a != b for a, b in zip(text, ours, strict=True))
    assert changed == sum(chr(k) != v for k, v in OWN.items())  # the C1 characters only
    table = parse._Windows1252Table(OWN)
    for text in _every_code_point():
        assert text.translate(table) == text.translate(OWN)
    assert len(table) <= parse._TRANSLATION_MEMORY  # a hostile text cannot grow it further
    # Once full, code points it does not remember are still answered with themselves.
    assert "\U0010fff0 \u0080".translate(table) == "\U0010fff0 \u20ac"


@pytest.fixture
def feedparser_table(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to put feedparser's own table back (until the test ends)."""
    return lambda: monkeypatch.setattr(feedparser.mixin, "_cp1252", OWN)


def test_the_corpus_parses_as_with_feedparser_table(
    feedparser_table: Callable[[], None],
) -> None:
    assert_corpus_parses_the_same(FEEDPARSER_OPTIONS, feedparser_table)
