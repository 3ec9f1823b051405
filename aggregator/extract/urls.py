"""URL hygiene: the canonical form used as identity, and absolute http(s) URLs for output.

Both functions take anything a hostile feed can put in an attribute and answer ``""``
rather than raise: a URL we cannot make safe is a URL we do not use.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048

# Click and campaign identifiers: they make one article look like many.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_ga",
        "_gl",
        "yclid",
        "ref_src",
        "ref_url",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mkt_tok",
        "wickedid",
        "oly_anon_id",
        "oly_enc_id",
        "_hsenc",
        "_hsmi",
        "vero_id",
        "s_cid",
        "spm",
        "share",
        "cmpid",
        "__twitter_impression",
        "at_medium",
        "at_campaign",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What browsers drop from a URL before reading its scheme: ASCII tab and newlines anywhere,
# C0 controls and spaces at both ends (WHATWG URL standard).
_STRIPPED_ANYWHERE_RE = re.compile("[\t\n\r]")
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")
_EDGE = "".join(chr(c) for c in range(0x21)) + "\x7f\x85\xa0\u2028\u2029\ufeff"
# Character references a feed may have left in an attribute (``&#106;avascript:``,
# ``javascript&colon;``). Named ones need their ";" so query strings like ``&copy=1`` survive.
_CHARREF_RE = re.compile(r"&(?:#[0-9]{1,7};?|#[xX][0-9A-Fa-f]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")
# Kept as-is when re-quoting: reserved characters, "%" (already-escaped octets) and "~".
# Parentheses, spaces, quotes and angle brackets are escaped so a URL cannot end a Markdown
# link or an HTML attribute early.
_SAFE = "/:?#[]@!$&'*+,;=%~-._"
# Kept as-is in a user name and password: what RFC 3986 allows there (sub-delimiters, ":",
# "%" and the unreserved characters quote never escapes) but parentheses, as in ``_SAFE``;
# "@", spaces, quotes and angle brackets are escaped (a URL is one token wherever it goes).
_USERINFO_SAFE = "!$&'*+,;=:%~-._"
# A host name (letters, digits, hyphens, underscores and dots; IDNA names are ASCII by
# then) or an IPv6 literal. RFC 3986 allows more in a name ("!$&'()*+,;="), but no name of
# the DNS holds them.
_HOST_RE = re.compile(r"[a-z0-9_.-]+|[0-9a-f:.]+")


# A URL that ``_prepare`` leaves as it is and ``_normalise`` only escapes the path of: http
# or https, a lower-case ASCII host name with neither port nor user, a path, no query or
# fragment, and none of the characters ``_prepare`` removes or decodes anywhere in it
# (``_plain``; tests/extract/test_urls.py shows it equal to the whole way).
_PLAIN_URL_RE = re.compile(
    r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)"
    r"(/[^\x00-\x20\x7f-\x9f\xa0\u2028\u2029\ufeff?#&\\]*)"
)


def _plain(url: str) -> str | None:
    """``_normalise(_prepare(url))`` of a URL ``_PLAIN_URL_RE`` matches, else None.

    The same for ``canonical_url`` and ``absolute_url``: such a URL has no query or
    fragment to drop and no base to be joined to. Most links and picture URLs are such
    URLs: an ASCII link in 3 µs instead of 13 (docs/performance.md).
    """
    match = _PLAIN_URL_RE.fullmatch(url)
    if match is None:
        return None
    result = f"{match[1]}://{match[2]}{quote(match[3], safe=_SAFE)}"
    return result if len(result) <= MAX_URL_LENGTH else ""


def _decode_charrefs(url: str) -> str:
    for _ in range(3):
        decoded = _CHARREF_RE.sub(lambda m: html.unescape(m.group(0)), url)
        if decoded == url:
            break
        url = decoded
    return url


def _prepare(url: str) -> str:
    if not isinstance(url, str):
        return ""
    url = _STRIPPED_ANYWHERE_RE.sub("", _decode_charrefs(url)).strip(_EDGE)
    # A control character left inside is either an attack on a scheme check or garbage.
    return "" if _CONTROL_RE.search(url) else url


def _host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    if not host or host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return ""


def _normalise(url: str, *, drop_tracking: bool) -> str:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return ""
        host = _host(parts.hostname or "")
        port = parts.port
    except (ValueError, UnicodeError):
        return ""
    if not _HOST_RE.fullmatch(host):
        return ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        userinfo = quote(parts.netloc.rpartition("@")[0], safe=_USERINFO_SAFE)
        netloc = f"{userinfo}@{netloc}"
    query = parts.query
    if drop_tracking and query:
        kept = []
        for pair in query.split("&"):
            name = unquote(pair.partition("=")[0]).strip().lower()
            if not pair or name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES):
                continue
            kept.append(pair)
        query = "&".join(kept)
    path = parts.path or "/"
    fragment = "" if drop_tracking else parts.fragment
    result = urlunsplit(
        (
            scheme,
            netloc,
            quote(path, safe=_SAFE),
            quote(query, safe=_SAFE),
            quote(fragment, safe=_SAFE),
        )
    )
    return result if len(result) <= MAX_URL_LENGTH else ""


def canonical_url(url: str) -> str:
    """The identity form of an http(s) URL, or ``""``.

    Scheme and host lower-cased (IDNA hosts to punycode), default port and fragment dropped,
    tracking parameters removed with the order of the others kept, unsafe characters
    percent-encoded. Never raises.
    """
    if type(url) is str and (plain := _plain(url)) is not None:
        return plain
    return _normalise(_prepare(url), drop_tracking=True)


def absolute_url(url: str, base: str = "") -> str:
    """``url`` resolved against ``base`` if the result is an http(s) URL, else ``""``.

    Rejects every spelling of a non-http scheme (``jav&#x09;ascript:``, ``&#106;avascript:``,
    ``javascript&colon;``, controls inside the scheme, ``data:``); at most 2048 characters.
    """
    if type(url) is str and (plain := _plain(url)) is not None:
        return plain
    url = _prepare(url)
    if not url:
        return ""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    if scheme and scheme not in _DEFAULT_PORTS:
        return ""
    if not scheme:
        base = _prepare(base)
        try:
            base_scheme = urlsplit(base).scheme.lower()
            if base_scheme not in _DEFAULT_PORTS:
                if not url.startswith("//"):
                    return ""
                base = "https:"
            url = urljoin(base, url)
        except ValueError:
            return ""
    return _normalise(url, drop_tracking=False)


__all__ = ["MAX_URL_LENGTH", "absolute_url", "canonical_url"]
