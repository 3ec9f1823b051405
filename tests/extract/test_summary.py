"""Summary: best field, boilerplate removed, cut on a word boundary."""

from __future__ import annotations

import random
import re

import pytest

from aggregator.extract import summary
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


_PIECES = [
    *("Read more", "read MORE", "Continue reading", "CONTINUE READING", "(more…)", "(More...)"),
    *("Read the full", "read the rest", "Keep reading", "Lire la suite", "Lire plus"),
    *("Weiterlesen", "Leer más", "LEER MÁS", "Readmore", "Rea", "d more", "The post", "x" * 40),
    *(" appeared first on ", "y" * 90, "word", "ſ", " ", "  ", " " * 60, "\t", "\n", "\u3000"),
    *(".", "!", "?", "…", "...", ",", "→", "»"),
]


def test_read_more_is_found_as_by_the_whole_pattern() -> None:
    """Searching only the end of a block removes what the pattern removes from the whole
    block: the longest match, whitespace runs crossing the searched part, case-folding."""
    # What follows the leading whitespace is at most this long (re's own parser measures
    # it); one whitespace character before it and a final newline ($) make the reach.
    pattern = summary._READ_MORE_RE.pattern
    assert pattern.startswith(r"(?:^|\s+)") and pattern.endswith("$")
    tail = re._parser.parse(pattern[len(r"(?:^|\s+)") : -1], re.IGNORECASE)  # type: ignore[attr-defined]
    assert tail.getwidth()[1] + 2 <= summary._READ_MORE_REACH
    assert max(len(p) for p in _PIECES[:15]) + 150 + len("...") == tail.getwidth()[1]
    rnd = random.Random(11)
    texts = [
        "x" * 1000 + " " * 300 + "Continue reading" + "y" * 150 + "...",
        "Read more " + "z" * 149 + "…",
        "Read the rest" + " " * 500,
        "Keep reading →\n",
    ]
    texts += ["".join(rnd.choices(_PIECES, k=rnd.randint(0, 30))) for _ in range(10_000)]
    removed = 0
    for text in texts:
        expected = summary._READ_MORE_RE.sub("", text)
        assert summary._without_read_more(text) == expected, repr(text)
        removed += expected != text
    assert removed > 1_000  # the samples do exercise the pattern


def test_wordpress_footer_words_are_in_every_footer() -> None:
    """The footer pattern is only tried on blocks holding its literal middle words."""
    assert " appeared first on " in summary._WP_FOOTER_RE.pattern.replace(".{1,600}?", "")
    assert summary._WP_FOOTER_WORDS == " appeared first on "
    text = "Intro. The post A\nB appeared first on C."
    assert summary._WP_FOOTER_RE.sub("", text) == "Intro."
    assert summary._clean_block(text, keep_wordpress_footer=False) == "Intro."
