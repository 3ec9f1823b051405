"""The article file: exact layout, and front matter that no title can break (2.8)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import render
from aggregator.extract import extract_article
from aggregator.locales import load_labels
from aggregator.model import (
    Article,
    FeedConfig,
    IdentityRule,
    ParsedEntry,
    ParsedFeed,
    SiteSettings,
    Text,
)
from aggregator.render import (
    FRONT_MATTER_KEYS,
    front_matter_events,
    parse_front_matter,
    render_article,
)

FR = load_labels("fr")
NOW = datetime(2024, 7, 6, 8, 0, tzinfo=UTC)
FEED = ParsedFeed(url="https://example.com/feed/")
SOURCE = FeedConfig(name="Feed — Name", url="https://example.com/feed/", tags=("France",))
ARTICLE = Article(
    title="T",
    date=datetime(2024, 3, 28, 14, 25, 2, tzinfo=UTC),
    published_date="28 mars 2024",
    summary="S",
    importance="",
    source_url="https://example.com/a",
    tags=("France", "Feed — Name"),
    permalink="/papers/2024-03-28-t",
    image_url="",
    image_credit="",
    identity="https://example.com/a",
    identity_rule=IdentityRule.LINK,
    slug="t",
    local_date=date(2024, 3, 28),
)
RAW_BREAKS = (b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xc2\x85")


def _render_title(title: str) -> tuple[str, dict[str, object], Article]:
    e = ParsedEntry(
        link="https://example.com/a",
        title=Text(title, "text/plain"),
        summary=Text(title),
        media_content=(),
    )
    article = extract_article(e, FEED, SOURCE, SiteSettings(), FR, now=NOW)
    text = render_article(article, FR)
    return text, parse_front_matter(text), article


def test_no_image_layout() -> None:
    text = render_article(ARTICLE, FR)
    assert text == (
        "---\n"
        'title: "T"\n'
        'date: "2024-03-28T14:25:02.000Z"\n'
        'publishedDate: "28 mars 2024"\n'
        'summary: "S"\n'
        'importance: ""\n'
        'sourceUrl: "https://example.com/a"\n'
        'tags: ["France", "Feed — Name"]\n'
        'permalink: "/papers/2024-03-28-t"\n'
        'imageUrl: ""\n'
        'imageCredit: ""\n'
        "---\n"
        "\n"
        "## L’essentiel\n"
        "\n"
        "S\n"
        "\n"
        "## Lien source\n"
        "\n"
        "https://example.com/a\n"
    )


def test_image_alt_text_cannot_break_markdown() -> None:
    article = replace(
        ARTICLE,
        title="a ] b [c](javascript:x) \\",
        image_url="https://example.com/a(1).jpg",
        image_credit="c",
    )
    body = render_article(article, FR).split("---\n", 2)[2]
    assert "![a \\] b \\[c\\](javascript:x) \\\\](https://example.com/a%281%29.jpg)" in body
    assert "*Crédit image : c*" in body


def test_english_credit_line() -> None:
    article = replace(ARTICLE, image_url="https://example.com/a.jpg", image_credit="AFP")
    assert "\n*Image credit: AFP*\n" in render_article(article, load_labels("en"))


def test_markdown_block_markers_in_summary_are_escaped() -> None:
    text = render_article(replace(ARTICLE, summary="# not a heading"), FR)
    assert "\n\\# not a heading\n" in text
    assert parse_front_matter(text)["summary"] == "# not a heading"


def test_empty_article_still_has_every_key() -> None:
    text = render_article(replace(ARTICLE, summary="", source_url="", tags=()), FR)
    meta = parse_front_matter(text)
    assert tuple(meta) == FRONT_MATTER_KEYS
    assert meta["tags"] == []
    assert text.endswith("---\n")


HOSTILE = [
    ('He said "hi" and \\o/', 'He said "hi" and \\o/'),
    ("key: value # comment", "key: value # comment"),
    ("- leading dash", "- leading dash"),
    ("! tag", "! tag"),
    ("&anchor", "&anchor"),
    ("*alias", "*alias"),
    ("% directive", "% directive"),
    ("@at", "@at"),
    ("x\n---\ninjected: true", "x --- injected: true"),
    ("---", "---"),
    ("yes", "yes"),
    ("no", "no"),
    ("null", "null"),
    ("~", "~"),
    ("2024-01-01", "2024-01-01"),
    ("1e3", "1e3"),
    ("nul\x00byte", "nul byte"),
    ("c1\x85next\u2028line\u2029para", "c1 next line para"),
    ("\ufeffbom title", "bom title"),
    ("emoji 😀 👩‍👩‍👧", "emoji 😀 👩‍👩‍👧"),
    ("evil\u202egnp.exe", "evil gnp.exe"),
    ("tab\there", "tab here"),
    ("'single' quotes", "'single' quotes"),
    ("{flow: map}", "{flow: map}"),
    ("[flow, seq]", "[flow, seq]"),
    ("|literal", "|literal"),
    (">folded", ">folded"),
    ("`backtick`", "`backtick`"),
]


@pytest.mark.parametrize(("title", "expected"), HOSTILE)
def test_hostile_titles_round_trip(title: str, expected: str) -> None:
    text, meta, article = _render_title(title)
    assert article.title == expected
    assert meta["title"] == expected
    assert tuple(meta) == FRONT_MATTER_KEYS
    assert all(isinstance(v, str) for k, v in meta.items() if k != "tags")
    raw = text.encode("utf-8")
    assert not any(b in raw for b in RAW_BREAKS)
    assert b"\x00" not in raw
    assert text.count("\n---\n") == 1 and text.startswith("---\n")


def test_values_are_double_quoted_by_pyyaml() -> None:
    article = replace(ARTICLE, title="a\u2028b", summary="x\x85y", tags=("\u2029",))
    text = render_article(article, FR)
    assert 'title: "a\\Lb"' in text
    assert 'summary: "x\\Ny"' in text
    assert 'tags: ["\\P"]' in text
    assert parse_front_matter(text)["title"] == "a\u2028b"
    assert not any(b in text.encode() for b in RAW_BREAKS)


def test_long_values_are_not_folded() -> None:
    text = render_article(replace(ARTICLE, summary="word " * 400), FR)
    assert any(line.startswith('summary: "word word') for line in text.splitlines())
    assert len(text.splitlines()) == len(render_article(ARTICLE, FR).splitlines())


@pytest.mark.parametrize(
    "text",
    ["no front matter", "---\ntitle: x\n", "---\n- a list\n---\n", "---\n: [bad\n---\n"],
)
def test_parse_front_matter_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_front_matter(text)


def test_parse_front_matter_ignores_body_fences() -> None:
    text = render_article(replace(ARTICLE, summary="--- x"), FR) + "---\nmore: 1\n---\n"
    assert parse_front_matter(text)["summary"] == "--- x"


@settings(max_examples=200, deadline=None)
@given(title=st.text(max_size=200), summary=st.text(max_size=400))
def test_any_text_round_trips(title: str, summary: str) -> None:
    e = ParsedEntry(
        link="https://example.com/a",
        title=Text(title, "text/plain"),
        summary=Text(summary, "text/plain"),
    )
    article = extract_article(e, FEED, SOURCE, SiteSettings(), FR, now=NOW)
    text = render_article(article, FR)
    meta = parse_front_matter(text)
    assert tuple(meta) == FRONT_MATTER_KEYS
    assert meta["title"] == article.title
    assert meta["summary"] == article.summary
    for key, value in meta.items():
        values = value if key == "tags" else [value]
        for v in values:
            assert isinstance(v, str)
            assert not any(c in v for c in "\r\n\x85\u2028\u2029")
    assert not any(b in text.encode("utf-8") for b in RAW_BREAKS)
    # Any value, even straight from PyYAML's own emitter, loads back unchanged.
    assert yaml.safe_load(yaml.safe_dump(meta, allow_unicode=True)) == meta


EMIT: dict[str, object] = {"allow_unicode": True, "width": 2**31 - 1}


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.text(max_size=80), min_size=3, max_size=3))
def test_libyaml_and_python_emitters_agree(values: list[str]) -> None:
    article = replace(ARTICLE, title=values[0], summary=values[1], tags=(values[2],))
    events = front_matter_events(article)
    python = yaml.emit(events, Dumper=yaml.SafeDumper, **EMIT)
    assert python == yaml.emit(events, Dumper=yaml.CSafeDumper, **EMIT)


def node_tree(article: Article) -> yaml.MappingNode:
    """The front matter as the node tree PyYAML's serializer was given before the events
    were built directly (keys plain, values double-quoted, tags a flow sequence)."""

    def scalar(value: str) -> yaml.ScalarNode:
        return yaml.ScalarNode("tag:yaml.org,2002:str", value, style='"')

    tags = yaml.SequenceNode(
        "tag:yaml.org,2002:seq", [scalar(t) for t in article.tags], flow_style=True
    )
    values = {
        "title": article.title,
        "date": render.format_instant(article.date),
        "publishedDate": article.published_date,
        "summary": article.summary,
        "importance": article.importance,
        "sourceUrl": article.source_url,
        "permalink": article.permalink,
        "imageUrl": article.image_url,
        "imageCredit": article.image_credit,
    }
    pairs: list[tuple[yaml.Node, yaml.Node]] = [
        (
            yaml.ScalarNode("tag:yaml.org,2002:str", key, style=None),
            tags if key == "tags" else scalar(values[key]),
        )
        for key in FRONT_MATTER_KEYS
    ]
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs, flow_style=False)


# Texts that read back as something else unquoted: what the serializer's resolver is for.
COERCED = ["true", "yes", "No", "on", "null", "~", "", "1", "-1.5", "1e3", ".inf", "0x1F"]
COERCED += ["2024-01-01", "2024-01-01 10:00:00", "1:20", "<<", "=", "!!str", "*a", "&a"]


@pytest.mark.parametrize("dumper", [yaml.SafeDumper, getattr(yaml, "CSafeDumper", None)])
@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(st.sampled_from(COERCED), st.text(max_size=40)), min_size=8),
    tags=st.lists(st.one_of(st.sampled_from(COERCED), st.text(max_size=20)), max_size=4),
)
def test_the_events_write_what_the_serializer_wrote(
    dumper: type[yaml.SafeDumper] | None, values: list[str], tags: list[str]
) -> None:
    if dumper is None:
        pytest.skip("PyYAML built without libyaml")
    article = replace(
        ARTICLE,
        title=values[0],
        published_date=values[1],
        summary=values[2],
        importance=values[3],
        source_url=values[4],
        permalink=values[5],
        image_url=values[6],
        image_credit=values[7],
        tags=tuple(tags),
    )
    serialized = yaml.serialize(node_tree(article), Dumper=dumper, **EMIT)
    assert yaml.emit(front_matter_events(article), Dumper=dumper, **EMIT) == serialized
    assert render.render_front_matter(article) == f"---\n{serialized}---\n"


def test_the_keys_are_plain_and_read_back_as_strings() -> None:
    resolver = yaml.resolver.Resolver()
    for key in FRONT_MATTER_KEYS:
        assert resolver.resolve(yaml.ScalarNode, key, (True, False)) == "tag:yaml.org,2002:str"
    text = render_article(ARTICLE, FR)
    assert all(f"\n{key}: " in text for key in FRONT_MATTER_KEYS)


def test_plain_text_in_the_body_cannot_become_a_markdown_link() -> None:
    article = replace(
        ARTICLE,
        summary="[a](javascript:x) [b][r] [r]: javascript:y c \\](javascript:z)",
        image_url="https://example.com/a.jpg",
        image_credit="[c](javascript:x)",
    )
    body = render_article(article, FR).split("---\n", 2)[2]
    assert "\n[a\\](javascript:x) [b\\][r] [r\\]: javascript:y c \\\\\\](javascript:z)\n" in body
    assert "*Crédit image : [c\\](javascript:x)*" in body
    assert parse_front_matter(render_article(article, FR))["summary"] == article.summary


def test_a_source_url_cannot_become_a_markdown_link() -> None:
    # Found by the fuzzer (tests/hostile/crashes/crash-4321fd9df024e7aa.xml): a guid
    # "][x](javascript:alert(1))" resolved against the feed's URL.
    url = "http://fuzz.invalid/][x]%28javascript:alert%281%29%29 [y]: z"
    body = render_article(replace(ARTICLE, source_url=url), FR).split("---\n", 2)[2]
    assert body.endswith("\nhttp://fuzz.invalid/\\][x]%28javascript:alert%281%29%29 [y\\]: z\n")
    assert render_article(ARTICLE, FR).endswith("\nhttps://example.com/a\n")


def test_one_line_turns_every_line_break_into_a_space() -> None:
    for c in render._LINE_BREAKS:
        assert render._one_line(f" a{c}b {c}{c} c{c}") == "a b c", repr(c)
        assert c.isspace()
