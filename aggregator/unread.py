"""Leave out of new items the elements whose values nothing reads.

A WordPress item carries four simple elements that feedparser reads and the aggregator
never uses: ``<comments>`` (the comment page's URL), ``<dc:creator>`` (the author; the
front matter has none), ``<wfw:commentRss>`` and ``<slash:comments>``. Each costs
feedparser as much as any other element (expat's callback, the SAX layer, its start and
end handlers): about a sixth of its time on the bench's RSS feeds (docs/performance.md).
So they are cut from the document before feedparser reads it, where that gives the same
entries by construction. When no rule reads the entries' categories (``parse_feed``'s
``categories=False``), ``<category>`` is one more (a WordPress item has one for each of
its categories and tags): feedparser's handlers of it touch nothing but the entry's
``tags``, which the entries then leave out whether or not their elements were cut. Where:

- only in an RSS 2.0 item (its parents are ``rss`` and ``channel``: no ancestor can make
  feedparser read it as anything but an entry), and only a direct child of the item (in a
  child, it would be part of that child's text). What feedparser does with such an element
  ends with it: it sets a key of the entry that nobody reads (``dc:creator`` also the
  entry's author details), and the stacks of ``xml:base`` and ``xml:lang`` it pushes are
  popped at its end tag. One more step of an unprefixed start tag, clearing feedparser's
  "inside an ``image`` / ``textinput``" flags, changes nothing there: the item's own
  start tag cleared them, and a child that sets one clears it at its end;
- only a bare start tag (no attribute: no ``xml:base``, ``xml:lang`` or namespace
  declaration), holding text without markup or entity (``[^<&]``) or one CDATA section;
- only names whose meaning is certain: ``comments`` (and ``category``) when the document
  declares no default namespace; a prefix only where the root element binds it to the
  element's namespace and nothing else in the document binds it (so no inner declaration
  can give it another);
- only bytes expat would accept: the caller cuts only a document feedparser reads as UTF-8
  (``parse._parse_cut`` also requires the cut one to be read strictly, in the same
  encoding), and the cut text holds no character XML forbids, so a document that was not
  well-formed because of a cut element is never made well-formed by the cut.

Everything between the item's start tag and a cut element must be complete children (up
to two levels deep), text, comments or processing instructions: that is what makes it a
direct child. Whatever does not fit is simply not cut.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

from aggregator.hollow import CONTROLS, NONCHARACTERS
from aggregator.itemscan import ATTRIBUTES, CDATA, COMMENT, NAME, PI, ItemSpan

__all__ = ["NAMESPACES", "unread_names", "unread_spans"]

#: The unread elements with a prefix: namespace URI -> local name.
NAMESPACES: dict[bytes, bytes] = {
    b"http://purl.org/dc/elements/1.1/": b"creator",
    b"http://wellformedweb.org/CommentAPI/": b"commentRss",
    b"http://purl.org/rss/1.0/modules/slash/": b"comments",
}
#: The unread element without a prefix (RSS 2.0's own ``comments``).
UNPREFIXED = b"comments"
#: RSS 2.0's own ``category``, unread when no rule reads the entries' categories.
CATEGORY = b"category"
#: The ancestors of an RSS 2.0 item.
RSS_ITEM_PARENTS = (b"rss", b"channel")

_XMLNS_RE = re.compile(rb"xmlns(?::([A-Za-z_][\w.-]*+))?\s*+=")
# The characters XML 1.0 forbids in a UTF-8 text (hollow.py's), found in place.
_FORBIDDEN_RE = re.compile(
    b"[%s]|%s" % (re.escape(CONTROLS), b"|".join(re.escape(n) for n in NONCHARACTERS))
)
_LEAF_CONTENT = rb"(?:[^<]++|%s|%s|%s)*+" % (CDATA, COMMENT, PI)

_ROOT_RE = re.compile(rb"<rss" + ATTRIBUTES + rb">")
_DECLARATION_RE = re.compile(
    rb"""\sxmlns:([A-Za-z_][\w.-]*+)\s*+=\s*+(?:"([^"<]*+)"|'([^'<]*+)')"""
)


@functools.lru_cache(maxsize=32)
def _children_then_unread(names: frozenset[bytes]) -> re.Pattern[bytes]:
    """Complete children, text, comments and PIs, then one unread element (group ``el``).

    Every repeat is possessive: on an item that does not fit, the match fails in one pass.
    """
    unread = b"|".join(re.escape(n) for n in sorted(names))
    grandchild = rb"<(?P<n2>%s)%s(?:/>|>%s</(?P=n2)\s*+>)" % (NAME, ATTRIBUTES, _LEAF_CONTENT)
    child = rb"<(?!(?:%s)>)(?P<n1>%s)%s(?:/>|>(?:[^<]++|%s|%s|%s|%s)*+</(?P=n1)\s*+>)" % (
        unread,
        NAME,
        ATTRIBUTES,
        CDATA,
        COMMENT,
        PI,
        grandchild,
    )
    # Its text: no markup, no entity and no "]]>" (which character data may not hold).
    element = rb"<(?P<name>%s)>(?P<text>(?:[^<&\]]++|\](?!\]>))*+|%s)</(?P=name)>" % (
        unread,
        CDATA,
    )
    return re.compile(rb"(?:[^<]++|%s|%s|%s)*+(?P<el>%s)" % (COMMENT, PI, child, element))


def unread_names(body: bytes, *, categories_unread: bool = False) -> frozenset[bytes]:
    """The qualified names of the unread elements whose meaning in ``body`` is certain
    (with ``categories_unread``, ``category`` among them)."""
    root = _ROOT_RE.search(body)
    if root is None:
        return frozenset()
    # Every namespace declaration, wherever it is (in a comment or a CDATA section too: an
    # extra one only means fewer cuts). One pass: the pattern starts with a literal.
    declared = Counter(found[1] for found in _XMLNS_RE.finditer(body))
    names: set[bytes] = set()
    if None not in declared:
        names.add(UNPREFIXED)
        if categories_unread:
            names.add(CATEGORY)
    for binding in _DECLARATION_RE.finditer(root[0]):
        prefix = binding[1]
        uri = binding[2] if binding[2] is not None else binding[3]
        local = NAMESPACES.get(uri)
        if local is not None and declared[prefix] == 1:
            names.add(prefix + b":" + local)
    return frozenset(names)


def unread_spans(
    body: bytes, items: Sequence[ItemSpan], *, categories_unread: bool = False
) -> tuple[tuple[int, int], ...]:
    """The byte spans of the unread elements of ``items`` that can be cut (in order); with
    ``categories_unread``, the ``category`` elements too."""
    candidates = [i for i in items if i.parents == RSS_ITEM_PARENTS and i.opened < i.end]
    if not candidates:
        return ()
    names = unread_names(body, categories_unread=categories_unread)
    if not names:
        return ()
    match = _children_then_unread(names).match
    forbidden = _FORBIDDEN_RE.search
    spans: list[tuple[int, int]] = []
    for item in candidates:
        pos, end = item.opened, item.end
        while (found := match(body, pos, end)) is not None:
            if forbidden(body, *found.span("text")) is not None:
                break  # expat would refuse the document: it must not be made acceptable
            spans.append(found.span("el"))
            pos = found.end()
    return tuple(spans)
