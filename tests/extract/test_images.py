"""Lead image order, what is skipped, the credit, and og:image parsing."""

from __future__ import annotations

import random

import pytest

from aggregator.extract import images
from aggregator.extract.images import LeadImage, find_lead_image, find_page_image, image_credit
from aggregator.model import Enclosure, MediaItem, Text
from tests.extract.conftest import entry

BASE = "https://example.com/blog/post/"
A = "https://example.com/a.jpg"
B = "https://example.com/b.jpg"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # media:content beats everything, the largest image wins
        (
            {
                "media_content": (
                    MediaItem(A, medium="image", width=300, height=200),
                    MediaItem(B, medium="image", width=1024, height=683),
                    MediaItem("https://example.com/v.mp4", medium="video", width=4000, height=9),
                ),
                "media_thumbnails": (MediaItem("https://example.com/t.jpg"),),
                "content": ('<img src="https://example.com/c.jpg">',),
            },
            B,
        ),
        ({"media_content": (MediaItem(A, mime_type="image/jpeg"),)}, A),
        (
            {"media_content": (MediaItem("https://example.com/x.png?v=2"),)},
            "https://example.com/x.png?v=2",
        ),
        # not an image: skipped, next source used
        (
            {
                "media_content": (MediaItem("https://example.com/a.mp3", mime_type="audio/mpeg"),),
                "media_thumbnails": (MediaItem("https://example.com/t.jpg"),),
            },
            "https://example.com/t.jpg",
        ),
        (
            {
                "enclosures": (
                    Enclosure("https://example.com/ep.mp3", "audio/mpeg"),
                    Enclosure("https://example.com/e.jpg", "image/jpeg"),
                ),
                "itunes_image": "https://example.com/it.jpg",
            },
            "https://example.com/e.jpg",
        ),
        (
            {"itunes_image": "https://example.com/it.jpg", "content": ("<img src=c.jpg>",)},
            "https://example.com/it.jpg",
        ),
        # content before summary; relative made absolute
        (
            {"content": ('<p>x</p><img src="../c.jpg">',), "summary": '<img src="s.jpg">'},
            "https://example.com/blog/c.jpg",
        ),
        ({"summary": '<p><img src="/s.jpg"></p>'}, "https://example.com/s.jpg"),
        # trackers, pixels, emoji, avatars, data: and javascript: are not the article's
        (
            {
                "content": (
                    '<img src="https://feeds.feedburner.com/~r/x/~4/abc" />'
                    '<img src="https://example.com/p.gif" width="1" height="1">'
                    '<img src="https://s.w.org/images/core/emoji/14.0.0/72x72/1f600.png">'
                    '<img src="https://secure.gravatar.com/avatar/abc?s=96">'
                    '<img src="data:image/png;base64,AAAA">'
                    '<img src="javascript:alert(1)">'
                    '<img src="jav&#x09;ascript:alert(1)">'
                    '<img src="https://stats.wordpress.com/b.gif?x=1">'
                    '<img src="https://example.com/real.jpg" width="640">',
                )
            },
            "https://example.com/real.jpg",
        ),
        (
            {
                "content": (
                    '<img class="avatar avatar-96" src="https://example.com/u/me.jpg">'
                    '<img class="wp-smiley" src="https://example.com/smile.png">'
                    '<img src="https://pixel.wp.com/g.gif?v=1">'
                    '<img src="https://example.com/2021x1080/pixelated-avatar-poster.jpg">',
                )
            },
            "https://example.com/2021x1080/pixelated-avatar-poster.jpg",
        ),
        (
            {"content": ('<img data-src="https://example.com/lazy.jpg" src="data:,">',)},
            "https://example.com/lazy.jpg",
        ),
        ({"media_content": (MediaItem("javascript:alert(1)", medium="image"),)}, ""),
        ({"media_thumbnails": (MediaItem("ftp://example.com/t.jpg"),)}, ""),
        ({"summary": "no picture here"}, ""),
        ({}, ""),
    ],
)
def test_lead_image_order(fields: dict[str, object], expected: str) -> None:
    fields.setdefault("base_url", BASE)
    assert find_lead_image(entry(**fields)).url == expected


def test_plain_text_summary_is_not_searched_for_images() -> None:
    e = entry(summary=Text('<img src="https://example.com/a.jpg">', "text/plain"))
    assert find_lead_image(e).url == ""


@pytest.mark.parametrize(
    ("content", "caption"),
    [
        (
            f'<figure><img src="{A}"><figcaption>Photo: <b>Jane</b> Doe</figcaption></figure>',
            "Photo: Jane Doe",
        ),
        (
            f'<div class="wp-caption"><a href="x"><img src="{A}"></a>'
            '<p class="wp-caption-text">© AFP</p></div>',
            "© AFP",
        ),
        (f'<img src="{A}"><figcaption>next to it</figcaption>', "next to it"),
        (
            f'<figure><img src="{B}"><figcaption>other</figcaption></figure><img src="{A}">',
            "",
        ),
    ],
)
def test_caption_of_the_chosen_image(content: str, caption: str) -> None:
    e = entry(media_content=(MediaItem(A, medium="image"),), content=(content,))
    assert find_lead_image(e) == LeadImage(A, caption)


TEMPLATE = "Image de l’article — droits possiblement réservés — {sourceUrl}"


@pytest.mark.parametrize(
    ("lead", "media_credit", "expected"),
    [
        (LeadImage(A, "Caption"), "Reuters\n", "Reuters"),
        (LeadImage(A, "Caption"), "", "Caption"),
        (LeadImage(A), "", "Image de l’article — droits possiblement réservés — https://s/"),
        (LeadImage(), "Reuters", ""),
    ],
)
def test_image_credit(lead: LeadImage, media_credit: str, expected: str) -> None:
    assert image_credit(lead, media_credit, TEMPLATE, "https://s/") == expected


def test_site_credit_template_with_stray_braces() -> None:
    assert image_credit(LeadImage(A), "", "© {site} {sourceUrl}", "u") == "© {site} u"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            b'<html><head><meta property="og:image" content="/i/og.jpg"></head></html>',
            "https://example.com/i/og.jpg",
        ),
        (
            b'<head><meta property="og:image" content="http://example.com/a.jpg">'
            b'<meta property="og:image:secure_url" content="https://example.com/s.jpg"></head>',
            "https://example.com/s.jpg",
        ),
        (
            b'<head><meta name="twitter:image" content="https://example.com/t.jpg"></head>',
            "https://example.com/t.jpg",
        ),
        (
            b'<head><meta property="og:image" content="javascript:alert(1)">'
            b'<meta name="twitter:image" content="https://example.com/t.jpg"></head>',
            "https://example.com/t.jpg",
        ),
        (b'<head><meta property="og:image" content="data:image/png;base64,AA"></head>', ""),
        (b"<head><title>none</title></head>", ""),
        (b"", ""),
        (b"\xff\xfe\x00garbage", ""),
    ],
)
def test_find_page_image(page: bytes, expected: str) -> None:
    assert find_page_image(page, "https://example.com/post/1") == expected


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex (no "|" inside groups, classes or escapes)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif c == "[":
            i = pattern.index("]", i + 2)
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*parts, pattern[start:]]


def test_every_decoration_pattern_holds_a_screening_word() -> None:
    alternatives = _alternatives(images._NOT_ARTICLE_IMAGE_RE.pattern)
    assert len(alternatives) == 12
    for alternative in alternatives:
        literal = alternative.replace("\\", "").replace("s?", "").lower()
        assert any(word in literal for word in images._NOT_ARTICLE_IMAGE_WORDS), alternative


_URL_PIECES = [
    *("https://", "http://", "cdn.example.com", "/wp-content/uploads/", "2024/05/", "a-b"),
    *("feeds.feedburner.com", "FeedsPortal.com", "pixel", "Pixel", "pixels", "/stat", "/stats"),
    *(".", "?", "/", "//", "s.w.org/images/core/emoji", "/EMOJI/", "gravatar.com", "/avatar"),
    *("/Avatars/", "doubleclick.net", "/b.gif", "/spacer.GIF", "/clear.gif", ".gif", "1x1"),
    *("11x1", "1x12", "_1x1_", "\u212a", "\u017f", "feedburner", "stat", "ſtats", "x.jpg"),
]


def test_screened_search_finds_what_the_pattern_finds() -> None:
    rnd = random.Random(5)
    urls = ["".join(rnd.choices(_URL_PIECES, k=rnd.randint(1, 8))) for _ in range(20_000)]
    urls += ["https://x/\u017ftats/a.png", "https://x/ſtat.png", "https://doubleclic\u212a.net/"]
    found = 0
    for url in urls:
        expected = images._NOT_ARTICLE_IMAGE_RE.search(url) is not None
        assert images._not_an_article_image(url) is expected, url
        found += expected
    assert 2_000 < found < len(urls) - 2_000
