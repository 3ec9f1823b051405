"""Article to file text, in the exact layout of the site's files (reference/FORMAT.md).

The front matter is emitted by PyYAML from events we build ourselves: keys plain,
every value a double-quoted scalar (the only YAML style that escapes U+0085, U+2028,
U+2029, NUL and the BOM instead of writing them raw), ``tags`` a flow sequence. No value is
ever put into the text by string formatting (POLITENESS_AND_SECURITY.md 2.8).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from aggregator.extract import format_instant
from aggregator.locales import Labels
from aggregator.model import Article

FRONT_MATTER_KEYS = (
    "title",
    "date",
    "publishedDate",
    "summary",
    "importance",
    "sourceUrl",
    "tags",
    "permalink",
    "imageUrl",
    "imageCredit",
)
_STR = "tag:yaml.org,2002:str"
_MARKDOWN_ALT_RE = re.compile(r"([\\\[\]])")
# Characters that would end a Markdown link destination early or open raw HTML.
_MARKDOWN_URL_ESCAPES = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E"}
# A paragraph that starts with one of these would become a heading, quote, list or HTML.
_LEADING_BLOCK_MARK_RE = re.compile(r"^(?=[#>+*=|<-]|\d+[.)](?:\s|$))")
# Every kind of line break: each is whitespace to str.split (tests/test_render.py).
_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# A "]" that would close a link or image text ("](", "][") or a reference definition ("]:").
# Escaping it (and every backslash, so a "\](" in the text cannot un-escape it) leaves no way for
# plain text to become a link, whatever its destination (``javascript:``, ``data:``).
_MARKDOWN_LINK_CLOSE_RE = re.compile(r"\](?=[(\[:])")


# libyaml's emitter when PyYAML was built with it: the pure-Python one is most of the cost of
# an article (about 5 ms), and both write the same bytes for the nodes we build.
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_DOCUMENT_START: tuple[yaml.Event, ...] = (
    yaml.StreamStartEvent(),
    yaml.DocumentStartEvent(explicit=False),
    yaml.MappingStartEvent(None, "tag:yaml.org,2002:map", True, flow_style=False),
)
_DOCUMENT_END: tuple[yaml.Event, ...] = (
    yaml.MappingEndEvent(),
    yaml.DocumentEndEvent(explicit=False),
    yaml.StreamEndEvent(),
)
_TAGS_START = yaml.SequenceStartEvent(None, "tag:yaml.org,2002:seq", True, flow_style=True)
_TAGS_END = yaml.SequenceEndEvent()


def _key(key: str) -> yaml.ScalarEvent:
    # A plain scalar: implicit only if the resolver reads the key back as a string, as
    # PyYAML's serializer asks (all of ours are; tests/test_render.py).
    resolver: Any = yaml.resolver.Resolver()  # untyped
    plain = resolver.resolve(yaml.ScalarNode, key, (True, False)) == _STR
    return yaml.ScalarEvent(None, _STR, (plain, True), key, style=None)


_KEYS = {key: _key(key) for key in FRONT_MATTER_KEYS}


def _scalar(value: str) -> yaml.ScalarEvent:
    # Double-quoted: neither emitter writes a tag before a quoted scalar whose second
    # implicit flag is set, and a ``str`` always has it. The first flag (would the text read
    # back as a string unquoted?) matters only to a plain scalar, so the resolver is not
    # asked about every value as the serializer does.
    return yaml.ScalarEvent(None, _STR, (True, True), value, style='"')


def front_matter_events(article: Article) -> list[yaml.Event]:
    """The YAML events of the front matter, keys in the site's order: keys plain, every
    value double-quoted, ``tags`` a flow sequence.

    They are the events PyYAML's serializer makes of that node tree, but for the first
    implicit flag of the values (``_scalar``), and they are handed to the emitter
    directly: the serializer asked the resolver about every key and value twice.
    """
    values: dict[str, str | tuple[str, ...]] = {
        "title": article.title,
        "date": format_instant(article.date),
        "publishedDate": article.published_date,
        "summary": article.summary,
        "importance": article.importance,
        "sourceUrl": article.source_url,
        "tags": article.tags,
        "permalink": article.permalink,
        "imageUrl": article.image_url,
        "imageCredit": article.image_credit,
    }
    events: list[yaml.Event] = [*_DOCUMENT_START]
    for key in FRONT_MATTER_KEYS:
        events.append(_KEYS[key])
        value = values[key]
        if isinstance(value, str):
            events.append(_scalar(value))
        else:
            events.extend((_TAGS_START, *map(_scalar, value), _TAGS_END))
    events.extend(_DOCUMENT_END)
    return events


def render_front_matter(article: Article) -> str:
    """``---`` lines around the YAML front matter, ending with a newline."""
    body = yaml.emit(
        front_matter_events(article),
        Dumper=_BaseDumper,
        allow_unicode=True,
        width=2**31 - 1,  # never fold a long value onto a second line
    )
    return f"---\n{body}---\n"


def _one_line(text: str) -> str:
    # str.split() splits at every line break too (a regex replacing them first, as before,
    # was 1 % of parsing and extracting a bench feed).
    return " ".join(text.split())


def _markdown_url(url: str) -> str:
    return "".join(_MARKDOWN_URL_ESCAPES.get(c, c) for c in _one_line(url))


def _inline(text: str) -> str:
    # Plain text inside a Markdown line: "[x](javascript:…)" must not become a link.
    text = _one_line(text).replace("\\", "\\\\")
    return _MARKDOWN_LINK_CLOSE_RE.sub(r"\\]", text)


def _paragraph(text: str) -> str:
    # Plain text shown as Markdown: keep it one paragraph and stop a leading "#", "-", "1."
    # or "<" from turning it into another block.
    return _LEADING_BLOCK_MARK_RE.sub("\\\\", _inline(text))


def render_body(article: Article, labels: Labels) -> str:
    """The Markdown body: image and credit (when there is an image), then the summary and
    source sections (each left out when empty, so no empty heading is written)."""
    parts: list[str] = []
    if article.image_url:
        alt = _MARKDOWN_ALT_RE.sub(r"\\\1", _one_line(article.title))
        parts.append(f"![{alt}]({_markdown_url(article.image_url)})")
        credit = labels.credit_line.replace("{credit}", _inline(article.image_credit))
        parts.append(credit)
    summary = _paragraph(article.summary)
    if summary:
        parts.append(f"## {labels.summary_heading}")
        parts.append(summary)
    # A plain-text line like the credit's: a URL can hold "][" or "]:" (from a relative guid
    # resolved against the feed, say), and must not become Markdown link syntax.
    source = _inline(article.source_url)
    if source:  # an entry with neither link nor URL guid has nothing to cite
        parts.append(f"## {labels.source_heading}")
        parts.append(source)
    return "\n\n".join(parts) + "\n" if parts else ""


def render_article(article: Article, labels: Labels) -> str:
    """The whole article file: front matter, a blank line, the body; one final newline."""
    body = render_body(article, labels)
    return f"{render_front_matter(article)}\n{body}" if body else render_front_matter(article)


_FENCE_RE = re.compile(r"^---[ \t]*$", re.MULTILINE)


def parse_front_matter(text: str) -> dict[str, Any]:
    """The front matter of an article file as a dict (``---`` lines at column 0).

    Raises ``ValueError`` when the text has no front matter or it is not a mapping.
    """
    text = text.removeprefix("\ufeff")
    if not text.startswith("---"):
        raise ValueError("no front matter: the file does not start with ---")
    fences = list(_FENCE_RE.finditer(text))
    if len(fences) < 2 or fences[0].start() != 0:
        raise ValueError("no front matter: missing closing ---")
    try:
        data = yaml.safe_load(text[fences[0].end() : fences[1].start()])
    except yaml.YAMLError as err:
        raise ValueError(f"front matter is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ValueError("front matter is not a mapping")
    return data


__all__ = [
    "FRONT_MATTER_KEYS",
    "front_matter_events",
    "parse_front_matter",
    "render_article",
    "render_body",
    "render_front_matter",
]
