"""Every well-formed test feed of feedparser, served on loopback, through `aggregator run`."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.helpers import aggregator, articles, assert_valid_article, write_config
from tests.httpserver import LoopbackServer


def test_wellformed_corpus_through_the_pipeline(
    corpus: Path, server: LoopbackServer, tmp_path: Path
) -> None:
    root = corpus / "kurtmckee__feedparser" / "tests" / "wellformed"
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) > 1000
    feeds = []
    for i, path in enumerate(files):
        route = f"/wf/{i}"
        server.route(route, body=path.read_bytes(), headers={"content-type": "application/xml"})
        feeds.append(
            {
                "name": f"wf {i} {path.relative_to(root)}",
                "url": server.url(route),
                "tags": ["corpus"],
            }
        )
    config = write_config(tmp_path, feeds, fetch={"concurrency": 32})
    proc = aggregator("run", "--config", config, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith(f"Total: {len(files)} feeds checked")
    # A feed may fail to parse (some test files are fragments), but never with a bug of ours.
    internal = [line for line in lines if ": failed: internal:" in line]
    assert internal == []
    written = articles(tmp_path / "articles")
    assert len(written) > 500
    for name, data in written.items():
        meta = assert_valid_article(data)
        assert name.endswith(".md") and len(name.encode()) <= 100
        assert meta["tags"][0] == "corpus"
        assert meta["imageUrl"] == "" or meta["imageUrl"].startswith(("http://", "https://"))
