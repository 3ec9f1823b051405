"""2.8 end to end: hostile titles and summaries in a feed; every file parses back (``---``
fences at column 0, ``yaml.safe_load``) with exactly the FORMAT.md keys and the expected
one-line values, and no raw line separator, NUL or control byte anywhere in a file.
A hypothesis property does the same from arbitrary Unicode in the feed's XML.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.extract import extract_article
from aggregator.locales import load_labels
from aggregator.model import FeedConfig, SiteSettings
from aggregator.parse import parse_feed
from aggregator.render import FRONT_MATTER_KEYS, parse_front_matter, render_article
from tests.e2e.helpers import write_config
from tests.hostile.helpers import item, measured_run, output_files, rss, valid_articles
from tests.httpserver import LoopbackServer

# (what the feed says, what title and summary must read back as)
CASES = [
    ('He said "hi" and \\o/', 'He said "hi" and \\o/'),
    ("C:\\path\\to\\", "C:\\path\\to\\"),
    ("key: value # comment", "key: value # comment"),
    ("#hashtag", "#hashtag"),
    ("- leading dash", "- leading dash"),
    ("! tag", "! tag"),
    ("&anchor", "&anchor"),
    ("*alias", "*alias"),
    ("% directive", "% directive"),
    ("@at `tick`", "@at `tick`"),
    ("| pipe", "| pipe"),
    ("> gt", "> gt"),
    ("x\n---\ninjected: true", "x --- injected: true"),
    ("x\r\n---\r\ninjected: true\r\n---", "x --- injected: true ---"),
    ("---", "---"),
    ("...", "..."),
    ("yes", "yes"),
    ("No", "No"),
    ("on", "on"),
    ("null", "null"),
    ("~", "~"),
    ("2024-01-01", "2024-01-01"),
    ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
    ("1e3", "1e3"),
    ("0x1F", "0x1F"),
    ("true", "true"),
    (".inf", ".inf"),
    ("a\u2028b", "a b"),
    ("a\u2029b", "a b"),
    ("\ufeffbom", "bom"),
    ("emoji 😀 🇫🇷 👩\u200d👩\u200d👧", "emoji 😀 🇫🇷 👩\u200d👩\u200d👧"),
    ("evil\u202eexe.md", "evil exe.md"),
    ("\u2066isolate\u2069 and \u202aembed\u202c", "isolate and embed"),
    ("tab\there", "tab here"),
    ("  spaced   out  ", "spaced out"),
    ("'single'", "'single'"),
    ("{flow: map}", "{flow: map}"),
    ("[flow, seq]", "[flow, seq]"),
    ("a: b: c", "a: b: c"),
    ("? question", "? question"),
    ("AT&T", "AT&T"),
    ("x &amp; y", "x & y"),
    ("\\x00 \\u2028 \\N", "\\x00 \\u2028 \\N"),
    ("العربية עברית", "العربية עברית"),
]
RAW_BREAKS = ("\u2028".encode(), "\u2029".encode(), "\x85".encode())


def _assert_no_raw_breaks_or_controls(data: bytes) -> None:
    assert not any(b in data for b in RAW_BREAKS)
    assert not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", data)
    text = data.decode("utf-8")
    assert not re.search("[\x80-\x9f\u202a-\u202e\u2066-\u2069\ufeff]", text)
    # Exactly one front matter: two fences, none in the body.
    assert len(re.findall(r"^---[ \t]*$", text, re.MULTILINE)) == 2, text


def test_hostile_titles_and_summaries_round_trip(server: LoopbackServer, tmp_path: Path) -> None:
    items = [
        item(raw, link=f"http://news.invalid/fm/{i}", description=f"{raw}")
        for i, (raw, _) in enumerate(CASES)
    ]
    server.feed("/feed", rss(items))
    config = write_config(tmp_path, [{"name": "Front: matter\n---", "url": server.url("/feed")}])
    run = measured_run(config)
    assert run.returncode == 0, run.stderr
    metas = valid_articles(tmp_path)
    by_source = {m["sourceUrl"]: m for m in metas.values()}
    assert len(by_source) == len(CASES)
    for i, (raw, expected) in enumerate(CASES):
        meta = by_source[f"http://news.invalid/fm/{i}"]
        assert meta["title"] == expected, (raw, meta["title"])
        assert meta["summary"] == expected, (raw, meta["summary"])
        assert meta["tags"] == ["Front: matter ---"]
    for data in output_files(tmp_path).values():
        _assert_no_raw_breaks_or_controls(data)


def test_nul_c0_c1_controls_in_a_broken_feed(server: LoopbackServer, tmp_path: Path) -> None:
    """XML cannot carry NUL or most C0 controls: such a feed is malformed and read by
    feedparser's loose parser; whatever it yields, no control reaches a file."""
    controls = "".join(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)])
    titles = [f"nul{controls}end", f"\x00\x00lead {controls[5:9]} x", "c1 \x85\x9b[31m ansi"]
    body = rss(
        f"<item><title>{escape(t)}</title><link>http://news.invalid/c/{i}</link>"
        f"<description>{escape(t)}</description></item>"
        for i, t in enumerate(titles)
    )
    server.feed("/feed", body)
    config = write_config(tmp_path, [{"name": "Controls", "url": server.url("/feed")}])
    assert measured_run(config).returncode == 0
    metas = valid_articles(tmp_path)
    assert len(metas) == len(titles)
    for data in output_files(tmp_path).values():
        _assert_no_raw_breaks_or_controls(data)
    for meta in metas.values():
        for key in ("title", "summary"):
            value = str(meta[key])
            assert value == " ".join(value.split())  # one line, no doubled spaces


# Everything XML 1.0 can carry (no surrogates, no C0 but tab/newline/CR, no U+FFFE/U+FFFF).
_XML_CHARS = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\ufffe\uffff",
    min_codepoint=0x09,
).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20)
_NOW = datetime(2024, 3, 28, tzinfo=UTC)
_SOURCE = FeedConfig(name="Prop", url="http://prop.invalid/feed")
_FR = load_labels("fr")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(title=st.text(_XML_CHARS, max_size=120), summary=st.text(_XML_CHARS, max_size=300))
def test_any_unicode_in_the_feed_round_trips_through_the_file(title: str, summary: str) -> None:
    body = rss([item(title, link="http://prop.invalid/1", description=escape(summary))])
    parsed = parse_feed(body, url="http://prop.invalid/feed")
    assert len(parsed.entries) == 1
    article = extract_article(parsed.entries[0], parsed, _SOURCE, SiteSettings(), _FR, now=_NOW)
    data = render_article(article, _FR).encode("utf-8")
    meta = parse_front_matter(data.decode("utf-8"))
    assert tuple(meta) == FRONT_MATTER_KEYS
    assert meta["title"] == article.title and meta["summary"] == article.summary
    for value in (article.title, article.summary):
        assert value == " ".join(value.split())
    assert article.title  # never empty: falls back to the summary, then "Untitled"
    _assert_no_raw_breaks_or_controls(data)
