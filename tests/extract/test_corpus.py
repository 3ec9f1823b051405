"""Every feed of feedparser's own test suite goes through parse, extract and render.

Inputs nobody on the team wrote: the invariants of the output must hold for all of them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aggregator.errors import ParseError
from aggregator.extract import extract_article
from aggregator.locales import load_labels
from aggregator.model import ParsedFeed, SiteSettings
from aggregator.parse import parse_feed
from aggregator.render import FRONT_MATTER_KEYS, parse_front_matter, render_article
from tests.extract.conftest import NOW, SOURCE, parse

_REPO_ROOT = Path(__file__).resolve().parents[2]
_SUBDIRS = ("wellformed", "illformed", "encoding", "entities", "json")
_TAG_RE = re.compile(r"<[A-Za-z/!?]")
_ENTITY_RE = re.compile(r"&#|&amp;|&lt;")
_LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")


def _corpus() -> Path | None:
    candidates = [
        os.environ.get("AGGREGATOR_CORPUS", ""),
        str(_REPO_ROOT.parent / "shared" / "corpus"),
        "/work/shared/corpus",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "kurtmckee__feedparser" / "tests").is_dir():
            return Path(candidate) / "kurtmckee__feedparser" / "tests"
    return None


def _files() -> list[Path]:
    root = _corpus()
    if root is None:
        return []
    return sorted(p for d in _SUBDIRS for p in (root / d).rglob("*") if p.is_file())


def _parsed_or_error(body: bytes, url: str) -> ParsedFeed | str:
    try:
        return parse_feed(body, url=url)
    except ParseError as err:
        return f"ParseError: {err}"


def assert_corpus_parses_alike(
    put_back: Callable[[], object], *, url: str = "https://example.com/feed.xml"
) -> None:
    """The whole corpus parses to the same results before and after ``put_back`` (which puts
    feedparser's own code back in place of one of ``aggregator.parse``'s replacements)."""
    files = _files()
    if not files:
        pytest.skip("feed corpus not found (set AGGREGATOR_CORPUS)")
    bodies = [p.read_bytes() for p in files]
    ours = [_parsed_or_error(b, url) for b in bodies]
    put_back()
    theirs = [_parsed_or_error(b, url) for b in bodies]
    differ = [str(p) for p, a, b in zip(files, ours, theirs, strict=True) if a != b]
    assert not differ
    assert sum(isinstance(r, ParsedFeed) for r in theirs) > 1000


def test_corpus_sweep() -> None:
    files = _files()
    if not files:
        pytest.skip("feed corpus not found (set AGGREGATOR_CORPUS)")
    site = SiteSettings()
    labels = load_labels(site.language)
    started = time.monotonic()
    entries = 0
    problems: list[str] = []
    for path in files:
        try:
            feed = parse(path.read_bytes(), url="https://example.com/feed.xml")
        except ParseError:
            continue
        for entry in feed.entries:
            entries += 1
            article = extract_article(entry, feed, SOURCE, site, labels, now=NOW)
            text = render_article(article, labels)
            where = f"{path.name}: "
            if any(c in article.title for c in _LINE_BREAKS) or not article.title:
                problems.append(where + f"title {article.title!r}")
            if _TAG_RE.search(article.summary) or _ENTITY_RE.search(article.summary):
                problems.append(where + f"summary {article.summary!r}")
            if article.image_url and not article.image_url.startswith(("http://", "https://")):
                problems.append(where + f"image {article.image_url!r}")
            meta = parse_front_matter(text)
            if tuple(meta) != FRONT_MATTER_KEYS:
                problems.append(where + f"keys {tuple(meta)}")
            if meta["title"] != article.title or meta["summary"] != article.summary:
                problems.append(where + "front matter does not round-trip")
            raw = text.encode("utf-8")
            if any(b in raw for b in (b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xc2\x85")):
                problems.append(where + "raw line separator in file")
            if not text.endswith("\n") or text.endswith("\n\n"):
                problems.append(where + "file does not end with exactly one newline")
    assert entries > 500
    assert not problems, "\n".join(problems[:30])
    assert time.monotonic() - started < 60
