"""Extract stage: a ``ParsedEntry`` to an ``Article``. Pure functions, no I/O, no clock."""

from __future__ import annotations

from aggregator.extract.article import extract_article
from aggregator.extract.dates import (
    article_instant,
    format_instant,
    local_day,
    long_date,
    own_instant,
)
from aggregator.extract.identity import entry_identity
from aggregator.extract.images import (
    MAX_CREDIT_CHARS,
    LeadImage,
    find_lead_image,
    find_page_image,
    image_credit,
)
from aggregator.extract.rules import apply_rules, compile_rule
from aggregator.extract.slug import make_permalink, make_slug
from aggregator.extract.summary import extract_summary
from aggregator.extract.text import html_to_text, one_line, truncate
from aggregator.extract.urls import absolute_url, canonical_url

__all__ = [
    "MAX_CREDIT_CHARS",
    "LeadImage",
    "absolute_url",
    "apply_rules",
    "article_instant",
    "canonical_url",
    "compile_rule",
    "entry_identity",
    "extract_article",
    "extract_summary",
    "find_lead_image",
    "find_page_image",
    "format_instant",
    "html_to_text",
    "image_credit",
    "local_day",
    "long_date",
    "make_permalink",
    "make_slug",
    "one_line",
    "own_instant",
    "truncate",
]
