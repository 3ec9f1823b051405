"""Every test feed of feedparser, served on loopback, through `aggregator run`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.helpers import aggregator, articles, assert_valid_article, write_config
from tests.httpserver import LoopbackServer

TAG = re.compile(r"<[a-zA-Z/!?]")
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos|nbsp);")


@pytest.mark.slow
@pytest.mark.parametrize(
    "folders", [("wellformed",), ("illformed", "encoding", "entities", "json")]
)
def test_corpus_through_the_pipeline(
    corpus: Path, server: LoopbackServer, tmp_path: Path, folders: tuple[str, ...]
) -> None:
    root = corpus / "kurtmckee__feedparser" / "tests"
    files = sorted(p for f in folders for p in (root / f).rglob("*") if p.is_file())
    assert len(files) > 100
    feeds = []
    for i, path in enumerate(files):
        route = f"/c/{i}"
        kind = "application/json" if path.suffix == ".json" else "application/xml"
        server.route(route, body=path.read_bytes(), headers={"content-type": kind})
        feeds.append(
            {"name": f"c{i} {path.relative_to(root)}", "url": server.url(route), "tags": ["corpus"]}
        )
    config = write_config(tmp_path, feeds, fetch={"concurrency": 32})
    proc = aggregator("run", "--config", config, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith(f"Total: {len(files)} feeds checked")
    # A feed may be refused (fragments, declared entities), but never by a bug of ours,
    # and nearly all of these real-world test feeds are ingested.
    assert [line for line in lines if ": failed: internal:" in line] == []
    failed = [line for line in lines if ": failed: " in line]
    assert len(failed) <= len(files) // 50, failed
    written = articles(tmp_path / "articles")
    assert written  # (many test feeds share example.com links: one file per story)
    for name, data in written.items():
        meta = assert_valid_article(data)
        assert name.endswith(".md") and len(name.encode()) <= 100
        assert meta["tags"][0] == "corpus"
        for key in ("title", "summary"):
            assert not TAG.search(meta[key]), (name, key, meta[key])
            assert not ENTITY.search(meta[key]), (name, key, meta[key])
        assert meta["imageUrl"] == "" or meta["imageUrl"].startswith(("http://", "https://"))
        assert meta["sourceUrl"] == "" or meta["sourceUrl"].startswith(("http://", "https://"))
