"""Keep the bulk of an item's HTML away from feedparser, and give it back afterwards.

A WordPress item's ``<description>`` and ``<content:encoded>`` are CDATA sections holding
kilobytes of HTML. feedparser does nothing with that text but copy it: expat hands it over
line by line, feedparser joins the pieces, strips them, tries to re-decode them (text
that was UTF-8 read as Latin-1) and maps the windows-1252 range, and the extractor then
reads the HTML itself. That copying was about a fifth of feedparser's time on the bench
feeds (docs/performance.md). So each such section is replaced by a short token before
feedparser reads the document, and the entry's text is rebuilt from the section's bytes
by the same steps feedparser applies (``as_feedparser_reads``).

It is done only where the result is the same by construction, and checked after the fact:

- only a section that is the whole content of a ``<description>`` or ``<content:encoded>``
  start tag without attributes (so no ``mode="base64"``, no ``type``), inside an item;
- only in a document feedparser reads as UTF-8, strictly, whose sections hold only
  characters XML allows (otherwise expat would have rejected the whole document);
- every token must come back as the entire value of an entry's summary or content of type
  ``text/html`` (feedparser decides a ``text/plain`` type from the text itself), and no
  token may appear anywhere else. On any doubt the caller parses the document as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from aggregator.itemscan import splice
from aggregator.model import ParsedEntry, ParsedFeed, Text

__all__ = ["Hollow", "as_feedparser_reads", "edited", "find_sections", "restore"]

# Sections shorter than this stay: a token saves nothing on them.
MIN_SECTION_BYTES = 256

_OPEN_RE = re.compile(rb"<(description|content:encoded)>[ \t\r\n]*+<!\[CDATA\[")
_CLOSE_RE = {
    name: re.compile(rb"\]\]>[ \t\r\n]*+</" + name + rb"\s*+>")
    for name in (b"description", b"content:encoded")
}
# The bytes of the characters XML 1.0 forbids in a UTF-8 text (expat refuses a document
# holding one): C0 controls but tab, LF and CR; U+FFFE and U+FFFF. (A surrogate is not
# valid UTF-8.) Deleting the controls and comparing lengths is a C loop: a regex over the
# bench's sections took six times as long.
CONTROLS = bytes(c for c in range(0x20) if c not in b"\t\n\r")
NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")
# feedparser's own table (feedparser.mixin._cp1252): the C1 controls that windows-1252
# uses for printable characters, mapped to those characters. str.translate looks up every
# character: it is applied only to a text holding one (in UTF-8, C2 80 to C2 9F).
_CP1252 = {
    i: bytes([i]).decode("windows-1252")
    for i in range(0x80, 0xA0)
    if i not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}
_C1_BYTES_RE = re.compile(rb"\xc2[\x80-\x9f]")
_C1_RE = re.compile("[\x80-\x9f]")


@dataclass(frozen=True, slots=True)
class Hollow:
    """The sections taken out of one document: their byte spans and tokens, in order."""

    spans: tuple[tuple[int, int], ...]
    tokens: tuple[bytes, ...]


def find_sections(body: bytes, items: Sequence[tuple[int, int]]) -> Hollow | None:
    """The CDATA sections of ``body`` that can be replaced, within the ``items`` spans.

    None when there is none (or the document happens to hold the token prefix).
    """
    spans: list[tuple[int, int]] = []
    for start, end in items:
        pos = start
        while (opened := _OPEN_RE.search(body, pos, end)) is not None:
            text_start = opened.end()
            text_end = body.find(b"]]>", text_start, end)
            if text_end < 0:
                break
            closed = _CLOSE_RE[opened[1]].match(body, text_end, end)
            if closed is None:
                pos = text_end + 3
                continue
            if text_end - text_start >= MIN_SECTION_BYTES:
                spans.append((text_start, text_end))
            pos = closed.end()
    if not spans:
        return None
    prefix = token_prefix(body)
    if prefix in body:
        return None
    return Hollow(tuple(spans), tuple(prefix + b"x%d" % i for i in range(len(spans))))


def token_prefix(body: bytes) -> bytes:
    """The start of every token of ``body``: derived from its bytes, so that no document
    can be written to hold its own (and one that did would simply not be hollowed)."""
    return b"agghollow" + hashlib.blake2b(body, digest_size=8).hexdigest().encode()


def as_feedparser_reads(section: bytes) -> str | None:
    """The text feedparser makes of a CDATA section of a UTF-8 document that is the whole
    content of an HTML element; None when it would not be that simple (not UTF-8, or a
    character XML forbids)."""
    if len(section.translate(None, CONTROLS)) != len(section) or any(
        bad in section for bad in NONCHARACTERS
    ):
        return None
    try:
        text = section.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # What expat does to line ends, then feedparser's pop(): strip, undo UTF-8 read as
    # Latin-1, map the windows-1252 range.
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    c1 = _C1_BYTES_RE.search(section) is not None
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        fixed = text.encode("iso-8859-1").decode("utf-8")
        if fixed != text:
            text, c1 = fixed, _C1_RE.search(fixed) is not None
    return text.translate(_CP1252) if c1 else text


def restore(parsed: ParsedFeed, body: bytes, hollow: Hollow) -> ParsedFeed | None:
    """``parsed`` (of the hollowed document) with each token replaced by its section's
    text; None if any token is not where it must be."""
    texts: dict[str, str] = {}
    for (start, end), token in zip(hollow.spans, hollow.tokens, strict=True):
        text = as_feedparser_reads(body[start:end])
        if text is None:
            return None
        texts[token.decode("ascii")] = text
    prefix = hollow.tokens[0][: -len(b"x0")].decode("ascii")
    used: set[str] = set()

    def put_back(value: Text, *, may_hold: bool) -> Text | None:
        if prefix not in value.value:
            return value
        full = texts.get(value.value)
        if full is None or not may_hold or value.mime != "text/html":
            return None
        used.add(value.value)
        return replace(value, value=full)

    entries: list[ParsedEntry] = []
    for entry in parsed.entries:
        title = put_back(entry.title, may_hold=False)
        summary = put_back(entry.summary, may_hold=True)
        content = [put_back(c, may_hold=True) for c in entry.content]
        if title is None or summary is None or any(c is None for c in content):
            return None
        if _holds(prefix, entry):
            return None
        entries.append(
            replace(
                entry,
                summary=summary,
                content=tuple(c for c in content if c is not None),
            )
        )
    if len(used) != len(texts) or _holds(prefix, parsed):
        return None
    return replace(parsed, entries=tuple(entries))


def _holds(prefix: str, value: ParsedEntry | ParsedFeed) -> bool:
    """Whether a token sits in a field other than an entry's title, summary and content."""
    for name in _ENTRY_FIELDS if isinstance(value, ParsedEntry) else _FEED_FIELDS:
        field = getattr(value, name)
        if isinstance(field, str):
            if prefix in field:
                return True
        elif field and prefix in repr(field):
            return True
    return False


_ENTRY_FIELDS = tuple(
    f.name for f in fields(ParsedEntry) if f.name not in ("title", "summary", "content")
)
_FEED_FIELDS = tuple(f.name for f in fields(ParsedFeed) if f.name != "entries")


def edited(body: bytes, cuts: Sequence[tuple[int, int]], hollow: Hollow | None) -> bytes:
    """``body`` without the ``cuts`` spans and with ``hollow``'s sections replaced by their
    tokens (``cuts`` and the sections never overlap)."""
    edits = [(start, end, b"") for start, end in cuts]
    if hollow is not None:
        edits += [(s, e, t) for (s, e), t in zip(hollow.spans, hollow.tokens, strict=True)]
    return splice(body, sorted(edits))
