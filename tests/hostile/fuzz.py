"""The fuzzing target: one document through parse → extract → render → front matter, with
the invariants every hostile document must keep. Shared by the hypothesis harness
(test_fuzz.py) and the replay of the crash corpus (crashes/).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from aggregator import hollow
from aggregator.errors import ParseError
from aggregator.extract import extract_article
from aggregator.locales import load_labels
from aggregator.model import FeedConfig, SiteSettings
from aggregator.parse import parse_feed
from aggregator.pipeline import MAX_ENTRIES_PER_FEED
from aggregator.render import FRONT_MATTER_KEYS, parse_front_matter, render_article
from aggregator.write import MAX_NAME_BYTES, file_name
from tests.extract.test_known_items import check_document as check_cuts

CRASH_DIR = Path(os.environ.get("AGGREGATOR_CRASH_DIR", Path(__file__).parent / "crashes"))
# Per document: far above what a fuzzed document costs (milliseconds; 1.5 s for the 500
# articles of the largest replay file), even on a loaded CI machine; a blowup costs more.
MAX_SECONDS = 15.0

_NOW = datetime(2024, 3, 28, 12, tzinfo=UTC)
_SOURCE = FeedConfig(name="Fuzz", url="http://fuzz.invalid/feed", tags=("t",))
_SITE = SiteSettings()
_LABELS = load_labels("fr")
_TAG_RE = re.compile(r"<[A-Za-z/!?]")
# One token of RFC 3986's characters, parentheses escaped (a ")" would end a Markdown link).
_URL_RE = re.compile(r"^https?://[A-Za-z0-9\-._~/:?#\[\]@!$&'*+,;=%]+$")
_UNESCAPED_LINK_RE = re.compile(r"(?<!\\)(?:\\\\)*\](?=[(\[:])")
_RAW_BREAKS_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f\x85\u2028\u2029]")


@contextlib.contextmanager
def _hollowing_every_section() -> Iterator[None]:
    saved = hollow.MIN_SECTION_BYTES
    hollow.MIN_SECTION_BYTES = 0
    try:
        yield
    finally:
        hollow.MIN_SECTION_BYTES = saved


def check_document(body: bytes) -> int:
    """Run ``body`` through every stage and assert the invariants; return the files made.

    A ``ParseError`` is an answer, not a failure. Anything else raised is a crash.
    """
    started = time.perf_counter()
    # Items cut as known (parse_feed's known_items) leave exactly the other entries; so do
    # the keyed parses with every CDATA section of an item hollowed, however short.
    check_cuts(body, _SOURCE.url)
    with _hollowing_every_section():
        check_cuts(body, _SOURCE.url)
    try:
        parsed = parse_feed(body, url=_SOURCE.url, max_entries=MAX_ENTRIES_PER_FEED)
    except ParseError:
        return 0
    made = 0
    for entry in parsed.entries[:MAX_ENTRIES_PER_FEED]:
        article = extract_article(entry, parsed, _SOURCE, _SITE, _LABELS, now=_NOW)
        text = render_article(article, _LABELS)
        data = text.encode("utf-8")
        meta = parse_front_matter(text)
        assert tuple(meta) == FRONT_MATTER_KEYS
        assert meta["title"] == article.title and article.title
        assert meta["summary"] == article.summary
        for value in (article.title, article.summary, article.image_credit):
            assert value == " ".join(value.split()), value
        for url in (article.image_url, article.source_url):
            assert url == "" or _URL_RE.match(url), url
        assert not _TAG_RE.search(text), text
        assert not _RAW_BREAKS_RE.search(text.replace("\n", "")), text
        assert len(re.findall(r"^---[ \t]*$", text, re.MULTILINE)) == 2, text
        body_text = text.split("\n---\n", 1)[1].lstrip("\n")
        if article.image_url:
            body_text = body_text.split("\n", 1)[1] if "\n" in body_text else ""
        assert not _UNESCAPED_LINK_RE.search(body_text), body_text
        name = file_name(article)
        assert len(name.encode()) <= MAX_NAME_BYTES and "/" not in name
        assert data.endswith(b"\n")
        made += 1
    seconds = time.perf_counter() - started
    assert seconds < MAX_SECONDS, f"{seconds:.1f} s for {len(body)} bytes"
    return made


def save_crash(body: bytes) -> Path:
    """Keep a failing document as a replay file (commit it with the fix)."""
    CRASH_DIR.mkdir(parents=True, exist_ok=True)
    path = CRASH_DIR / f"crash-{hashlib.sha256(body).hexdigest()[:16]}.xml"
    path.write_bytes(body)
    return path


def _final_example() -> bool:
    """True while hypothesis replays the minimal failing example (not while shrinking)."""
    try:
        from hypothesis.control import current_build_context

        return bool(current_build_context().is_final)
    except Exception:  # outside a hypothesis test, or its internals moved: keep everything
        return True


def checked(body: bytes) -> int:
    """``check_document``, saving the (shrunk) failing document to the crash corpus."""
    try:
        return check_document(body)
    except Exception:
        if _final_example():
            save_crash(body)
        raise


__all__ = ["CRASH_DIR", "check_document", "checked", "save_crash"]
