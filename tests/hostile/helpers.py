"""Hostile feeds, a measured `aggregator run`, and checks over every output of a run."""

from __future__ import annotations

import html
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from tests.e2e.helpers import REPO_ROOT, assert_valid_article

# The child measures its own child (the aggregator) so the figure is the aggregator's alone.
_MEASURE = (
    "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(p.returncode)"
)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float


def measured_run(config: Path, *args: str, timeout: float = 120) -> Run:
    """`aggregator run --config CONFIG --all ARGS` as a subprocess: wall time and peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("AGGREGATOR_DATABASE_URL", None)
    started = time.perf_counter()
    command = [sys.executable, "-m", "aggregator", "run", "--config", str(config), "--all"]
    child = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    seconds = time.perf_counter() - started
    *rest, peak = child.stderr.rstrip("\n").split("\n")
    run = Run(child.returncode, child.stdout, "\n".join(rest), seconds, int(peak) / 1024)
    figures = os.environ.get("AGGREGATOR_HOSTILE_FIGURES")  # a file to collect the bounds in
    if figures:
        with open(figures, "a", encoding="utf-8") as f:
            f.write(f"{config.parent.name}: {run.seconds:.2f} s, peak RSS {run.peak_mib:.0f} MiB\n")
    return run


def item(
    title: str = "",
    *,
    link: str = "",
    description: str = "",
    guid: str = "",
    extra: str = "",
    raw_title: bool = False,
) -> str:
    """One RSS item; text is XML-escaped unless ``raw_title`` (for markup in titles)."""
    parts = [f"<title>{title if raw_title else escape(title)}</title>"]
    if link:
        parts.append(f"<link>{escape(link)}</link>")
    if guid:
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
    parts.append("<pubDate>Thu, 28 Mar 2024 14:25:02 +0000</pubDate>")
    if description:
        parts.append(f"<description>{escape(description)}</description>")
    parts.append(extra)
    return "<item>" + "".join(parts) + "</item>"


def rss(items: Iterable[str], *, prolog: str = "", title: str = "Hostile") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}<rss version="2.0" '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{title}</title><link>http://hostile.invalid/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def output_files(tmp_path: Path) -> dict[str, bytes]:
    """Every file under the output folder (recursively; there should be no sub-folder)."""
    root = tmp_path / "articles"
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def valid_articles(tmp_path: Path) -> dict[str, dict[str, object]]:
    """Every output file, each checked to be a valid article (FORMAT.md keys, one-line title)."""
    files = output_files(tmp_path)
    assert all(name.endswith(".md") and "/" not in name for name in files), list(files)
    return {name: assert_valid_article(data) for name, data in files.items()}


def store_dump(db: Path) -> str:
    """Every value of every table of the SQLite store, as one text (for "contains" checks)."""
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = []
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                out.extend(
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row
                )
        return "\n".join(out)
    finally:
        con.close()


def stored_entry_count(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM entries").fetchone()[0])
    finally:
        con.close()


# What no output file may contain (see forbidden_in and tests/hostile/test_html.py).
_TAG_RE = re.compile(r"<[A-Za-z/!?]")
_WORDS_RE = re.compile(r"http-equiv|srcdoc|formaction", re.IGNORECASE)
# A dangerous scheme where a scheme can start (not inside the path of an http(s) URL), looked
# for after removing what browsers drop inside URLs and decoding character references (so
# "jav&#x09;ascript:" counts).
_SCHEMES_RE = re.compile(
    r"(?<![\w/.%~-])(?:(?:java|vb|live)script:|data:[a-z+.-]*/)|&colon;", re.IGNORECASE
)
_DROPPED_IN_URLS_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def forbidden_in(data: bytes) -> list[str]:
    """The forbidden markup or schemes found in one file's bytes (empty list: clean)."""
    text = data.decode("utf-8", "replace")
    found = [m.group(0) for r in (_TAG_RE, _WORDS_RE) for m in r.finditer(text)]
    decoded = text
    for _ in range(3):
        decoded = html.unescape(_DROPPED_IN_URLS_RE.sub("", decoded))
    for candidate in (_DROPPED_IN_URLS_RE.sub("", text), decoded):
        found += [m.group(0) for m in _SCHEMES_RE.finditer(candidate)]
    return found


def assert_http_or_empty(url: object) -> None:
    assert isinstance(url, str)
    assert url == "" or re.match(r"^https?://[^\s]+$", url), url
