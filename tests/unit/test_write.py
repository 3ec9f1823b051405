from __future__ import annotations

import itertools
import os
import stat
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from aggregator import write
from aggregator.errors import OutputError
from aggregator.model import Article, IdentityRule
from aggregator.write import STAGING, ArticleWriter, content_sha256, file_name


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
    real_fsync, real_replace, real_fchmod = os.fsync, os.replace, os.fchmod

    def fsync(fd: int) -> None:
        calls.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def fchmod(fd: int, mode: int) -> None:
        calls.append(f"fchmod-{mode:o}")
        real_fchmod(fd, mode)

    def replace(a: str, b: object) -> None:
        calls.append("replace")
        real_replace(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fchmod", fchmod)
    digest = w.write("2024-03-28-a.md", b"hello\n")
    # The mode is set before the file's fsync, so it is durable with the data.
    assert calls == ["fchmod-644", "fsync-file", "replace", "fsync-dir"]
    assert digest == content_sha256(b"hello\n")
    assert (tmp_path / "out" / "2024-03-28-a.md").read_bytes() == b"hello\n"


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
@pytest.mark.parametrize(
    ("raised", "seen", "message"),
    [
        (OSError(28, "No space left on device"), OutputError, "No space left on device"),
        # an interrupt is not turned into an error
        (KeyboardInterrupt(), KeyboardInterrupt, None),
    ],
    ids=["error", "interrupt"],
)
def test_a_failed_write_leaves_old_file_and_no_temp(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
    raised: BaseException,
    seen: type[BaseException],
    message: str | None,
) -> None:
    w = ArticleWriter(tmp_path)
    w.prepare()
    w.write("2024-03-28-a.md", b"old\n")
    real = getattr(os, failing)

    def boom(*args: object) -> object:
        if failing == "fsync" and os.path.isdir(f"/proc/self/fd/{args[0]}"):
            return real(*args)  # the folder's fsync: only the file's fails
        raise raised

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(seen, match=message):
        w.write("2024-03-28-a.md", b"new\n")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [STAGING, "2024-03-28-a.md"]
    assert list((tmp_path / STAGING).iterdir()) == []  # no temporary file left
    assert (tmp_path / "2024-03-28-a.md").read_bytes() == b"old\n"


def test_prepare_removes_stale_temp_files_and_checks_writability(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from aggregator.write import STALE_TEMP_SECONDS, temp_prefix

    staging = tmp_path / STAGING  # where writers keep their temporary files
    staging.mkdir()
    old = staging / ".aggregator-abc.tmp"  # writer unknown, an hour old: stale
    old.write_bytes(b"partial")
    os.utime(old, (0, 0))
    (staging / ".aggregator-def.tmp").write_bytes(b"recent, writer unknown: kept")
    mine = staging / f"{temp_prefix()}live.tmp"  # a live process on this host: kept
    mine.write_bytes(b"being written")
    os.utime(mine, (0, 0))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dead_temp = staging / temp_prefix().replace(f"-{os.getpid()}-", f"-{dead}-")
    dead_temp = dead_temp.with_name(dead_temp.name + "x.tmp")  # its process died: stale
    dead_temp.write_bytes(b"partial")
    (staging / "keep.md").write_bytes(b"not ours")
    (tmp_path / "keep.md").write_bytes(b"x")
    ArticleWriter(tmp_path).prepare()
    assert sorted(p.name for p in tmp_path.iterdir()) == [STAGING, "keep.md"]
    assert sorted(p.name for p in staging.iterdir()) == sorted(
        [".aggregator-def.tmp", mine.name, "keep.md"]
    )
    assert STALE_TEMP_SECONDS >= 600
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OutputError):
        ArticleWriter(blocker / "sub").prepare()


def test_a_run_killed_in_prepare_leaves_nothing_among_the_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed right after it makes a file: that file must be where the sweep looks.

    (A probe file made in the output folder itself once outlived a run killed at that
    moment, beside the articles; tests/e2e/test_service.py caught it by chance.)
    """
    out = tmp_path / "out"
    real = os.open

    def made_then_killed(path: str, flags: int, *args: int, **kwargs: int) -> int:
        fd = real(path, flags, *args, **kwargs)
        if flags & os.O_CREAT:
            os.close(fd)
            raise SystemExit("killed")
        return fd

    monkeypatch.setattr(os, "open", made_then_killed)
    with pytest.raises(SystemExit):
        ArticleWriter(out).prepare()
    monkeypatch.undo()
    assert [p.name for p in out.iterdir()] == [STAGING]
    (left,) = (out / STAGING).iterdir()  # swept once its process is gone (test above)
    assert left.name.startswith(".aggregator-") and left.name.endswith(".tmp")


def test_an_output_folder_without_write_access_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # access(2) as an unprivileged user would answer (the tests run as root).
    real = os.access
    out = tmp_path / "out"
    monkeypatch.setattr(os, "access", lambda p, m, **k: p != out and real(p, m, **k))
    with pytest.raises(OutputError, match="is not writable"):
        ArticleWriter(out).prepare()


def test_temporary_files_are_made_in_the_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made beside the articles' folder's listing, not in it, then renamed into it."""
    w = ArticleWriter(tmp_path / "out")  # no prepare(): `rebuild` writes without it
    moves: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(a: str, b: object) -> None:
        moves.append((str(Path(a).parent), str(Path(str(b)).parent)))
        real_replace(a, b)  # type: ignore[arg-type]

    (tmp_path / "out").mkdir()
    monkeypatch.setattr(os, "replace", replace)
    w.write_many([("2024-03-28-a.md", b"a\n"), ("2024-03-28-b.md", b"b\n")])
    staging, out = str(tmp_path / "out" / STAGING), str(tmp_path / "out")
    assert moves == [(staging, out), (staging, out)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        STAGING,
        "2024-03-28-a.md",
        "2024-03-28-b.md",
    ]
    assert list((tmp_path / "out" / STAGING).iterdir()) == []


def test_closing_removes_the_staging_folder_only_when_empty(tmp_path: Path) -> None:
    """Two writers share one output folder (cron beside the daemon): one closing removes the
    empty staging folder under the other, which makes it again on its next write."""
    first, second = ArticleWriter(tmp_path), ArticleWriter(tmp_path)
    first.prepare()
    second.prepare()
    first.write("2024-03-28-a.md", b"a\n")
    second.write("2024-03-28-b.md", b"b\n")
    first.close()
    assert not (tmp_path / STAGING).exists()
    second.write("2024-03-28-c.md", b"c\n")
    (tmp_path / STAGING / ".aggregator-left-by-a-crash.tmp").write_bytes(b"partial")
    second.close()
    assert (tmp_path / STAGING).is_dir()  # not empty: left for the next sweep
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        STAGING,
        "2024-03-28-a.md",
        "2024-03-28-b.md",
        "2024-03-28-c.md",
    ]


def test_a_staging_folder_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / STAGING)  # planted: temporary files would go elsewhere
    with pytest.raises(OutputError, match="not a folder"):
        ArticleWriter(out).prepare()
    with pytest.raises(OutputError, match="not a folder"):
        ArticleWriter(out).write("2024-03-28-a.md", b"a\n")
    assert list(elsewhere.iterdir()) == []
    (out / STAGING).unlink()
    (out / STAGING).write_bytes(b"")
    with pytest.raises(OutputError, match="not a folder"):
        ArticleWriter(out).prepare()


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


def test_article_files_are_readable_by_the_site_whatever_the_umask(tmp_path: Path) -> None:
    w = ArticleWriter(tmp_path)
    w.prepare()
    old = os.umask(0o077)
    try:
        w.write("2024-03-28-a.md", b"a\n")
        w.write_many([("2024-03-28-b.md", b"b\n"), ("2024-03-28-c.md", b"c\n")])
    finally:
        os.umask(old)
    for name in ("a", "b", "c"):
        assert stat.S_IMODE((tmp_path / f"2024-03-28-{name}.md").stat().st_mode) == 0o644


def test_a_taken_temporary_name_is_passed_over_never_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file (or a symlink) left at the name a writer picks next is not touched."""
    w = ArticleWriter(tmp_path)
    w.prepare()
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.write_bytes(b"outside")
    monkeypatch.setattr(write, "_TEMP_NUMBERS", itertools.count(5))
    left = tmp_path / STAGING / f"{write.temp_prefix()}{w._token}-5.tmp"
    left.write_bytes(b"left by an earlier process with this pid")
    planted = tmp_path / STAGING / f"{write.temp_prefix()}{w._token}-6.tmp"
    planted.symlink_to(outside)
    w.write("2024-03-28-a.md", b"a\n")
    assert (tmp_path / "2024-03-28-a.md").read_bytes() == b"a\n"
    assert left.read_bytes() == b"left by an earlier process with this pid"
    assert planted.is_symlink() and outside.read_bytes() == b"outside"
    assert sorted(p.name for p in (tmp_path / STAGING).iterdir()) == [left.name, planted.name]
    # Every name it may try taken: refused, nothing overwritten.
    monkeypatch.setattr(write, "_TEMP_NUMBERS", itertools.repeat(5))
    with pytest.raises(OutputError, match="no free temporary file name"):
        w.write("2024-03-28-b.md", b"b\n")
    assert left.read_bytes() == b"left by an earlier process with this pid"
    assert not (tmp_path / "2024-03-28-b.md").exists()


def test_two_writers_of_one_process_never_share_a_temporary_name(tmp_path: Path) -> None:
    one, two = ArticleWriter(tmp_path), ArticleWriter(tmp_path)
    assert one._token != two._token
    fds = [one._temp_file(), two._temp_file(), one._temp_file()]
    for fd, _ in fds:
        os.close(fd)
    assert len({path for _, path in fds}) == 3


@pytest.mark.parametrize("count", [2, 17, 37])
def test_write_many_answers_each_files_digest_in_order(tmp_path: Path, count: int) -> None:
    """The files are written by several threads; the digests come back in their order."""
    w = ArticleWriter(tmp_path)
    w.prepare()
    files = [(f"2024-03-28-f{i}.md", f"file {i}\n".encode()) for i in range(count)]
    assert w.write_many(files) == [content_sha256(data) for _, data in files]
    for name, data in files:
        assert (tmp_path / name).read_bytes() == data
    w.close()


def _record_steps(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Each file step of the writer, in order: (step, temporary or final file name)."""
    steps: list[tuple[str, str]] = []
    real_fsync, real_replace, real_fchmod = os.fsync, os.replace, os.fchmod

    def name_of(fd: int) -> str:
        return os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))

    def fchmod(fd: int, mode: int) -> None:
        steps.append(("written", name_of(fd)))
        real_fchmod(fd, mode)

    def fsync(fd: int) -> None:
        kind = "fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync"
        steps.append((kind, name_of(fd)))
        real_fsync(fd)

    def replace(a: str, b: object) -> None:
        steps.append(("rename", os.path.basename(a)))
        real_replace(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fchmod", fchmod)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return steps


@pytest.mark.parametrize("count", [2, 35, write.WRITE_CHUNK + 5])
def test_write_many_makes_each_file_durable_before_its_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    """POLITENESS_AND_SECURITY.md 2.11 for each file of a batch: its data and mode are
    synced before it takes its name, and the folder is synced after every rename. Within a
    chunk, every temporary file is written before the first fsync (the staging folder is
    then written once, not once a file), and every fsync comes before the first rename."""
    w = ArticleWriter(tmp_path)
    w.prepare()
    steps = _record_steps(monkeypatch)
    files = [(f"2024-03-28-f{i}.md", f"file {i}\n".encode()) for i in range(count)]
    w.write_many(files)
    monkeypatch.undo()
    assert steps[-1][0] == "fsync-dir" and [s for s, _ in steps].count("fsync-dir") == 1
    temps = {name for step, name in steps if step == "written"}
    assert len(temps) == count
    for temp in temps:
        order = [step for step, name in steps if name == temp]
        assert order == ["written", "fsync", "rename"]
    per_file = steps[:-1]
    chunks = [
        per_file[i : i + 3 * write.WRITE_CHUNK] for i in range(0, 3 * count, 3 * write.WRITE_CHUNK)
    ]
    for chunk in chunks:
        kinds = [step for step, _ in chunk]
        n = len(kinds) // 3
        assert kinds == ["written"] * n + ["fsync"] * n + ["rename"] * n
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != STAGING) == sorted(
        name for name, _ in files
    )
    assert list((tmp_path / STAGING).iterdir()) == []
    w.close()


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_failure_in_a_batch_leaves_no_temporary_file_and_no_partial_article(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """One file of a batch cannot be written, synced or renamed: OutputError, nothing left
    in the staging folder, every article present complete (a failed fsync or write renames
    nothing of the chunk; a failed rename keeps the files renamed before it)."""
    w = ArticleWriter(tmp_path)
    w.prepare()
    files = [(f"2024-03-28-f{i}.md", f"file {i}\n".encode() * 100) for i in range(20)]
    real = getattr(os, failing)
    calls = itertools.count()

    def sometimes_fails(*args: object) -> object:
        if next(calls) == 7:
            raise OSError(28, "No space left on device")
        return real(*args)

    monkeypatch.setattr(os, failing, sometimes_fails)
    with pytest.raises(OutputError, match="No space left on device"):
        w.write_many(files)
    monkeypatch.undo()
    assert list((tmp_path / STAGING).iterdir()) == []
    present = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != STAGING}
    assert present == {name: data for name, data in files if name in present}
    assert len(present) == (7 if failing == "replace" else 0)
    assert w.write_many(files) == [content_sha256(data) for _, data in files]  # and it heals
    w.close()


def test_a_batch_keeps_at_most_a_chunk_of_descriptors_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed of 500 entries must not run the process out of descriptors."""
    w = ArticleWriter(tmp_path)
    w.prepare()
    open_now, most = 0, 0
    real_open, real_close = os.open, os.close
    staging = str(tmp_path / STAGING)

    def counting_open(path: str, flags: int, *args: int) -> int:
        nonlocal open_now, most
        fd = real_open(path, flags, *args)
        if str(path).startswith(staging):
            open_now += 1
            most = max(most, open_now)
        return fd

    def counting_close(fd: int) -> None:
        nonlocal open_now
        if os.readlink(f"/proc/self/fd/{fd}").startswith(staging):
            open_now -= 1
        real_close(fd)

    monkeypatch.setattr(os, "open", counting_open)
    monkeypatch.setattr(os, "close", counting_close)
    files = [(f"2024-03-28-f{i}.md", b"x\n") for i in range(3 * write.WRITE_CHUNK + 1)]
    w.write_many(files)
    monkeypatch.undo()
    assert open_now == 0
    assert write.WRITE_CHUNK // 2 < most <= write.WRITE_CHUNK
    w.close()


def test_host_tag_is_computed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every temporary file's name holds the host tag: hashing the host name again for
    # each one is a cost of the write path (07fadfd put the cache back where it belongs).
    first = write.temp_prefix()
    calls: list[int] = []

    def counted() -> str:
        calls.append(1)
        return "another-host"

    monkeypatch.setattr(write.socket, "gethostname", counted)
    assert [write.temp_prefix() for _ in range(3)] == [first] * 3
    assert calls == []


def test_each_write_error_is_a_new_exception() -> None:
    # A memoized error helper would hand out one exception object for equal arguments
    # and keep every error (and its OSError) alive for the life of the process.
    err = OSError(28, "No space left on device")
    a = write._cannot_write("/x/a.md", err)
    b = write._cannot_write("/x/a.md", err)
    assert a is not b
    assert isinstance(a, OutputError)
    assert str(a) == "cannot write /x/a.md: No space left on device"


def test_a_batch_is_staged_on_the_calling_thread_and_synced_on_the_write_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating and writing a small file does not wait for the disk, so a batch's files
    are staged by the thread that writes the batch (no hand-off to a write thread and back
    for each); only the fsyncs, which do wait, run on the write threads, several at once."""
    w = ArticleWriter(tmp_path)
    w.prepare()
    threads: dict[str, set[int]] = {"written": set(), "fsync": set()}
    real_fsync, real_fchmod = os.fsync, os.fchmod
    in_flight, most = 0, 0
    lock = threading.Lock()

    def fchmod(fd: int, mode: int) -> None:
        threads["written"].add(threading.get_ident())
        real_fchmod(fd, mode)

    def fsync(fd: int) -> None:
        nonlocal in_flight, most
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            real_fsync(fd)
            return
        threads["fsync"].add(threading.get_ident())
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.01)  # a disk that takes its time: the fsyncs overlap
        real_fsync(fd)
        with lock:
            in_flight -= 1

    monkeypatch.setattr(os, "fchmod", fchmod)
    monkeypatch.setattr(os, "fsync", fsync)
    files = [(f"2024-03-28-f{i}.md", f"file {i}\n".encode()) for i in range(35)]
    w.write_many(files)
    monkeypatch.undo()
    w.close()
    assert threads["written"] == {threading.get_ident()}
    assert threading.get_ident() not in threads["fsync"]
    assert most > 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != STAGING) == sorted(
        name for name, _ in files
    )
