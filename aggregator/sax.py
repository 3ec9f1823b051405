"""feedparser's XML parser: Python's expat driver, handing over each run of text in one call.

expat reports the text between two tags in pieces: one for each line, one for each
character or entity reference, one for each CDATA section. feedparser's strict parser
appends every piece to the open element's list (``handle_data``, with a lookup of the
element's content type each time) and joins the list when the element ends, so the number
of pieces changes nothing but the time: SAX lets a parser hand contiguous text over "in a
single chunk, or ... in several chunks" (``xml.sax.handler.ContentHandler.characters``).
With pyexpat's ``buffer_text`` on, the pieces come joined, flushed before every other
event: a bench feed's entry took 23 calls instead of 54 (docs/performance.md).

feedparser asks ``xml.sax.make_parser`` for the drivers it names in
``feedparser.api.PREFERRED_XML_PARSERS`` first; ``aggregator.parse`` names this module
there, which also keeps a later install of python3-libxml2 (feedparser's first choice)
from changing the parser every feed is read with.
"""

from __future__ import annotations

import xml.sax.expatreader
from typing import Any

#: Largest run of text handed over in one call (pyexpat's default is 8,192).
BUFFER_SIZE = 1 << 16


class BufferedExpatParser(xml.sax.expatreader.ExpatParser):
    """The standard library's expat driver with ``buffer_text`` on."""

    def reset(self) -> None:
        super().reset()
        parser: Any = self._parser  # type: ignore[attr-defined]
        parser.buffer_size = BUFFER_SIZE
        parser.buffer_text = True


def create_parser(*args: Any, **kwargs: Any) -> BufferedExpatParser:
    """The driver interface ``xml.sax.make_parser`` calls."""
    return BufferedExpatParser(*args, **kwargs)


__all__ = ["BUFFER_SIZE", "BufferedExpatParser", "create_parser"]
