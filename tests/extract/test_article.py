"""extract_article as a whole: title fallbacks, tags, credit settings, total functions."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.extract import absolute_url, canonical_url, extract_article
from aggregator.locales import Labels
from aggregator.model import FeedConfig, MediaItem, ParsedFeed, SiteSettings, Text
from tests.extract.conftest import NOW, SOURCE, entry

FEED = ParsedFeed(url="https://example.com/feed/")
IMG = (MediaItem("https://example.com/a.jpg", medium="image"),)


def test_title_is_one_line_plain_text(fr: Labels, site: SiteSettings) -> None:
    e = entry(title=Text("<b>Big</b>\n news &amp; more\u2028!", "text/html"))
    assert extract_article(e, FEED, SOURCE, site, fr, now=NOW).title == "Big news & more !"


def test_title_falls_back_to_summary_then_untitled(fr: Labels, en: Labels) -> None:
    site = SiteSettings()
    long_summary = "A summary that is long enough to be cut " * 5
    a = extract_article(entry(title="  ", summary=long_summary), FEED, SOURCE, site, fr, now=NOW)
    assert a.title.startswith("A summary that is long") and a.title.endswith("…")
    assert len(a.title) <= 80
    assert extract_article(entry(), FEED, SOURCE, site, fr, now=NOW).title == "Sans titre"
    assert extract_article(entry(), FEED, SOURCE, site, en, now=NOW).title == "Untitled"


def test_tags_come_from_configuration(fr: Labels, site: SiteSettings) -> None:
    source = FeedConfig(name="Feed\nName", url="u", tags=("A", " B ", "A", "Feed Name"))
    e = entry(categories=("Ignored",))
    assert extract_article(e, FEED, source, site, fr, now=NOW).tags == ("A", "B", "Feed Name")


def test_credit_sources(fr: Labels) -> None:
    site = SiteSettings()
    e = entry(link="https://example.com/p", media_content=IMG, media_credit="Jane Doe")
    assert extract_article(e, FEED, SOURCE, site, fr, now=NOW).image_credit == "Jane Doe"
    e = entry(link="https://example.com/p", media_content=IMG)
    custom = SiteSettings(image_credit="© the publisher, {sourceUrl}")
    got = extract_article(e, FEED, SOURCE, custom, fr, now=NOW).image_credit
    assert got == "© the publisher, https://example.com/p"


def test_no_image_means_no_credit(fr: Labels, site: SiteSettings) -> None:
    e = entry(link="https://example.com/p", media_credit="Jane Doe")
    article = extract_article(e, FEED, SOURCE, site, fr, now=NOW)
    assert (article.image_url, article.image_credit) == ("", "")


def test_permalink_uses_the_local_day(fr: Labels) -> None:
    e = entry(title="Late", published=datetime(2024, 3, 28, 23, 30, tzinfo=UTC))
    paris = extract_article(e, FEED, SOURCE, SiteSettings(), fr, now=NOW)
    assert paris.permalink == "/papers/2024-03-29-late"
    assert paris.published_date == "29 mars 2024"
    utc = extract_article(e, FEED, SOURCE, SiteSettings(timezone="UTC"), fr, now=NOW)
    assert utc.permalink == "/papers/2024-03-28-late"


@settings(max_examples=300, deadline=None)
@given(url=st.text(max_size=60), base=st.text(max_size=30))
def test_url_functions_never_raise(url: str, base: str) -> None:
    for result in (canonical_url(url), absolute_url(url, base), absolute_url(url, "https://x/")):
        assert result == "" or result.startswith(("http://", "https://"))
