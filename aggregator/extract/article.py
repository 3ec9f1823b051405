"""``extract_article``: one parsed entry to every field of an ``Article``."""

from __future__ import annotations

from datetime import datetime

from aggregator.extract.dates import article_instant, local_day, long_date
from aggregator.extract.identity import entry_identity
from aggregator.extract.images import find_lead_image, image_credit
from aggregator.extract.slug import make_permalink, make_slug
from aggregator.extract.summary import extract_summary
from aggregator.extract.text import html_to_text, one_line, truncate
from aggregator.locales import Labels
from aggregator.model import Article, FeedConfig, ParsedEntry, ParsedFeed, SiteSettings

MAX_TITLE_CHARS = 300
FALLBACK_TITLE_CHARS = 80


def extract_title(entry: ParsedEntry, summary: str, labels: Labels) -> str:
    """One line of plain text; a piece of the summary, then "Untitled", when it is empty."""
    title = one_line(html_to_text(entry.title.value), MAX_TITLE_CHARS)
    if not title:
        title = truncate(summary, FALLBACK_TITLE_CHARS)
    return title or labels.untitled


def extract_tags(source: FeedConfig) -> tuple[str, ...]:
    """The feed's configured tags then its display name, one-lined, without repeats."""
    tags: list[str] = []
    for tag in (*source.tags, source.name):
        text = one_line(tag, MAX_TITLE_CHARS)
        if text and text not in tags:
            tags.append(text)
    return tuple(tags)


def extract_article(
    entry: ParsedEntry,
    feed: ParsedFeed,
    source: FeedConfig,
    site: SiteSettings,
    labels: Labels,
    *,
    now: datetime,
) -> Article:
    """Every field of the article file for ``entry``; rules are applied separately.

    ``feed`` is accepted for symmetry with the pipeline; entry-level data (``base_url``)
    already carries what the feed contributes.
    """
    del feed  # the entry's base_url already resolves against the feed
    identity, rule, source_url = entry_identity(entry)
    summary = extract_summary(entry, site)
    title = extract_title(entry, summary, labels)
    instant = article_instant(entry, now)
    day = local_day(instant, site.timezone)
    lead = find_lead_image(entry)
    template = site.image_credit if site.image_credit is not None else labels.image_credit_template
    slug = make_slug(title, identity)
    return Article(
        title=title,
        date=instant,
        published_date=long_date(day, site.language),
        summary=summary,
        importance="",
        source_url=source_url,
        tags=extract_tags(source),
        permalink=make_permalink(site.permalink, day, slug),
        image_url=lead.url,
        image_credit=image_credit(lead, entry.media_credit, template, source_url),
        identity=identity,
        identity_rule=rule,
        slug=slug,
        local_date=day,
        guid=entry.guid,
    )


__all__ = ["extract_article", "extract_tags", "extract_title"]
