"""Read and write OPML subscription lists.

Why this module exists: people arrive with feed lists exported from other readers
(Google Reader, NetNewsWire, newsboat, yarr, curated "awesome" lists). Those files are
often sloppy — raw ``&`` in URLs, HTML entities, odd encodings, ``xmlURL`` spelt three
ways, folders nested at any depth — so :func:`read_opml` is tolerant of everything that
still lets it find feeds, and reports what it dropped instead of failing. It is strict
about what could hurt us: entity declarations (billion laughs) and oversized documents
are refused before any tree is built (POLITENESS_AND_SECURITY 2.2: defusedxml for any
XML we parse ourselves).

The other direction, :func:`write_opml`, exports the configured feeds so a user can
take them to another reader; ``read_opml(write_opml(feeds))`` gives the same names,
URLs and tags back.

Only :class:`OpmlError` leaves this module; parser exceptions are translated here.
"""

from __future__ import annotations

import codecs
import html.entities
import re
import xml.etree.ElementTree as ET  # builds XML; all parsing goes through defusedxml
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import defusedxml
import defusedxml.ElementTree
from lxml import etree as lxml_etree  # type: ignore[import-untyped]

from aggregator.errors import AggregatorError
from aggregator.model import FeedConfig

__all__ = [
    "MAX_OPML_BYTES",
    "MAX_OUTLINES",
    "OpmlError",
    "OpmlFeed",
    "OpmlImport",
    "Skipped",
    "canonical_feed_url",
    "read_opml",
    "write_opml",
]

#: Largest document we accept. Real subscription lists are a few hundred kilobytes; a
#: bigger one is a mistake or an attack, and parsing it would cost memory for nothing.
MAX_OPML_BYTES = 10 * 1024 * 1024
#: Most ``<outline>`` elements we walk; bounds the work and the size of the result.
MAX_OUTLINES = 50_000
# Elements of any kind (head, wrappers, stray HTML after recovery): bounds the tree copy.
_MAX_ELEMENTS = 2 * MAX_OUTLINES

_FEED_SCHEMES = frozenset({"http", "https"})
# Characters XML 1.0 cannot carry at all, not even as character references.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.DOTALL)
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_ENTITY_DECLARATION = re.compile(r"<!ENTITY", re.IGNORECASE)
# An ampersand that does not start a well-formed reference.
_BARE_AMPERSAND = re.compile(r"&(?!#[0-9]+;|#x[0-9A-Fa-f]+;|[A-Za-z_][A-Za-z0-9._-]*;)")
_NAMED_REFERENCE = re.compile(r"&([A-Za-z_][A-Za-z0-9._-]*);")
_NUMERIC_REFERENCE = re.compile(r"&#(?:([0-9]+)|x([0-9A-Fa-f]+));")
_RECOVERED = "read with a recovering parser"
_XML_PREDEFINED = frozenset({"amp", "lt", "gt", "quot", "apos"})
_CATEGORY_SEPARATORS = re.compile(r"[,/]")
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class OpmlError(AggregatorError):
    """The document is not an OPML subscription list we can use (one line, says why)."""


class _TooManyElementsError(Exception):
    """Raised while copying a tree; read_opml turns it into an OpmlError naming the source."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed found in an OPML document.

    ``tags`` is the folder path (titles of the enclosing outlines, outermost first)
    followed by the parts of the outline's ``category`` attribute, without duplicates.
    """

    name: str
    url: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """An outline that was not imported: ``outline`` describes it, ``reason`` says why."""

    outline: str
    reason: str


@dataclass(frozen=True, slots=True)
class OpmlImport:
    """What an OPML document yielded.

    ``warnings`` is non-empty when the document had to be repaired or decoded loosely:
    the feeds are then a best effort, and the caller should show the warnings.
    """

    feeds: tuple[OpmlFeed, ...]
    skipped: tuple[Skipped, ...] = ()
    title: str = ""
    warnings: tuple[str, ...] = ()


def canonical_feed_url(url: str) -> str:
    """Return the key under which two spellings of one feed URL compare equal.

    Scheme and host are case-insensitive and a trailing slash is not a different feed
    for any server we have met; the fragment is never sent. Query and path case are
    kept: they can name different feeds.
    """
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


# --------------------------------------------------------------------------------------------
# Reading


def read_opml(data: bytes, *, source: str = "<opml>") -> OpmlImport:
    """Find the feeds of an OPML document.

    Tolerant of what real exports contain; raises :class:`OpmlError` when the document
    declares entities, is too large, or is not OPML at all. ``source`` names the
    document in messages.
    """
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(
            f"{source}: {len(data)} bytes, larger than the {MAX_OPML_BYTES}-byte limit for OPML"
        )
    warnings: list[str] = []
    text = _decode(data, warnings)
    if not text.strip():
        raise OpmlError(f"{source}: empty document, not OPML")
    if _ENTITY_DECLARATION.search(text):
        # Checked before any parser sees the text, so neither the strict nor the
        # recovering parser can be made to expand entities.
        raise OpmlError(f"{source}: the document declares XML entities; refused")
    try:
        root = _parse(text, source, warnings)
    except _TooManyElementsError:
        raise OpmlError(f"{source}: more than {_MAX_ELEMENTS} elements") from None
    return _extract(root, source, warnings)


def _decode(data: bytes, warnings: list[str]) -> str:
    """Decode to text ourselves, so any Python codec works (expat knows only a few)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode_with(data[len(bom) :], encoding, warnings)
    # UTF-16 without a BOM still starts with "<" and "?" interleaved with NULs.
    if data.startswith(b"<\x00?\x00"):
        return _decode_with(data, "utf-16-le", warnings)
    if data.startswith(b"\x00<\x00?"):
        return _decode_with(data, "utf-16-be", warnings)
    match = _DECLARED_ENCODING.match(data)
    declared = match.group(1).decode("ascii") if match else "utf-8"
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        warnings.append(f"unknown encoding {declared!r} declared; read as UTF-8")
        codec = declared = "utf-8"
    if codec.startswith(("utf-16", "utf-32")):
        # The declaration was readable as ASCII, so the bytes are not UTF-16/32.
        warnings.append(f"{declared!r} declared on single-byte text; read as UTF-8")
        declared = "utf-8"
    return _decode_with(data, declared, warnings)


def _decode_with(data: bytes, encoding: str, warnings: list[str]) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        warnings.append(f"bytes invalid in {encoding} were replaced")
        return data.decode(encoding, errors="replace")


def _parse(text: str, source: str, warnings: list[str]) -> _Node:
    """Parse strictly with defusedxml, then repair, then recover; never expand entities."""
    # The text is already decoded: drop the declaration so no parser re-decodes it.
    body = _DECLARATION.sub(b"", text.encode("utf-8"), count=1)
    try:
        return _Node.from_etree(defusedxml.ElementTree.fromstring(body))
    except defusedxml.DefusedXmlException as err:
        raise OpmlError(
            f"{source}: forbidden XML construct ({type(err).__name__}); refused"
        ) from err
    except ET.ParseError as err:
        first_error = str(err)

    repaired = _repair(body.decode("utf-8"))
    try:
        root = _Node.from_etree(defusedxml.ElementTree.fromstring(repaired.encode("utf-8")))
    except defusedxml.DefusedXmlException as err:
        raise OpmlError(
            f"{source}: forbidden XML construct ({type(err).__name__}); refused"
        ) from err
    except ET.ParseError:
        pass
    else:
        warnings.append(f"not well-formed XML ({first_error}); escaped stray '&' and HTML entities")
        return root

    parser = lxml_etree.XMLParser(
        recover=True,
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        lroot = lxml_etree.fromstring(repaired.encode("utf-8"), parser)
    except lxml_etree.LxmlError as err:
        raise OpmlError(f"{source}: not XML ({first_error})") from err
    if lroot is None:
        raise OpmlError(f"{source}: not XML ({first_error})")
    warnings.append(f"not well-formed XML ({first_error}); {_RECOVERED}")
    return _Node.from_lxml(lroot)


def _repair(text: str) -> str:
    """Make the commonest breakage well-formed: raw ``&`` and HTML named entities."""

    def named(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _XML_PREDEFINED:
            return match.group(0)
        char = html.entities.html5.get(name + ";")
        if char is None:
            return "&amp;" + name + ";"
        return "".join(f"&#{ord(c)};" for c in char)

    def numeric(match: re.Match[str]) -> str:
        decimal, hexadecimal = match.groups()
        code = int(decimal) if decimal else int(hexadecimal, 16)
        return match.group(0) if _is_xml_char(code) else "&#xFFFD;"

    text = _BARE_AMPERSAND.sub("&amp;", text)
    return _NUMERIC_REFERENCE.sub(numeric, _NAMED_REFERENCE.sub(named, text))


def _is_xml_char(code: int) -> bool:
    """XML 1.0 ``Char``: what a character reference may name."""
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


@dataclass(slots=True)
class _Node:
    """The parts of an element we use, so both parsers' trees look the same downstream."""

    tag: str  # local name, namespace dropped
    attrs: dict[str, str]  # local names lower-cased: xmlUrl, xmlurl and xmlURL are one
    text: str
    children: list[_Node]

    @classmethod
    def from_etree(cls, element: ET.Element) -> _Node:
        return cls._convert(element)

    @classmethod
    def from_lxml(cls, element: lxml_etree._Element) -> _Node:
        return cls._convert(element)

    @classmethod
    def _convert(cls, root: Any) -> _Node:
        """Copy an ElementTree or lxml tree; both expose tag, attrib, text and iteration.

        Iterative, so a document nested thousands deep cannot hit the recursion limit.
        lxml's comments and processing instructions (non-string tags) are dropped.
        """
        count = 0

        def make(element: Any) -> _Node:
            nonlocal count
            count += 1
            if count > _MAX_ELEMENTS:
                raise _TooManyElementsError
            try:
                attrs = {_local(str(k)).lower(): str(v) for k, v in element.attrib.items()}
                text = element.text or ""
            except ValueError:  # UnicodeDecodeError: lxml kept bytes it cannot give back
                attrs, text = {}, ""
            return cls(_local(str(element.tag)), attrs, text, [])

        top = make(root)
        stack = [(root, top)]
        while stack:
            element, node = stack.pop()
            for child in element:
                if isinstance(child.tag, str):
                    child_node = make(child)
                    node.children.append(child_node)
                    stack.append((child, child_node))
        return top


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _extract(root: _Node, source: str, warnings: list[str]) -> OpmlImport:
    if root.tag.lower() != "opml":
        raise OpmlError(f"{source}: root element is <{root.tag}>, not <opml>")
    body = next((c for c in root.children if c.tag.lower() == "body"), None)
    if body is None:
        raise OpmlError(f"{source}: <opml> has no <body>")
    head = next((c for c in root.children if c.tag.lower() == "head"), None)
    title_node = None
    if head is not None:
        title_node = next((c for c in head.children if c.tag.lower() == "title"), None)
    title = _clean(title_node.text) if title_node is not None else ""

    recovered = any(w.endswith(_RECOVERED) for w in warnings)
    feeds: list[OpmlFeed] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    outlines = 0
    # Everything but <head>: a recovering parse can close <body> early and leave the
    # rest of the outlines after it.
    for node, path in _walk([c for c in root.children if c is not head]):
        outlines += 1
        if outlines > MAX_OUTLINES:
            raise OpmlError(f"{source}: more than {MAX_OUTLINES} outlines")
        raw_url = node.attrs.get("xmlurl")
        label = _label(node)
        if raw_url is None:
            if not node.children:
                reason = "no xmlUrl: not a feed"
                if recovered:
                    reason += " (or its xmlUrl was lost to the damage in the document)"
                skipped.append(Skipped(_describe(node), reason))
            continue
        url = _clean(raw_url)
        problem = _url_problem(url)
        if problem:
            skipped.append(Skipped(_describe(node), problem))
            continue
        key = canonical_feed_url(url)
        if key in seen:
            skipped.append(Skipped(_describe(node), f"duplicate of {seen[key]}"))
            continue
        seen[key] = url
        name = label or (urlsplit(url).hostname or url)
        feeds.append(OpmlFeed(name=name, url=url, tags=_tags(path, node.attrs.get("category", ""))))
    return OpmlImport(tuple(feeds), tuple(skipped), title, tuple(warnings))


def _walk(top: list[_Node]) -> Iterator[tuple[_Node, tuple[str, ...]]]:
    """Yield every outline with the titles of the folders around it, in document order.

    Other elements are transparent: after a recovering parse, outlines that followed
    the damage often end up inside a stray element (``<a>`` from raw HTML in an
    attribute), and they are still the user's feeds.
    """
    stack: list[tuple[_Node, tuple[str, ...]]] = [(c, ()) for c in reversed(top)]
    while stack:
        node, path = stack.pop()
        inner = path
        if node.tag.lower() == "outline":
            yield node, path
            # A feed outline with children is rare; its children are not "in" the feed.
            if "xmlurl" not in node.attrs and (label := _label(node)):
                inner = (*path, label)
        stack.extend((c, inner) for c in reversed(node.children))


def _label(node: _Node) -> str:
    return _clean(node.attrs.get("title", "")) or _clean(node.attrs.get("text", ""))


def _clean(value: str) -> str:
    """One line of text: whitespace runs (newlines included) become one space."""
    return " ".join(value.split())


def _tags(path: tuple[str, ...], category: str) -> tuple[str, ...]:
    parts = [*path, *(_clean(p) for p in _CATEGORY_SEPARATORS.split(category))]
    return tuple(dict.fromkeys(p for p in parts if p))


def _url_problem(url: str) -> str:
    if not url:
        return "empty xmlUrl"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "malformed xmlUrl"
    if parts.scheme.lower() not in _FEED_SCHEMES:
        return f"unsupported URL scheme {parts.scheme or '(none)'!r}: only http and https"
    if not parts.hostname:
        return "xmlUrl has no host"
    return ""


def _describe(node: _Node) -> str:
    label = _label(node)
    url = node.attrs.get("xmlurl")
    bits = [f'"{label}"' if label else "(untitled)"]
    if url is not None:
        bits.append(f"xmlUrl={url.strip()!r}")
    return "outline " + " ".join(bits)


# --------------------------------------------------------------------------------------------
# Writing


def write_opml(feeds: Sequence[FeedConfig], *, title: str = "aggregator feeds") -> bytes:
    """Export feeds as an OPML 2.0 document in UTF-8.

    Built with ElementTree so every value is escaped by the XML library. Characters XML
    cannot carry at all (C0 controls) are dropped. A tag containing ``,`` or ``/`` comes
    back split, since OPML's ``category`` syntax has no escape for them.
    """
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _xml_safe(title)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attrs = {
            "type": "rss",
            "text": _xml_safe(feed.name),
            "title": _xml_safe(feed.name),
            "xmlUrl": _xml_safe(feed.url),
        }
        if feed.tags:
            attrs["category"] = ",".join(_xml_safe(t) for t in feed.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _xml_safe(value: str) -> str:
    return _XML_INVALID.sub("", value)
