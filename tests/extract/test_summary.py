"""Summary: best field, boilerplate removed, cut on a word boundary."""

from __future__ import annotations

import pytest

from aggregator.extract.summary import extract_summary
from aggregator.model import SiteSettings, Text
from tests.extract.conftest import entry

SITE = SiteSettings()


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (
            "<p>Body [&#8230;]</p>\n<p>The post <a href='u'>A title</a> appeared first on "
            "<a href='s'>Site</a>.</p>",
            "Body […]",
        ),
        ("Body text. The post A title appeared first on Site.", "Body text."),
        ("<p>Body</p><p><a href='u'>Continue reading <span>→</span></a></p>", "Body"),
        ("<p>Body… <a href='u'>Continue reading &#8594;</a></p>", "Body…"),
        ("<p>Body</p><p><a href='u'>Read more »</a></p>", "Body"),
        ("<p>Body <a class='more-link' href='u'>(more…)</a></p>", "Body"),
        ("<p>Corps</p><p><a href='u'>Lire la suite</a></p>", "Corps"),
        (
            "<p>Body</p><p>This RSS feed is published on <a href='x'>example.com</a>. "
            "If you are using a feed reader, please visit the site.</p>",
            "Body",
        ),
        ("<p>Body</p><p>The feed is for personal, non-commercial use only.</p>", "Body"),
        ("<p>Body</p><p>Share this: <a>Twitter</a> <a>Facebook</a></p>", "Body"),
        ("<p>Body</p><div>Share on Facebook</div>", "Body"),
        (
            "<p>Read more about the budget in our explainer, which is long.</p>",
            "Read more about the budget in our explainer, which is long.",
        ),
        ("<p>We will not share this with anyone.</p>", "We will not share this with anyone."),
    ],
)
def test_boilerplate_removed(summary: str, expected: str) -> None:
    assert extract_summary(entry(summary=summary), SITE) == expected


def test_wordpress_footer_kept_on_request() -> None:
    site = SiteSettings(keep_wordpress_footer=True)
    summary = "<p>Body</p><p>The post <a>T</a> appeared first on <a>S</a>.</p>"
    assert extract_summary(entry(summary=summary), site) == "Body The post T appeared first on S."


def test_content_used_when_summary_is_empty_or_boilerplate() -> None:
    assert extract_summary(entry(summary="", content=("<p>From content</p>",)), SITE) == (
        "From content"
    )
    only_footer = "<p>The post <a>T</a> appeared first on <a>S</a>.</p>"
    assert extract_summary(entry(summary=only_footer, content=("<p>C</p>",)), SITE) == "C"


def test_plain_text_summary() -> None:
    e = entry(summary=Text("Plain & simple", "text/plain"))
    assert extract_summary(e, SITE) == "Plain & simple"


@pytest.mark.parametrize("length", [10, 50, 100, 599, 600])
def test_truncated_on_word_boundary(length: int) -> None:
    words = ["alpha", "beta", "gamma", "delta"] * 60
    text = " ".join(words)
    result = extract_summary(entry(summary=text), SiteSettings(summary_length=length))
    assert len(result) <= length
    assert result.endswith("…")
    assert result[:-1].split()[-1] in words  # last word is whole
    assert text.startswith(result[:-1])


def test_short_summary_not_truncated() -> None:
    assert extract_summary(entry(summary="Short one."), SITE) == "Short one."
