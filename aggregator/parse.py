"""Parse stage: fetched bytes to a ``ParsedFeed``.

feedparser is always handed an ``io.BytesIO`` plus the response headers: never a URL and
never a bare ``str``/``bytes``, which it would treat as a path or URL and read itself
(POLITENESS_AND_SECURITY.md 2.1). Nothing of feedparser leaves this module.
"""

from __future__ import annotations

import calendar
import copy
import copyreg
import functools
import io
import itertools
import re
import time
import types
import urllib.parse
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import feedparser
import feedparser.api
import feedparser.encodings
import feedparser.mixin
import feedparser.urls
import feedparser.util
from defusedxml import ElementTree as SafeET
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from aggregator.errors import ErrorClass, ParseError
from aggregator.fetch.screen import declares_entities
from aggregator.hollow import Hollow, edited, find_sections, restore
from aggregator.itemscan import scan_items, without
from aggregator.model import Enclosure, MediaItem, ParsedEntry, ParsedFeed, Text
from aggregator.unread import unread_spans

# feedparser's own sanitizer and relative-URI resolver redo work that the extractor does
# anyway (it reduces HTML to plain text and resolves URLs itself), and they are the bulk of
# feedparser's time on HTML-heavy feeds; the extractor is the one place that cleans.
FEEDPARSER_OPTIONS: dict[str, Any] = {"sanitize_html": False, "resolve_relative_uris": False}


#: Longest base and relative URI together whose check is remembered.
_REMEMBERED_URI_CHARS = 4096


def _remember_base_uri_checks() -> None:
    """Answer feedparser's base-URI check from memory.

    feedparser checks its base URI at every start tag (``make_safe_absolute_uri(base,
    base)``: a regex and ``urljoin``, in ``feedparser.mixin``), although a feed's base
    seldom changes; with the answers kept, the first parse of a bench feed takes 0.8 x the
    time (``python -m bench.parsecost``). The check is a pure function of its two strings
    and of ``feedparser.urls.ACCEPTABLE_URI_SCHEMES``, so its answers are kept (256 of
    them, forgotten if that tuple is replaced). Only for URIs of up to
    ``_REMEMBERED_URI_CHARS``: a hostile document's megabyte-long ``xml:base`` values must
    not stay in a parse process's memory after it. Left alone when feedparser's internals
    are not the ones this was written against (docs/design.md).
    """
    original = getattr(feedparser.mixin, "make_safe_absolute_uri", None)
    if original is None or original is not feedparser.urls.make_safe_absolute_uri:
        return
    cached = functools.lru_cache(maxsize=256)(original)
    schemes = feedparser.urls.ACCEPTABLE_URI_SCHEMES  # those the kept answers were made with

    def make_safe_absolute_uri(base: str, rel: str | None = None) -> str:
        nonlocal schemes
        if feedparser.urls.ACCEPTABLE_URI_SCHEMES is not schemes:
            schemes = feedparser.urls.ACCEPTABLE_URI_SCHEMES
            cached.cache_clear()
        try:
            if len(base) + len(rel or "") <= _REMEMBERED_URI_CHARS:
                return cached(base, rel)  # type: ignore[no-any-return]
        except TypeError:  # an unhashable or unsized argument: not from feedparser's calls
            pass
        return original(base, rel)  # type: ignore[no-any-return]

    make_safe_absolute_uri.cache = cached  # type: ignore[attr-defined]
    feedparser.mixin.make_safe_absolute_uri = make_safe_absolute_uri


_remember_base_uri_checks()

#: An absolute URL that ``urllib.parse.urljoin`` gives back unchanged whatever the base is
#: (a base that itself parses): http or https in lower case (``urlsplit`` lowers a scheme),
#: a host name of lower-case ASCII letters, digits, hyphens and dots, then perhaps a path
#: without ``;`` (a last segment's ``;`` begins parameters, and an empty parameter is
#: dropped) and a query that is not empty (an empty one is dropped); no fragment, and no
#: space or control character (``urlsplit`` strips or removes some). Shown equal for every
#: code point in the path, the query, the host and the scheme
#: (``tests/extract/test_plain_joins.py``).
_JOINS_TO_ITSELF_RE = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?:/[^\x00-\x20\x7f;?#]*)?(?:\?[^\x00-\x20\x7f#]+)?"
)
#: How many bases are remembered as parsing or not (the least recently used is forgotten).
_REMEMBERED_BASES = 256


def _base_parses(base: str) -> bool:
    """Whether ``urljoin`` can read ``base`` (it raises ValueError for a bad host)."""
    try:
        urllib.parse.urlparse(base)
    except ValueError:
        return False
    return True


def _plain_joins() -> None:
    """Answer feedparser's join of an absolute link to its base without ``urljoin``.

    feedparser makes every link, id, ``href`` and ``url`` absolute (``resolve_uri``, in
    ``pop`` and in the link handlers) with ``feedparser.urls._urljoin``: a regular
    expression, then ``urllib.parse.urljoin``, which parses both URLs and puts the link
    back together; about 6 µs a call, 1.3 calls an entry of a bench feed. Nearly every
    link of a feed is already absolute, and for one ``_JOINS_TO_ITSELF_RE`` matches, both
    steps give it back unchanged, unless the base cannot be parsed (then feedparser's
    answer is ""): such a link is answered with itself, once its base is known to parse.
    Any other link, base or argument goes to feedparser's function. Done only while
    ``feedparser.mixin`` uses feedparser's own function (docs/design.md).
    """
    original = getattr(feedparser.mixin, "_urljoin", None)
    if original is None or original is not feedparser.urls._urljoin:
        return
    fullmatch = _JOINS_TO_ITSELF_RE.fullmatch
    parses = functools.lru_cache(maxsize=_REMEMBERED_BASES)(_base_parses)

    def _urljoin(base: Any, uri: Any) -> Any:
        if type(uri) is str and type(base) is str and fullmatch(uri) is not None:
            if not base:
                return uri  # urljoin's answer without a base
            # As the base-URI checks above: a hostile long base is checked, not kept.
            check = parses if len(base) <= _REMEMBERED_URI_CHARS else _base_parses
            if check(base):
                return uri
        return original(base, uri)

    _urljoin.original = original  # type: ignore[attr-defined]
    _urljoin.bases = parses  # type: ignore[attr-defined]
    feedparser.mixin._urljoin = _urljoin


_plain_joins()


def _named_keys(*functions: Any) -> frozenset[str]:
    """Every string constant in the code of ``functions`` (nested code included)."""
    names: set[str] = set()
    codes = [f.__code__ for f in functions]
    while codes:
        code = codes.pop()
        for const in code.co_consts:
            if isinstance(const, str):
                names.add(const)
            elif isinstance(const, types.CodeType):
                codes.append(const)
    return frozenset(names)


def _direct_dict_lookups() -> None:
    """Look up ``FeedParserDict`` keys without feedparser's detours for ordinary keys.

    feedparser reads its own dictionaries (an element's ``contentparams`` above all)
    through ``FeedParserDict.get``: a call of ``__getitem__`` that first compares the key
    with five special names, then maps it through ``keymap``, and raises and catches a
    ``KeyError`` for every missing key: about 180 lookups an entry of a bench feed. For a
    ``str`` key that its code never names, the answer is the ``keymap`` step alone, done
    here directly; any other key (the special names and every string constant of
    ``__getitem__`` and ``__contains__``, a ``str`` subclass, a key of another type) and
    any subclass's instance still go through feedparser's own method. Parsing and
    extracting a bench feed takes 0.95 x the time (``docs/performance.md``). Done
    only while the three methods are feedparser's own; shown equal on the whole corpus
    and key by key (``tests/extract/test_feedparser_dict.py``).
    """
    cls = feedparser.util.FeedParserDict
    getitem, contains, get = cls.__getitem__, cls.__contains__, cls.get
    if not all(
        getattr(f, "__module__", None) == "feedparser.util"
        and getattr(f, "__qualname__", "").startswith("FeedParserDict.")
        for f in (getitem, contains, get)
    ):
        return
    named = _named_keys(getitem, contains)
    has = dict.__contains__
    value = dict.__getitem__
    missing = object()

    def fast_get(self: dict[str, Any], key: Any, default: Any = None) -> Any:
        if type(key) is str and type(self) is cls and key not in named:
            # ``__getitem__``'s last branch, with ``default`` for its KeyError.
            real = self.keymap.get(key, key)  # type: ignore[attr-defined]
            if isinstance(real, list):
                for k in real:
                    if has(self, k):
                        return value(self, k)
            elif has(self, real):
                return value(self, real)
            return value(self, key) if has(self, key) else default
        return get(self, key, default)

    def fast_getitem(self: dict[str, Any], key: Any) -> Any:
        if type(key) is str and type(self) is cls and key not in named:
            found = fast_get(self, key, missing)
            if found is not missing:
                return found
            raise KeyError(key)
        return getitem(self, key)

    def fast_contains(self: dict[str, Any], key: Any) -> bool:
        if type(key) is str and type(self) is cls and key not in named:
            return fast_get(self, key, missing) is not missing
        return contains(self, key)  # type: ignore[no-any-return]

    replaced: tuple[tuple[str, Any, Any], ...] = (
        ("__getitem__", fast_getitem, getitem),
        ("__contains__", fast_contains, contains),
        ("get", fast_get, get),
    )
    for name, fast, original in replaced:
        fast.original = original
        setattr(cls, name, fast)
    cls.has_key = fast_contains


def _direct_deep_copies() -> None:
    """Deep-copy a ``FeedParserDict`` the way ``copy.deepcopy`` does, without its detours.

    feedparser deep-copies an element's ``contentparams`` for every title, summary and
    content it keeps (three times an entry on the bench feeds, 16 µs each). Without a
    ``__deepcopy__``, ``copy.deepcopy`` first asks the dictionary for one (a ``KeyError``
    raised and caught in ``__getattr__``), then reduces it (protocol 4: the class, the
    instance's attributes, its items) and rebuilds it: a new instance, the attributes
    deep-copied, each item deep-copied and set through ``__setitem__`` (so through
    ``keymap``, as here). This method does those same steps directly. Installed only
    while the class has no copy or pickle hooks of its own; shown equal to the reduce
    path (``tests/extract/test_feedparser_dict.py``).
    """
    cls = feedparser.util.FeedParserDict
    hooks = ("__deepcopy__", "__copy__", "__reduce_ex__", "__reduce__", "__getstate__")
    if any(name in cls.__dict__ for name in (*hooks, "__setstate__", "__slots__")):
        return
    if cls in copyreg.dispatch_table:
        return
    deepcopy = copy.deepcopy

    def __deepcopy__(self: dict[Any, Any], memo: dict[int, Any]) -> dict[Any, Any]:
        kind = type(self)
        copied = kind.__new__(kind)
        memo[id(self)] = copied
        attributes = self.__dict__
        if attributes:
            copied.__dict__.update(deepcopy(attributes, memo))
        for key, value in self.items():
            copied[deepcopy(key, memo)] = deepcopy(value, memo)
        return copied

    cls.__deepcopy__ = __deepcopy__


#: Code points the windows-1252 table below answers directly: the Basic Multilingual Plane.
_TABLE_SIZE = 0x10000


def _quick_windows_1252_fixes() -> None:
    """Map windows-1252's C1 characters by indexing a string, not by a dictionary's misses.

    feedparser's ``pop`` runs ``output.translate(_cp1252)`` on every text it keeps; the
    table holds only U+0080-U+009F, so each other character's lookup fails, and
    ``str.translate`` raises and clears a ``KeyError`` for it (for every distinct character
    of an ASCII text, for every character of any other): 5 % of parsing and extracting a
    bench feed. ``translate`` also takes a sequence: here a string of the Basic
    Multilingual Plane, each code point mapped as feedparser's table maps it and to
    itself otherwise. A code point past its end raises ``IndexError``, a ``LookupError``,
    which ``translate`` answers as it does a missing key: with the character itself.
    Same text for every code point (``tests/extract/test_windows_1252.py``); 128 KiB, built
    once. Done only while feedparser's table is a plain ``dict`` of single characters
    inside that plane.
    """
    original = getattr(feedparser.mixin, "_cp1252", None)
    if type(original) is not dict or not all(
        type(code) is int and 0 <= code < _TABLE_SIZE and type(to) is str and len(to) == 1
        for code, to in original.items()
    ):
        return
    table = list(map(chr, range(_TABLE_SIZE)))
    for code, to in original.items():
        table[code] = to
    feedparser.mixin._cp1252 = "".join(table)


def _text_in_one_piece() -> None:
    """Have feedparser read every document with ``aggregator.sax``'s expat driver, which
    hands each run of text over in one call instead of one a line and one a reference.

    The same results by SAX's contract (the module says why), shown on the whole corpus
    (``tests/extract/test_sax.py``). Parsing and extracting a bench feed: see
    docs/performance.md.
    """
    feedparser.api.PREFERRED_XML_PARSERS = ["aggregator.sax"]


#: Element names remembered by ``_remembered_element_names`` (each of start and end tags).
_REMEMBERED_NAMES = 1024
#: Longest namespace URI and local name together whose element name is remembered.
_REMEMBERED_NAME_CHARS = 512


def _start_name(namespace: Any, localname: Any, matched: Mapping[str, str]) -> str | None:
    """The name feedparser's ``startElementNS`` gives ``unknown_starttag`` for an element
    expat reports without a qualified name, or None where that name depends on the
    document (a namespace feedparser does not know: then it looks for the namespace's
    prefix among those declared so far) or where the method does more than name it
    (MathML and SVG roots, which get an ``xmlns`` attribute). The same steps in the same
    order as the method's own."""
    lowernamespace = str(namespace or "").lower()
    if lowernamespace.find("backend.userland.com/rss") != -1:
        namespace = "http://backend.userland.com/rss"
        lowernamespace = namespace
    prefix = matched.get(lowernamespace)
    local = str(localname).lower()
    if local in ("math", "svg"):
        return None
    if prefix:
        local = prefix.lower() + ":" + local
    elif namespace and prefix is None:
        return None
    # A known namespace whose prefix is "" (RSS 1.0, Atom, ...) is never found among the
    # declared ones under a prefix: feedparser files every known namespace under its own
    # prefix (``track_namespace``), so the method's search finds nothing and the name
    # stays as it is (tests/extract/test_element_names.py).
    return local


def _end_name(namespace: Any, localname: Any, matched: Mapping[str, str]) -> str | None:
    """The name feedparser's ``endElementNS`` gives ``unknown_endtag``, as ``_start_name``
    (None where it depends on the document)."""
    lowernamespace = str(namespace or "").lower()
    prefix = matched.get(lowernamespace, "")
    if prefix:
        localname = prefix + ":" + localname
    elif namespace and lowernamespace not in matched:
        return None
    return str(localname).lower()


def _remembered_element_names() -> None:
    """Name each element for feedparser from memory, not anew at each tag.

    For every start and end tag, feedparser's strict parser (``startElementNS``,
    ``endElementNS`` in ``feedparser.parsers.strict``) turns expat's namespace and local
    name into its own element name (``content:encoded``, ``title``): it lowers the
    namespace, looks it up among the namespaces it knows, lowers the name, and so on,
    about 5 µs a tag and 24 tags an entry of a bench feed. For an element of a namespace
    it knows (or of none), the name depends on those two strings only
    (``_start_name``, ``_end_name``); such names are remembered (up to
    ``_REMEMBERED_NAMES`` of each kind, names of up to ``_REMEMBERED_NAME_CHARS``), and the
    rest of each method (its declarations and attributes) is done as the method does it.
    Any other element, a qualified name (expat gives none) or a subclass's instance goes
    to feedparser's own method. Done only while the methods are feedparser's own and the
    known namespaces are the class's shared table; shown equal on the whole corpus
    (``tests/extract/test_element_names.py``).
    """
    strict = feedparser.api.StrictFeedParser
    start, end = strict.startElementNS, strict.endElementNS
    if not all(
        getattr(f, "__qualname__", "") == f"_StrictFeedParser.{name}"
        and getattr(f, "__module__", None) == "feedparser.parsers.strict"
        for f, name in ((start, "startElementNS"), (end, "endElementNS"))
    ):
        return
    matched = strict._matchnamespaces
    if type(matched) is not dict:
        return
    starts: dict[Any, str | None] = {}
    ends: dict[Any, str | None] = {}
    missing = object()

    def remembered(
        names: dict[Any, str | None],
        name: Any,
        compute: Any,
    ) -> str | None:
        found = names.get(name, missing)
        if found is not missing:
            return found  # type: ignore[return-value]
        if type(name) is not tuple or len(name) != 2:
            return None
        namespace, localname = name
        if type(localname) is not str or not (namespace is None or type(namespace) is str):
            return None
        result = compute(namespace, localname, matched)
        if (
            len(names) < _REMEMBERED_NAMES
            and len(localname) + len(namespace or "") <= _REMEMBERED_NAME_CHARS
        ):
            names[name] = result
        return result  # type: ignore[no-any-return]

    def startElementNS(self: Any, name: Any, qname: Any, attrs: Any) -> None:
        local = None
        if qname is None and type(self) is strict and self._matchnamespaces is matched:
            local = remembered(starts, name, _start_name)
        if local is None:
            start(self, name, qname, attrs)
            return
        attrs_d, self.decls = self.decls, {}
        if attrs:
            # The rest of feedparser's method, as it is there.
            for (namespace, attrlocalname), attrvalue in attrs.items():
                prefix = matched.get((namespace or "").lower(), "")
                attrname = prefix + ":" + attrlocalname if prefix else attrlocalname
                attrs_d[str(attrname).lower()] = attrvalue
            for attrqname in attrs.getQNames():
                attrs_d[str(attrqname).lower()] = attrs.getValueByQName(attrqname)
        self.unknown_starttag(local, list(attrs_d.items()))

    def endElementNS(self: Any, name: Any, qname: Any) -> None:
        local = None
        if qname is None and type(self) is strict and self._matchnamespaces is matched:
            local = remembered(ends, name, _end_name)
        if local is None:
            end(self, name, qname)
            return
        self.unknown_endtag(local)

    startElementNS.original = start  # type: ignore[attr-defined]
    endElementNS.original = end  # type: ignore[attr-defined]
    startElementNS.names = starts  # type: ignore[attr-defined]
    endElementNS.names = ends  # type: ignore[attr-defined]
    strict.startElementNS = startElementNS
    strict.endElementNS = endElementNS


_direct_dict_lookups()
_direct_deep_copies()
_remembered_element_names()
_quick_windows_1252_fixes()
_text_in_one_piece()


_DAYS = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"})

# Headers that feedparser reads; Content-Encoding is dropped on purpose: the body we hand
# over is already decoded (POLITENESS_AND_SECURITY.md 1.8).
_PASSED_HEADERS = ("content-type", "content-language", "content-location")


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    max_entries: int | None = None,
    known_items: frozenset[bytes] | None = None,
    context: bytes = b"",
    categories: bool = True,
) -> ParsedFeed:
    """Parse one fetched document.

    Raises ``ParseError`` when the body is empty or is not a feed at all (an HTML page, an
    unrelated XML document). A feed that is not well-formed but still yields a feed is
    returned with ``bozo=True``. With ``max_entries``, entries past that many are cut from
    the document before feedparser reads it (feedparser took 27 s for 100,000 entries).

    With ``known_items`` (keys of items seen before, from ``item_keys`` of an earlier
    result; ``context`` is mixed into every key), the items whose key is known are cut
    from the document too and only the others become ``entries``; the result's
    ``item_keys`` are then the keys of every item within ``max_entries``, in order, and
    ``skipped_items`` says how many were known. When the document cannot be cut safely,
    or the cut one does not parse to exactly the items kept, the whole document is
    parsed and nothing is skipped.

    With ``categories=False`` (no rule reads them), every entry's ``categories`` is empty,
    and the new items' ``<category>`` elements may be left out of what feedparser reads
    (unread.py); mix the choice into ``context``, as the pipeline does with its rules.
    """
    if not body.strip():
        raise ParseError(url, ErrorClass.PARSE, "empty body")
    response_headers = feedparser_headers(url, headers)
    scan = None
    known_keys = known_items or frozenset()
    if known_items is not None:
        scan = scan_items(
            body,
            context=url.encode() + b"\0" + context,
            headers=response_headers,
            limit=max_entries,
        )
    if scan is None:
        if max_entries is not None:
            body = _first_entries(body, max_entries)
        return _parse(body, url, response_headers, categories)[0]
    kept = scan.items
    beyond = [scan.rest] if scan.rest is not None else []
    known = [span for span in kept if span.key in known_keys]
    keys = tuple(span.key for span in kept)
    whole = without(body, beyond)
    # The new items' large CDATA sections are kept away from feedparser too (hollow.py),
    # and so are the elements nobody reads (unread.py).
    new = [s for s in kept if s.key not in known_keys]
    hollow = find_sections(body, [(s.start, s.end) for s in new])
    unread = unread_spans(body, new, categories_unread=not categories)
    if known or hollow is not None or unread:
        as_read = _encoding_as_read(whole, response_headers)
        if as_read[0].lower() != "utf-8":
            hollow = None  # the sections' text is put back as UTF-8 only
            unread = ()  # and only UTF-8 is known to be what expat accepts
        if known or hollow is not None or unread:
            cuts = [(s.start, s.end) for s in (*known, *beyond)] + list(unread)
            cut = _parse_cut(body, cuts, hollow, as_read, url, response_headers, categories)
            if cut is not None and len(cut.entries) == len(kept) - len(known):
                return replace(cut, item_keys=keys, skipped_items=len(known))
    parsed, strict, _ = _parse(whole, url, response_headers, categories)
    if not strict or len(parsed.entries) != len(kept):
        return parsed  # no keys: next time it is parsed whole again
    return replace(parsed, item_keys=keys)


def feedparser_headers(url: str, headers: Mapping[str, str] | None) -> dict[str, str]:
    """What feedparser is told of a response: the document's URL (the base of its relative
    links) and those of ``headers`` (lower-case names) that change how it reads it."""
    response_headers = {"content-location": url}
    for name in _PASSED_HEADERS:
        if headers and name in headers:
            response_headers[name] = headers[name]
    return response_headers


def _parse_cut(
    body: bytes,
    cuts: list[tuple[int, int]],
    hollow: Hollow | None,
    as_read: tuple[str, str],
    url: str,
    response_headers: dict[str, str],
    categories: bool = True,
) -> ParsedFeed | None:
    """``body`` without the ``cuts`` and with ``hollow``'s sections replaced, parsed, if
    feedparser read it as it would have read the whole document (``as_read``: its encoding
    and complaint), the sections' text put back. When the text cannot be put back, a cut
    document is parsed again with its sections in place (an uncut one is the caller's
    whole parse)."""
    try:
        parsed, strict, encoding = _parse(
            edited(body, cuts, hollow), url, response_headers, categories
        )
    except ParseError:  # e.g. no version to tell it is a feed once its items are gone
        return None
    # feedparser picks one encoding for the whole document: a byte that is not UTF-8 in an
    # item left out would have made it read the rest as windows-1252.
    if not strict or (encoding, parsed.bozo_message) != as_read:
        return None
    if hollow is None:
        return parsed
    restored = restore(parsed, body, hollow)
    if restored is None and cuts:  # e.g. a description that feedparser reads as text/plain
        return _parse_cut(body, cuts, None, as_read, url, response_headers, categories)
    return restored


def _parse(
    body: bytes, url: str, response_headers: dict[str, str], categories: bool = True
) -> tuple[ParsedFeed, bool, str]:
    """The document parsed (its entries without categories unless asked), whether
    feedparser's XML parser read it (not its loose one), and the encoding feedparser read
    it in.

    Only a document read strictly is cut into items: the loose parser's view of a
    malformed document may change when a part of it is left out.
    """
    if _declares_entities_as_read(body, response_headers):
        raise ParseError(url, ErrorClass.ENTITIES, "the document declares XML entities")
    try:
        result = feedparser.parse(
            io.BytesIO(body), response_headers=response_headers, **FEEDPARSER_OPTIONS
        )
    except Exception as err:  # feedparser bugs on hostile input must not kill a run
        raise ParseError(url, ErrorClass.PARSE, f"feedparser failed: {err!r}") from err
    version = result.get("version") or ""
    entries = result.get("entries") or []
    if not version and not entries:
        reason = result.get("bozo_exception")
        raise ParseError(url, ErrorClass.PARSE, f"not a feed ({reason or 'no feed element'})")
    feed = result.get("feed") or {}
    skip_hours, skip_days = _skip_hints(body)
    # An encoding problem alone (NonXMLContentType, CharacterEncodingOverride) still lets
    # feedparser use its XML parser; anything else in ``bozo_exception`` means it did not.
    problem = result.get("bozo_exception")
    strict = bool(result.get("encoding")) and (
        not result.get("bozo") or isinstance(problem, ThingsNobodyCaresAboutButMe)
    )
    parsed = ParsedFeed(
        url=url,
        title=_str(feed.get("title")),
        link=_str(feed.get("link")),
        language=_str(feed.get("language")),
        version=version,
        bozo=bool(result.get("bozo")),
        bozo_message=str(result.get("bozo_exception") or "")[:500],
        ttl_minutes=_int(feed.get("ttl")),
        sy_update_period=_str(feed.get("sy_updateperiod")).strip().lower(),
        sy_update_frequency=_int(feed.get("sy_updatefrequency")),
        skip_hours=skip_hours,
        skip_days=skip_days,
        entries=tuple(_entry(e, url, categories) for e in entries),
    )
    return parsed, strict, str(result.get("encoding") or "")


def _encoding_as_read(body: bytes, response_headers: Mapping[str, str]) -> tuple[str, str]:
    """The encoding feedparser would read ``body`` in, and its complaint (``bozo_message``)."""
    result: dict[str, Any] = {}
    try:
        feedparser.encodings.convert_to_utf8(dict(response_headers), body, result)
    except Exception:  # feedparser bugs on hostile input: no cut is accepted then
        return "", "unknown"
    return str(result.get("encoding") or ""), str(result.get("bozo_exception") or "")[:500]


_ENTRY_START_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_ENTRY_END_RE = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")


def _first_entries(body: bytes, limit: int) -> bytes:
    """``body`` without the entries after the first ``limit`` (RSS items, Atom entries).

    The entries past the limit are a contiguous run up to the last entry's end tag, so
    cutting from the start tag of entry ``limit + 1`` to there keeps the document
    well-formed. Only ASCII-compatible encodings are cut; a UTF-16 document is read whole
    (and is still bounded by the decoded-size cap).
    """
    cut = next(itertools.islice(_ENTRY_START_RE.finditer(body), limit, None), None)
    if cut is None:
        return body
    last_end = None
    for last_end in _ENTRY_END_RE.finditer(body, cut.start()):  # noqa: B007 (want the last)
        pass
    if last_end is None:
        return body[: cut.start()]
    return body[: cut.start()] + body[last_end.end() :]


def _declares_entities_as_read(body: bytes, response_headers: Mapping[str, str]) -> bool:
    """The entity screen (POLITENESS_AND_SECURITY.md 2.2) on the text feedparser will parse.

    The fetch stage screens the raw bytes as UTF-8/16/32, but feedparser also honours an
    encoding named by the XML declaration or the Content-Type charset (EBCDIC ``cp037``,
    ``utf-7``: ``+ADw-!ENTITY``), and expat (before 2.7.2) still expands a billion laughs
    up to its amplification limit (about 1 s and 50 MB). So the document is also screened
    after feedparser's own conversion to UTF-8, which is what its parsers are given.
    """
    if declares_entities(body):
        return True
    try:
        as_read = feedparser.encodings.convert_to_utf8(dict(response_headers), body, {})
    except Exception:  # feedparser bugs on hostile input: let parse() report the document
        return False
    return as_read != body and declares_entities(as_read)


def _entry(e: Mapping[str, Any], feed_url: str, categories: bool = True) -> ParsedEntry:
    title = _text(e.get("title_detail"), e.get("title"))
    summary = _text(e.get("summary_detail"), e.get("summary"))
    content = tuple(_text(c, None) for c in e.get("content") or () if isinstance(c, Mapping))
    base = ""
    for detail in (e.get("summary_detail"), e.get("title_detail")):
        if isinstance(detail, Mapping) and detail.get("base"):
            base = str(detail["base"])
            break
    guid = _str(e.get("id"))
    link = _str(e.get("link"))
    # feedparser copies a permalink guid into ``link`` when the item has none.
    guid_is_permalink = bool(e.get("guidislink"))
    credits = e.get("media_credit") or ()
    credit = ""
    for c in credits if isinstance(credits, list) else ():
        if isinstance(c, Mapping) and _str(c.get("content")).strip():
            credit = _str(c.get("content")).strip()
            break
    image = e.get("image")
    itunes_image = _str(image.get("href")) if isinstance(image, Mapping) else ""
    return ParsedEntry(
        guid=guid,
        guid_is_permalink=guid_is_permalink,
        link=link,
        orig_link=_str(e.get("feedburner_origlink")),
        title=title,
        summary=summary,
        content=content,
        # dict.get: FeedParserDict.get("updated_parsed") falls back to the published date
        # with a DeprecationWarning; we want exactly what the feed said.
        published=_datetime(_own(e, "published_parsed")),
        updated=_datetime(_own(e, "updated_parsed")),
        media_content=tuple(_media(m) for m in _dicts(e.get("media_content"))),
        media_thumbnails=tuple(_media(m) for m in _dicts(e.get("media_thumbnail"))),
        media_credit=credit,
        enclosures=_enclosures(e),
        itunes_image=itunes_image,
        categories=tuple(
            _str(t.get("term") or t.get("label")).strip()
            for t in _dicts(e.get("tags"))
            if _str(t.get("term") or t.get("label")).strip()
        )
        if categories
        else (),
        base_url=base or feed_url,
    )


def _enclosures(e: Mapping[str, Any]) -> tuple[Enclosure, ...]:
    """The entry's links marked ``rel="enclosure"``, read from its ``links`` list.

    Not from feedparser's ``enclosures`` key: that one is computed from ``links`` on each
    read and raises ``TypeError`` when ``links`` is not a list of links, which an element
    named ``links`` in an item makes it (a text); the whole feed then failed. The same
    enclosures otherwise (``tests/extract/test_enclosures.py``).
    """
    return tuple(
        Enclosure(
            url=_str(x.get("href")), mime_type=_str(x.get("type")), length=_int(x.get("length"))
        )
        for x in _dicts(e.get("links"))
        if x.get("rel") == "enclosure" and x.get("href")
    )


def _own(e: Mapping[str, Any], key: str) -> Any:
    """A key the entry really has, bypassing FeedParserDict's aliasing fallbacks."""
    return dict.get(e, key) if isinstance(e, dict) else e.get(key)


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, Mapping)]


def _media(m: Mapping[str, Any]) -> MediaItem:
    return MediaItem(
        url=_str(m.get("url")),
        medium=_str(m.get("medium")).lower(),
        mime_type=_str(m.get("type")).lower(),
        width=_int(m.get("width")),
        height=_int(m.get("height")),
    )


def _text(detail: Any, fallback: Any) -> Text:
    if isinstance(detail, Mapping):
        return Text(_str(detail.get("value")), _str(detail.get("type")) or "text/html")
    return Text(_str(fallback), "text/html")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


_SKIP_RE = re.compile(rb"<(?:\w+:)?skip(?:Hours|Days)\b")


def _skip_hints(body: bytes) -> tuple[frozenset[int], frozenset[str]]:
    """Read RSS ``skipHours``/``skipDays`` ourselves: feedparser keeps only the last value.

    Parsed with defusedxml (entities forbidden); any problem means "no hint".
    """
    if not _SKIP_RE.search(body):
        return frozenset(), frozenset()
    try:
        root = SafeET.fromstring(body, forbid_dtd=False, forbid_entities=True)
    except Exception:  # hints are optional: a document we cannot read gives none
        return frozenset(), frozenset()
    hours: set[int] = set()
    days: set[str] = set()
    for parent in root.iter():
        parent_tag = _local(parent.tag)
        if parent_tag not in ("skipHours", "skipDays"):
            continue
        for el in parent:
            text = (el.text or "").strip()
            if parent_tag == "skipHours" and _local(el.tag) == "hour" and text.isdigit():
                if 0 <= int(text) <= 23:
                    hours.add(int(text))
            elif parent_tag == "skipDays" and _local(el.tag) == "day" and text.lower() in _DAYS:
                days.add(text.lower())
    return frozenset(hours), frozenset(days)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


__all__ = ["FEEDPARSER_OPTIONS", "feedparser_headers", "parse_feed"]
