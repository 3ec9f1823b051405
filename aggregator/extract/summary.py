"""The plain-text summary: the best field, boilerplate removed, cut on a word boundary."""

from __future__ import annotations

import re

from aggregator.extract.text import html_blocks, truncate
from aggregator.model import ParsedEntry, SiteSettings

# WordPress appends "The post <title> appeared first on <site>." to every excerpt.
_WP_FOOTER_RE = re.compile(r"(?:^|\s+)The post .{1,600}? appeared first on .{1,300}$", re.DOTALL)
# "Continue reading →", "Read more »", "(more…)", "Lire la suite" at the end of a paragraph;
# a link text, so it never ends with a full stop (a sentence "Read more about X." stays).
_READ_MORE_RE = re.compile(
    r"(?:^|\s+)(?:\(more…\)|\(more\.\.\.\)|(?:Continue reading|Read more|Read the (?:full|rest)"
    r"|Keep reading|Lire la suite|Lire plus|Weiterlesen|Leer más)\b[^.!?]{0,150}(?:\.\.\.|…)?)$",
    re.IGNORECASE,
)
# Whole paragraphs that advertise the feed or the site rather than summarise the article.
_NOISE_BLOCK_RE = re.compile(
    r"^(?:(?:This|The) (?:RSS |Atom )?feed (?:is|was) (?:published|provided|generated|for)"
    r"|.{0,80}\bRSS feed\b.{0,40}\b(?:published|provided|generated) (?:on|by)\b"
    r"|Share (?:this|on)\b|Partager (?:sur|cet)\b|Follow us on\b|Suivez-nous\b"
    r"|Click here to (?:read|subscribe)\b|Subscribe to our newsletter\b"
    r"|\(?(?:Source|Via)\s*:?\s*$)",
    re.IGNORECASE,
)
_MAX_NOISE_BLOCK = 300
_WP_FOOTER_WORDS = " appeared first on "  # in every match of _WP_FOOTER_RE
# How far from the end a match of _READ_MORE_RE can begin: the longest phrase (16
# characters), 150 others, an ellipsis (3), one whitespace before it and a final newline
# ($ matches before one), with room to spare. Only its whitespace run reaches further back.
_READ_MORE_REACH = 200


def _without_read_more(block: str) -> str:
    """``_READ_MORE_RE.sub("", block)``, searching only the end of the block.

    The pattern is anchored at the end, so its leftmost match there is the leftmost match,
    except that the whitespace run it starts with may begin before the searched part: the
    match is widened back over that run. (1.9 x faster on bench summaries.)
    """
    start = max(0, len(block) - _READ_MORE_REACH)
    found = _READ_MORE_RE.search(block, start)
    if found is None:
        return block
    begin = found.start()
    while begin > 0 and block[begin - 1].isspace():
        begin -= 1
    return block[:begin] + block[found.end() :]


def _clean_block(block: str, keep_wordpress_footer: bool) -> str:
    if not keep_wordpress_footer and _WP_FOOTER_WORDS in block:
        block = _WP_FOOTER_RE.sub("", block)
    block = _without_read_more(block)
    if len(block) <= _MAX_NOISE_BLOCK and _NOISE_BLOCK_RE.match(block):
        return ""
    return block.strip()


def clean_summary_text(markup: str, site: SiteSettings) -> str:
    """Plain text of one HTML field with feed boilerplate removed (not truncated)."""
    blocks = (_clean_block(b, site.keep_wordpress_footer) for b in html_blocks(markup))
    return " ".join(b for b in blocks if b)


def extract_summary(entry: ParsedEntry, site: SiteSettings) -> str:
    """Summary (or description), else the content, cleaned and cut to ``summary_length``."""
    candidates = [entry.summary, *entry.content]
    for candidate in candidates:
        text = clean_summary_text(candidate.value, site)
        if text:
            return truncate(text, max(site.summary_length, 1))
    return ""


__all__ = ["clean_summary_text", "extract_summary"]
