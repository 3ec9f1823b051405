"""Damaged copies of real lists: read_opml answers or raises OpmlError, nothing else.

A seeded mutation loop over the corpus's OPML files (bytes flipped, markup and entity
declarations inserted, spans cut). It found a crash on lone-surrogate references that
the hand-written cases missed; the seed keeps it reproducible.
"""

from __future__ import annotations

import random
from pathlib import Path

from aggregator.opml import OpmlError, read_opml

INSERTS = (
    b"&",
    b"<",
    b'"',
    b">",
    b"<!ENTITY",
    b"\x00",
    b"\xff\xfe",
    b"<outline>",
    b"</outline>",
    b"&#xD800;",
    b"&#0;",
    b"&nbsp;",
    b"]]>",
    b"<![CDATA[",
    b"\xed\xa0\x80",
    b"<?xml ",
    b"xmlUrl=",
)


def mutate(data: bytes, rnd: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        pos = rnd.randrange(len(buf) + 1)
        op = rnd.random()
        if op < 0.4 and buf:
            buf[min(pos, len(buf) - 1)] = rnd.randrange(256)
        elif op < 0.7:
            buf[pos:pos] = rnd.choice(INSERTS)
        else:
            del buf[pos : pos + rnd.randint(1, 50)]
    return bytes(buf)


def test_mutated_corpus_lists_never_crash(corpus: Path) -> None:
    from tests.opml.conftest import opml_candidates

    files = [p.read_bytes() for p in opml_candidates(corpus)]
    rnd = random.Random(20261122)
    for _ in range(3000):
        data = mutate(rnd.choice(files), rnd)
        try:
            result = read_opml(data)
        except OpmlError as err:
            assert "\n" not in str(err)
        else:
            assert all(f.url.startswith(("http://", "https://")) for f in result.feeds)
