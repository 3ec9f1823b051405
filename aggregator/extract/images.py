"""The lead image of an entry, its credit, and the ``og:image`` of an article page.

Feeds announce pictures in many places and decorate content with pictures that are not the
article's (tracking pixels, emoji, avatars); this module picks one real picture, absolute
and http(s), or nothing.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree  # type: ignore[import-untyped]  # no stubs in the toolchain

from aggregator.extract.text import html_to_text, one_line, parse_html
from aggregator.extract.urls import absolute_url
from aggregator.model import MediaItem, ParsedEntry

MAX_CREDIT_CHARS = 300
# The head of a page is at its start; the rest is not worth parsing for meta tags.
MAX_PAGE_BYTES = 1_000_000

_IMAGE_EXT_RE = re.compile(
    r"\.(?:jpe?g|png|gif|webp|avif|bmp|svg|jfif|pjpeg|heic)(?:$|[?#])", re.IGNORECASE
)
# Pictures that are not the article's: counters, feed trackers, emoji, avatars.
_NOT_ARTICLE_IMAGE_RE = re.compile(
    r"feeds\.feedburner\.com|feedsportal\.com|\bpixel\b|/stats?[./?]|//stats?\."
    r"|s\.w\.org/images/core/emoji|gravatar\.com|/avatars?/|/emoji/|doubleclick\.net"
    r"|/(?:b|spacer|blank|clear|transparent)\.gif|(?<!\d)1x1(?!\d)",
    re.IGNORECASE,
)
# Every match of the pattern above holds one of these (in lower case): an ASCII URL that
# holds none of them is not searched (0.6 us instead of 9.6 for a typical image URL).
_NOT_ARTICLE_IMAGE_WORDS = (
    *("feedburner", "feedsportal", "pixel", "/stat", "emoji", "gravatar", "/avatar"),
    *("doubleclick", ".gif", "1x1"),
)
# WordPress marks decorations on the element itself.
_NOT_ARTICLE_CLASS_RE = re.compile(r"\b(?:avatar|wp-smiley|emoji)\b", re.IGNORECASE)
_LAZY_SRC_ATTRS = ("src", "data-src", "data-lazy-src", "data-original")
_PAGE_IMAGE_KEYS = (
    "og:image:secure_url",
    "og:image",
    "og:image:url",
    "twitter:image",
    "twitter:image:src",
)


@dataclass(frozen=True, slots=True)
class LeadImage:
    """The chosen picture and the caption found next to it in the content (may be "")."""

    url: str = ""
    caption: str = ""


def _is_image(item: MediaItem) -> bool:
    if item.medium:
        return item.medium == "image"
    if item.mime_type:
        return item.mime_type.startswith("image/")
    return bool(_IMAGE_EXT_RE.search(item.url))


def _not_an_article_image(url: str) -> bool:
    if url.isascii():
        # Case-insensitive matching of an ASCII text is matching of its lower case; outside
        # ASCII, Unicode case folding ("\u212a" for "k") calls for the pattern itself.
        lowered = url.lower()
        if not any(word in lowered for word in _NOT_ARTICLE_IMAGE_WORDS):
            return False
    return _NOT_ARTICLE_IMAGE_RE.search(url) is not None


def _usable(url: str, base: str) -> str:
    absolute = absolute_url(url, base)
    if not absolute or _not_an_article_image(absolute):
        return ""
    return absolute


def _largest(items: Iterable[MediaItem], base: str, *, images_only: bool) -> str:
    best, best_area = "", -1
    for item in items:
        if images_only and not _is_image(item):
            continue
        if (item.width is not None and item.width <= 2) or (
            item.height is not None and item.height <= 2
        ):
            continue
        url = _usable(item.url, base)
        area = (item.width or 0) * (item.height or 0)
        if url and area > best_area:
            best, best_area = url, area
    return best


def _dimension(value: str | None) -> int | None:
    match = re.match(r"\s*(\d{1,6})", value or "")
    return int(match.group(1)) if match else None


def _is_caption(el: etree._Element) -> bool:
    return el.tag == "figcaption" or "wp-caption-text" in (el.get("class") or "")


def _caption(img: etree._Element) -> str:
    """Text of the ``<figcaption>`` or WordPress ``wp-caption-text`` that goes with ``img``.

    Looked for beside the picture (or beside the link wrapping it) and inside the enclosing
    ``<figure>``/``wp-caption`` block only, so another picture's caption is never taken.
    """
    node = img
    for _ in range(4):
        sibling = node.getnext()
        if sibling is not None and _is_caption(sibling):
            return one_line(" ".join(sibling.itertext()), MAX_CREDIT_CHARS)
        parent = node.getparent()
        if parent is None or parent.tag in ("body", "html"):
            break
        if parent.tag == "figure" or "wp-caption" in (parent.get("class") or ""):
            for cap in parent.iter():
                if isinstance(cap.tag, str) and _is_caption(cap):
                    return one_line(" ".join(cap.itertext()), MAX_CREDIT_CHARS)
            break
        node = parent
    return ""


def content_images(markup: str, base: str) -> list[LeadImage]:
    """Real pictures of an HTML fragment, in document order, with their captions."""
    if "<img" not in markup.lower():
        return []
    root = parse_html(markup)
    if root is None:
        return []
    found: list[LeadImage] = []
    for img in root.iter("img"):
        width, height = _dimension(img.get("width")), _dimension(img.get("height"))
        if (width is not None and width <= 2) or (height is not None and height <= 2):
            continue
        if _NOT_ARTICLE_CLASS_RE.search(img.get("class") or ""):
            continue
        url = ""
        for attr in _LAZY_SRC_ATTRS:
            url = _usable(img.get(attr) or "", base)
            if url:
                break
        if url:
            found.append(LeadImage(url, _caption(img)))
    return found


def find_lead_image(entry: ParsedEntry) -> LeadImage:
    """The entry's picture, in order of trust: media:content (largest), media:thumbnail,
    an image enclosure, itunes:image, then the first real ``<img>`` of content, then summary.
    """
    base = entry.base_url
    html_parts = [c.value for c in entry.content if c.is_html] + (
        [entry.summary.value] if entry.summary.is_html else []
    )
    url = (
        _largest(entry.media_content, base, images_only=True)
        or _largest(entry.media_thumbnails, base, images_only=False)
        or next(
            (
                u
                for e in entry.enclosures
                if (
                    e.mime_type.lower().startswith("image/")
                    or (not e.mime_type and _IMAGE_EXT_RE.search(e.url))
                )
                and (u := _usable(e.url, base))
            ),
            "",
        )
        or _usable(entry.itunes_image, base)
    )
    if url:
        # The picture may also sit in the content, with a caption naming its author.
        for part in html_parts:
            for image in content_images(part, base):
                if image.url == url:
                    return image
        return LeadImage(url)
    for part in html_parts:
        images = content_images(part, base)
        if images:
            return images[0]
    return LeadImage()


def image_credit(lead: LeadImage, media_credit: str, template: str, source_url: str) -> str:
    """Who to credit: the feed's media:credit, the caption, else the site's credit sentence."""
    if not lead.url:
        return ""
    # media:credit is feed text that may hold markup ("<script>", "&lt;javascript:…&gt;"):
    # reduced to plain text like every other field (the caption already is).
    for candidate in (html_to_text(media_credit), lead.caption):
        text = one_line(candidate, MAX_CREDIT_CHARS)
        if text:
            return text
    return one_line(template.replace("{sourceUrl}", source_url), MAX_CREDIT_CHARS * 4)


def find_page_image(html: bytes, base_url: str) -> str:
    """The ``og:image`` (or ``twitter:image``) of a fetched article page, absolute, or "".

    Only ``<meta>`` elements are built, so a large page costs little.
    """
    if not html:
        return ""
    # Imported here: only an article page needs bs4, and importing it costs about a third
    # of the command's start-up. SoupStrainer is re-exported by bs4 without being listed
    # in __all__ (it moved in 4.13).
    import bs4

    meta_only = bs4.SoupStrainer("meta")  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            soup = bs4.BeautifulSoup(html[:MAX_PAGE_BYTES], "lxml", parse_only=meta_only)
        except Exception:  # a page we cannot read has no image for us
            return ""
        found: dict[str, str] = {}
        for meta in soup.find_all("meta"):
            key = meta.get("property") or meta.get("name") or ""
            content = meta.get("content") or ""
            if isinstance(key, str) and isinstance(content, str):
                key = key.strip().lower()
                if key in _PAGE_IMAGE_KEYS and key not in found and content.strip():
                    found[key] = content
    for key in _PAGE_IMAGE_KEYS:
        url = _usable(found.get(key, ""), base_url)
        if url:
            return url
    return ""


__all__ = [
    "LeadImage",
    "content_images",
    "find_lead_image",
    "find_page_image",
    "image_credit",
]
