"""The Interventional News feed, through parse, extract and render, gives the seed files
(with the summary fixed as FORMAT.md says), byte for byte."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aggregator.extract import extract_article
from aggregator.locales import load_labels
from aggregator.model import IdentityRule, ParsedFeed, SiteSettings
from aggregator.render import parse_front_matter, render_article
from tests.extract.conftest import DATA, NOW, SOURCE, parse

FEED = DATA / "interventional_news.xml"


def _feed() -> ParsedFeed:
    return parse(FEED.read_bytes())


@pytest.mark.parametrize(
    ("index", "expected"),
    [(1, "000_ac4a0413680becf7.md"), (0, "001_b0e27e5c7d87ecc6.md")],
)
def test_seed_files_byte_for_byte(index: int, expected: str) -> None:
    feed = _feed()
    site = SiteSettings()
    labels = load_labels(site.language)
    article = extract_article(feed.entries[index], feed, SOURCE, site, labels, now=NOW)
    rendered = render_article(article, labels)
    assert rendered.encode("utf-8") == (DATA / "expected" / expected).read_bytes()


def test_seed_article_fields() -> None:
    feed = _feed()
    assert feed.sy_update_period == "hourly"
    assert feed.sy_update_frequency == 1
    article = extract_article(
        feed.entries[1], feed, SOURCE, SiteSettings(), load_labels("fr"), now=NOW
    )
    assert article.identity == (
        "https://interventionalnews.com/unifying-io-globally-iasios-reports-first-us-accredited-centre/"
    )
    assert article.identity_rule is IdentityRule.LINK
    assert article.guid == "https://interventionalnews.com/?p=45870"
    assert article.slug == "unifying-io-globally-iasios-reports-first-us-accredited-centre"
    assert article.local_date.isoformat() == "2024-03-28"
    assert article.importance == ""


def test_wordpress_footer_kept_when_asked() -> None:
    feed = _feed()
    site = SiteSettings(keep_wordpress_footer=True)
    article = extract_article(feed.entries[1], feed, SOURCE, site, load_labels("fr"), now=NOW)
    assert article.summary.endswith(
        "a new […] The post Unifying IO globally: IASIOS reports first US accredited centre"
        " appeared first on Interventional News."
    )


def test_english_site() -> None:
    feed = _feed()
    site = SiteSettings(language="en", timezone="Europe/London")
    labels = load_labels("en")
    article = extract_article(feed.entries[1], feed, SOURCE, site, labels, now=NOW)
    rendered = render_article(article, labels)
    assert rendered.encode("utf-8") == (DATA / "expected" / "en_000_unifying-io.md").read_bytes()
    meta = parse_front_matter(rendered)
    assert meta["publishedDate"] == "March 28, 2024"
    assert meta["imageCredit"].startswith("Article image — rights may be reserved — https://")


def test_summary_length_setting() -> None:
    feed = _feed()
    site = replace(SiteSettings(), summary_length=100)
    article = extract_article(feed.entries[1], feed, SOURCE, site, load_labels("fr"), now=NOW)
    assert len(article.summary) <= 100
    assert article.summary.endswith("…")
    assert not article.summary.endswith(" …")
