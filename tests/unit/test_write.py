from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from aggregator.errors import OutputError
from aggregator.model import Article, IdentityRule
from aggregator.write import ArticleWriter, content_sha256, file_name


def make(slug: str) -> Article:
    return Article(
        title="t",
        date=datetime(2024, 3, 28, tzinfo=UTC),
        published_date="",
        summary="",
        importance="",
        source_url="",
        tags=(),
        permalink="",
        image_url="",
        image_credit="",
        identity="x",
        identity_rule=IdentityRule.LINK,
        slug=slug,
        local_date=date(2024, 3, 28),
    )


def test_file_name_is_date_and_slug() -> None:
    assert file_name(make("hello-world")) == "2024-03-28-hello-world.md"
    for bad in ["../x", "a/b", "", "x" * 120, "UPPER"]:
        with pytest.raises(ValueError):
            file_name(make(bad))


def test_write_is_atomic_and_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = ArticleWriter(tmp_path / "out")
    w.prepare()
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(a: str, b: object) -> None:
        calls.append("replace")
        real_replace(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    digest = w.write("2024-03-28-a.md", b"hello\n")
    assert calls == ["fsync-file", "replace", "fsync-dir"]
    assert digest == content_sha256(b"hello\n")
    assert (tmp_path / "out" / "2024-03-28-a.md").read_bytes() == b"hello\n"


def test_failed_replace_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = ArticleWriter(tmp_path)
    w.prepare()
    w.write("2024-03-28-a.md", b"old\n")

    def boom(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputError):
        w.write("2024-03-28-a.md", b"new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2024-03-28-a.md"]
    assert (tmp_path / "2024-03-28-a.md").read_bytes() == b"old\n"


def test_prepare_removes_stale_temp_files_and_checks_writability(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from aggregator.write import STALE_TEMP_SECONDS, temp_prefix

    old = tmp_path / ".aggregator-abc.tmp"  # writer unknown, an hour old: stale
    old.write_bytes(b"partial")
    os.utime(old, (0, 0))
    (tmp_path / ".aggregator-def.tmp").write_bytes(b"recent, writer unknown: kept")
    mine = tmp_path / f"{temp_prefix()}live.tmp"  # a live process on this host: kept
    mine.write_bytes(b"being written")
    os.utime(mine, (0, 0))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dead_temp = tmp_path / temp_prefix().replace(f"-{os.getpid()}-", f"-{dead}-")
    dead_temp = dead_temp.with_name(dead_temp.name + "x.tmp")  # its process died: stale
    dead_temp.write_bytes(b"partial")
    (tmp_path / "keep.md").write_bytes(b"x")
    ArticleWriter(tmp_path).prepare()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".aggregator-def.tmp", mine.name, "keep.md"]
    )
    assert STALE_TEMP_SECONDS >= 600
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OutputError):
        ArticleWriter(blocker / "sub").prepare()


def test_symlink_at_target_is_reported_foreign_and_paths_are_contained(tmp_path: Path) -> None:
    w = ArticleWriter(tmp_path / "out")
    w.prepare()
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    os.symlink(secret, tmp_path / "out" / "2024-03-28-a.md")
    assert w.read("2024-03-28-a.md") == b""  # not followed
    assert w.exists("2024-03-28-a.md")
    for bad in ["../x.md", "/abs.md", "a/b.md", ".hidden.md"]:
        with pytest.raises(OutputError):
            w.path_for(bad)
