"""2.9 end to end: titles that try to leave the output folder, overlong or unsluggable
titles, case-only collisions, and symlinks or foreign files planted at the target name.
Every file lands directly in the output folder with a name of at most 100 bytes; nothing
outside it is created, followed or overwritten.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.e2e.helpers import assert_valid_article, write_config
from tests.hostile.helpers import item, measured_run, rss
from tests.httpserver import LoopbackServer

TITLES = [
    "../../etc/passwd",
    "../../../../../../tmp/owned",
    "/abs/path",
    "/",
    "..",
    ".",
    "....",
    "~",
    "~/.bashrc",
    "a/b\\c",
    "C:\\Windows\\system32",
    "CON",
    "con.md",
    "NUL",
    "aux",
    "COM1",
    "LPT1",
    "x" * 300,
    " ".join(["word"] * 60),
    "é" * 300,
    "😀🎉🔥",
    "😀" * 200,
    "中文标题",
    "日本語のタイトル" * 20,
    "한국어 제목",
    "Hello World",
    "hello world",
    "HELLO WORLD!",
    "hello-world",
    "evil\u202egnp.exe",
    "file.md\x00.txt",
    "%2e%2e%2fetc%2fpasswd",
    "..%2f..%2fetc",
    "$(rm -rf /)",
    "`id`",
    "-rf",
    ".hidden",
    "planted",
    "dangling",
    "editor",
]
SAFE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-[a-z0-9]+(?:-[a-z0-9]+)*\.md$")


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_every_file_lands_inside_the_output_folder(server: LoopbackServer, tmp_path: Path) -> None:
    out = tmp_path / "articles"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch\n")
    (out / "2024-03-28-planted.md").symlink_to(victim)
    (out / "2024-03-28-dangling.md").symlink_to(tmp_path / "created-through-symlink.md")
    editor = out / "2024-03-28-editor.md"
    editor.write_text("an editor's own file\n")
    before = _tree(tmp_path)

    items = [item(t, link=f"http://names.invalid/{i}") for i, t in enumerate(TITLES)]
    server.feed("/feed", rss(items))
    config = write_config(tmp_path, [{"name": "Names", "url": server.url("/feed")}])
    run = measured_run(config)
    assert run.returncode == 0, run.stderr

    # Nothing new outside the output folder but the store and its SQLite side files.
    created = {p for p in _tree(tmp_path) - before if not p.startswith("articles/")}
    sqlite = {"aggregator.db", "aggregator.db-wal", "aggregator.db-shm", "aggregator.db.lock"}
    assert created <= sqlite | {"aggregator.toml"}
    assert not (tmp_path / "created-through-symlink.md").exists()
    assert victim.read_text() == "do not touch\n"
    assert os.readlink(out / "2024-03-28-planted.md") == str(victim)
    assert os.readlink(out / "2024-03-28-dangling.md") == str(
        tmp_path / "created-through-symlink.md"
    )
    assert editor.read_text() == "an editor's own file\n"

    ours = {p.name for p in out.iterdir()} - {
        "2024-03-28-planted.md",
        "2024-03-28-dangling.md",
        "2024-03-28-editor.md",
    }
    for name in ours:
        path = out / name
        assert SAFE_NAME.match(name), name
        assert len(name.encode()) <= 100, name
        assert path.is_file() and not path.is_symlink()
        assert path.resolve().parent == out.resolve()
    # One file per entry: case-only and punctuation-only differences do not collide.
    assert len(ours) == len(TITLES)
    metas = {name: assert_valid_article((out / name).read_bytes()) for name in ours}
    assert {m["sourceUrl"] for m in metas.values()} == {
        f"http://names.invalid/{i}" for i in range(len(TITLES))
    }
    by_title = {str(m["title"]): name for name, m in metas.items()}
    hello = {by_title[t] for t in ("Hello World", "hello world", "HELLO WORLD!", "hello-world")}
    assert len(hello) == 4
    # The planted names were not used: those entries took a hash-suffixed name.
    for title in ("planted", "dangling", "editor"):
        assert re.fullmatch(rf"2024-03-28-{title}-[0-9a-f]{{8}}\.md", by_title[title])
    # Permalinks are as safe as file names.
    for meta in metas.values():
        assert re.fullmatch(r"/papers/\d{4}-\d{2}-\d{2}-[a-z0-9-]+", str(meta["permalink"]))
