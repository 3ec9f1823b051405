"""Find a feed document's items in its bytes, so that only the new ones are parsed.

A WordPress feed that gained one post still carries its nine older ones, byte for byte,
and feedparser is the largest cost of a poll. This module cuts the document at its items
(RSS ``item``, Atom ``entry``) without parsing it: a small tokenizer that knows comments,
CDATA sections, processing instructions and the DOCTYPE, so an ``</item>`` inside a CDATA
description is text, not a tag. Each item gets a key, a digest of its bytes and of all
that frames it (the caller's context, the XML declaration and DOCTYPE, the start tags of
its ancestors with their namespaces, ``xml:base`` and ``xml:lang``): equal keys mean an
item feedparser would read the same way.

Only what can be cut safely is cut: a document that is not in an ASCII-compatible,
single-meaning-per-byte encoding, or whose markup the tokenizer cannot follow (a stray
``<``, unbalanced tags), gives ``None`` and is parsed whole. The parse stage checks the
cut document's entries against the items it kept and parses the whole one on any doubt.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aggregator.model import ITEM_KEY_BYTES

__all__ = ["ItemScan", "ItemSpan", "scan_items", "splice", "without"]

# Fragments of the markup grammar (regular expression sources), shared with
# ``aggregator.unread``. Every repeat is possessive, and no two of them can share a
# character: on a document that does not match, each failure costs one pass, never a
# backtrack through the text (a DOCTYPE of 20,000 "]" took 5 s with lazy repeats).
NAME = rb"[A-Za-z_][\w.:-]*+"
ATTRIBUTES = rb"""(?:\s++[^\s=/>"'<]++\s*+=\s*+(?:"[^"<]*+"|'[^'<]*+'))*+\s*+"""
COMMENT = rb"<!--(?:[^-]++|-(?!->))*+-->"
CDATA = rb"<!\[CDATA\[(?:[^\]]++|\](?!\]>))*+\]\]>"
PI = rb"<\?(?:[^?]++|\?(?!>))*+\?>"  # a processing instruction

_TOKEN_RE = re.compile(
    b"|".join(
        (
            COMMENT,
            CDATA,
            PI,
            rb"<!DOCTYPE(?:[^\[>]++|\[[^\]]*+\])*+>",  # the DOCTYPE, internal subset too
            rb"</(?P<end>%s)\s*+>" % NAME,  # an end tag
            rb"<(?P<start>%s)%s(?P<empty>/)?>" % (NAME, ATTRIBUTES),  # a start tag
            rb"(?P<bad><)",  # anything else: not followed
        )
    )
)
_ITEM_NAMES = frozenset({b"item", b"entry"})
_ANY_ITEM_END_RE = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")
_DECLARED_RE = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# Encodings in which every byte below 0x80 is the ASCII character and nothing else: the
# bytes of the markup are the markup. (Shift_JIS, GBK and Big5 use bytes such as "]" as
# second halves of characters, ISO-2022 and UTF-7 shift whole runs: those are parsed whole.)
_SAFE_ENCODING_RE = re.compile(
    r"(?:utf-?8|us-?ascii|ascii|iso[-_]?8859[-_]?\d+|latin-?\d|l\d|(?:windows|cp)-?125\d"
    r"|koi8-?[ru])",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ItemSpan:
    """One item: its bytes are ``body[start:end]``; ``key`` is its digest in context."""

    start: int
    end: int
    key: bytes
    # The names of its ancestors (outermost first), and where its start tag ends.
    parents: tuple[bytes, ...] = ()
    opened: int = 0


@dataclass(frozen=True, slots=True)
class ItemScan:
    """The items of a document, in document order: all of them, or the first ``limit``."""

    items: tuple[ItemSpan, ...]
    # With a limit, the bytes from the first item past it to the end of the last item,
    # to be left out whole (as ``parse._first_entries`` does); its key is empty.
    rest: ItemSpan | None = None


def scan_items(
    body: bytes,
    *,
    context: bytes = b"",
    headers: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> ItemScan | None:
    """The document's items, or ``None`` when it cannot be cut safely.

    ``context`` goes into every key: the caller's settings and the document's URL, so an
    item read under other settings is not taken for one already seen. Past ``limit``
    items, the rest are not scanned one by one (a hostile feed has 100,000): they are one
    ``rest`` span, to the end tag of the last item.
    """
    if not _ascii_compatible(body, headers or {}):
        return None
    frame = [context, b"\0"]
    for header in ("content-type", "content-language"):
        frame += [(headers or {}).get(header, "").encode("utf-8", "replace"), b"\0"]
    stack: list[tuple[bytes, bytes]] = []  # open elements: (name, start tag)
    prolog: list[bytes] = []
    items: list[ItemSpan] = []
    rooted = False
    rest = None
    pos = 0
    while (match := _TOKEN_RE.search(body, pos)) is not None:
        pos = match.end()
        if match.lastgroup == "bad":
            return None
        name = match.group("start")
        if name is not None:
            if not stack and rooted:
                return None  # a second root element
            rooted = True
            is_item = name.rpartition(b":")[2] in _ITEM_NAMES
            if is_item and limit is not None and len(items) >= limit:
                if rest is not None:
                    return None  # an item after the last item's end tag
                last_end = None
                for last_end in _ANY_ITEM_END_RE.finditer(body, pos):  # noqa: B007 (the last)
                    pass
                if last_end is None and not match.group("empty"):
                    return None
                pos = last_end.end() if last_end is not None else pos
                rest = ItemSpan(match.start(), pos, b"")
                continue
            if is_item:
                frame_bytes = b"".join([*frame, *prolog, b"\0", *(tag for _, tag in stack)])
                if not match.group("empty"):
                    # The rest of the item in one step of the regex engine, not tag by tag.
                    tail = _item_rest(name).match(body, pos)
                    if tail is None:
                        return None  # no end tag, or an element of its name inside it
                    pos = tail.end()
                parents = tuple(n for n, _ in stack)
                items.append(_span(match, pos, frame_bytes, body, parents))
            elif not match.group("empty"):
                stack.append((name, match.group(0)))
            continue
        name = match.group("end")
        if name is not None:
            if not stack or stack[-1][0] != name:
                return None
            stack.pop()
        elif not rooted and not match.group(0).startswith(b"<!--"):
            prolog.append(match.group(0))  # the XML declaration, the DOCTYPE
    if stack or not rooted:
        return None
    return ItemScan(tuple(items), rest)


@functools.lru_cache(maxsize=64)
def _item_rest(name: bytes) -> re.Pattern[bytes]:
    """An item's content and end tag, after its start tag; comments, CDATA sections and
    processing instructions are skipped whole, and a start tag of the item's own name
    fails the match. Possessive repeats: a failure never backtracks into the text."""
    q = re.escape(name)
    return re.compile(
        rb"(?:[^<]++|%s|%s|%s|<(?!!--|!\[CDATA\[|\?|/?%s[\s/>]))*+</%s\s*>"
        % (COMMENT, CDATA, PI, q, q),
        re.DOTALL,
    )


def without(body: bytes, cut: Sequence[ItemSpan]) -> bytes:
    """``body`` with the bytes of the items in ``cut`` (in document order) left out."""
    return splice(body, [(span.start, span.end, b"") for span in cut])


def splice(body: bytes, edits: Sequence[tuple[int, int, bytes]]) -> bytes:
    """``body`` with each ``(start, end, replacement)`` span replaced; the spans are in
    document order and do not overlap."""
    parts: list[bytes] = []
    pos = 0
    for start, end, replacement in edits:
        parts += (body[pos:start], replacement)
        pos = end
    parts.append(body[pos:])
    return b"".join(parts)


def _span(
    opening: re.Match[bytes], end: int, frame: bytes, body: bytes, parents: tuple[bytes, ...]
) -> ItemSpan:
    start = opening.start()
    digest = hashlib.blake2b(frame, digest_size=ITEM_KEY_BYTES)
    digest.update(b"\0")
    digest.update(body[start:end])
    return ItemSpan(start, end, digest.digest(), parents, opening.end())


def _ascii_compatible(body: bytes, headers: Mapping[str, str]) -> bool:
    head = body[:1024].removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"<") or b"\0" in head:
        return False  # UTF-16/32, EBCDIC, or not a document
    declared = _DECLARED_RE.match(head)
    if declared is not None and not _SAFE_ENCODING_RE.fullmatch(declared.group(1).decode()):
        return False
    charset = _CHARSET_RE.search(headers.get("content-type", ""))
    return charset is None or _SAFE_ENCODING_RE.fullmatch(charset.group(1)) is not None
