"""Write stage: article files, atomically and durably, inside the output folder only.

Order (POLITENESS_AND_SECURITY.md 2.11): temporary file in the staging folder inside the
output folder (``.aggregator-staging``: same file system, a dot name a site build ignores,
and a temporary name that does not end in ``.md``) → write → fsync → ``os.replace`` into
the output folder → fsync of the output folder. Only then does the caller mark the entry
written in the store.

Temporary files have a folder of their own so that the start-up sweep of those a crash left
(``ArticleWriter.prepare``) lists only them: listing the output folder itself took 25-80 ms
a pass with 34,000 articles in it, and grows with every article written. The writer removes
the staging folder when it closes, if it is empty (another process may be writing in it): a
finished run leaves nothing but articles in the output folder.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import itertools
import os
import re
import socket
import stat
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from aggregator.errors import OutputError
from aggregator.model import Article

T = TypeVar("T")
R = TypeVar("R")

MAX_NAME_BYTES = 100
STAGING = ".aggregator-staging"  # the temporary files' folder, inside the output folder
TEMP_PREFIX = ".aggregator-"
TEMP_SUFFIX = ".tmp"
#: Threads writing article files. A feed's files are written from one of the pipeline's store
#: threads, which waits for them all; with 4 writers, the few batches in flight shared 4
#: fsyncs. First ingest of 1,000 bench feeds, medians of 5 interleaved runs: 26.24 s with 4,
#: 24.60 s with 16 (0.94 x); 8 and 32 were no better than 16 (docs/performance.md).
WRITE_THREADS = 16
#: Files of one ``write_many`` call staged together: every one written, then every one
#: fsync'd, then every one renamed (at most this many descriptors open at once).
WRITE_CHUNK = 64
# A temporary file whose writer cannot be identified is removed once it is this old.
STALE_TEMP_SECONDS = 3600
_TEMP_OWNER = re.compile(r"^\.aggregator-([0-9a-f]{8})-(\d+)-")
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.md$")
_SAFE_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A temporary file is made new or not at all, and never through a symlink.
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TEMP_NUMBERS = itertools.count()  # numbers of this process's temporary files
_TEMP_NAME_TRIES = 100


def file_name(article: Article) -> str:
    """``{date}-{slug}.md``: built from our own ASCII parts only."""
    name = f"{article.local_date.isoformat()}-{article.slug}.md"
    if not _SAFE_SLUG.match(article.slug) or len(name.encode()) > MAX_NAME_BYTES:
        raise ValueError(f"unsafe file name {name!r}")
    return name


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cannot_write(path: str, err: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {err.strerror or err}")


def _discard(tmp: str) -> None:
    """Remove a temporary file, if it is still there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


@functools.cache
def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_prefix() -> str:
    """``.aggregator-<host>-<pid>-``: whose temporary file it is, for the stale check."""
    return f"{TEMP_PREFIX}{_host_tag()}-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale_temp(path: Path, *, now: float) -> bool:
    """A temporary file no live writer will rename: its process (on this host) is gone, or
    its writer is unknown (another host, an older name) and it is an hour old.

    Several processes share one output folder (cron beside the daemon, workers), so a
    starting process must never remove a temporary file another one is about to rename.
    """
    owner = _TEMP_OWNER.match(path.name)
    if owner and owner[1] == _host_tag():
        return not _pid_alive(int(owner[2]))
    try:
        return now - path.lstat().st_mtime > STALE_TEMP_SECONDS
    except FileNotFoundError:
        return False


class ArticleWriter:
    """Writes rendered articles into one output folder."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self._folder = os.fspath(output_dir)
        self.staging = output_dir / STAGING
        self._staging_ready = False
        self._threads: ThreadPoolExecutor | None = None
        self._token = os.urandom(4).hex()  # in this writer's temporary file names

    def prepare(self) -> None:
        """Create the folders, check they are writable, remove temporary files left by a
        crash (only those no live process is still writing: ``is_stale_temp``)."""
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            # The output folder is checked without making a file in it: a probe file there
            # outlived a run killed before removing it, among the articles, where no sweep
            # looks. The staging folder's probe is swept like any temporary file.
            effective = os.access in os.supports_effective_ids  # as the process, not its uid
            if not os.access(self.output_dir, os.W_OK | os.X_OK, effective_ids=effective):
                raise OutputError(f"output folder {self.output_dir} is not writable")
            fd, probe = self._temp_file()
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            raise OutputError(
                f"output folder {self.output_dir} is not writable: {err.strerror or err}"
            ) from err
        now = time.time()
        stale: list[Path] = []
        with contextlib.suppress(FileNotFoundError), os.scandir(self.staging) as entries:
            stale = [
                Path(e.path)
                for e in entries
                if e.name.startswith(TEMP_PREFIX)
                and e.name.endswith(TEMP_SUFFIX)
                and is_stale_temp(Path(e.path), now=now)
            ]
        for temp in stale:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def _temp_file(self) -> tuple[int, str]:
        """A new temporary file in the staging folder: (descriptor, path).

        Named ``<temp_prefix()><token>-<n>.tmp``: host and process (for the stale check), a
        random token of this writer and a number of this process, so a name is taken only
        by a file left by an earlier process with the same pid (then the next number is
        tried). ``tempfile.mkstemp`` drew a random name for every file; with a Python file
        object around each write, a durable write cost 319 us of CPU instead of 222
        (docs/performance.md).
        """
        staging = os.fspath(self.staging)
        for _ in range(3):
            self._make_staging()
            for _ in range(_TEMP_NAME_TRIES):
                name = f"{temp_prefix()}{self._token}-{next(_TEMP_NUMBERS)}{TEMP_SUFFIX}"
                path = os.path.join(staging, name)
                try:
                    return os.open(path, _TEMP_FLAGS, 0o600), path
                except FileExistsError:
                    continue
                except FileNotFoundError:
                    # Another process closed its writer and removed the empty folder
                    # meanwhile; a missing output folder fails in _make_staging.
                    self._staging_ready = False
                    break
            else:
                raise OutputError(f"no free temporary file name in {self.staging}")
        raise OutputError(f"{self.staging} keeps disappearing")

    def _make_staging(self) -> None:
        """The staging folder, made if missing; refused unless it is a folder of its own
        (a symlink planted there would send the temporary files elsewhere)."""
        if self._staging_ready:
            return
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.staging, 0o755)
        mode = os.lstat(self.staging).st_mode
        if not stat.S_ISDIR(mode):
            raise OutputError(f"{self.staging} is not a folder (a symlink or a file)")
        self._staging_ready = True

    def path_for(self, name: str) -> str:
        """The path of ``name``, refused unless it lies directly in the output folder."""
        if not _SAFE_NAME.match(name) or len(name.encode()) > MAX_NAME_BYTES:
            raise OutputError(f"refusing unsafe file name {name!r}")
        # The name is one path component of safe characters (checked above), so the file
        # lies in the folder itself; resolving the folder on every call was 8 % of the main
        # process's GIL-held time during a first ingest, and building ``Path`` objects
        # another 4 %: the check below is on strings.
        path = os.path.join(self._folder, name)
        if os.path.dirname(path) != self._folder:
            raise OutputError(f"refusing a path outside the output folder: {name!r}")
        return path

    def read(self, name: str) -> bytes | None:
        """The current bytes of an article file; None when absent (a symlink counts as foreign)."""
        path = self.path_for(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:  # a symlink planted at our name
                return b""
            raise OutputError(f"cannot read {path}: {err.strerror}") from err
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def exists(self, name: str) -> bool:
        return os.path.lexists(self.path_for(name))

    def write(self, name: str, data: bytes) -> str:
        """Write ``data`` as ``name`` atomically and durably; return its sha256."""
        digest = self._replace(name, data)
        self._sync_folder()
        return digest

    def write_many(self, files: Sequence[tuple[str, bytes]]) -> list[str]:
        """Write several files, each atomically; durable together (one folder fsync).

        Each file is still made durable before it is renamed, as ``write`` does, but the
        steps no longer go file by file: every temporary file of a chunk is written first,
        then each is fsync'd, then each renamed. The fsync of a new file also writes out
        the folder that holds it (ext4 without a journal, these machines' file system,
        syncs a new inode's parent): made one after another, every file's fsync wrote the
        staging folder again; made first, the first fsync writes it and the others find it
        clean. Measured: 35 files of 3 KB, 140 -> 103 us of CPU a file on one thread; a
        first ingest of 1,000 bench feeds, 0.95 x the wall and the machine's CPU
        (docs/performance.md).

        The files are staged (created and written) on the calling thread: that does not
        wait for the disk, and handing each small file to a thread and back cost more than
        the write (a first ingest of 1,000 bench feeds, 0.92-0.98 x the wall). The fsyncs
        run on ``WRITE_THREADS`` threads: concurrent fsyncs share the file system's
        commits (measured in an earlier session: 1,000 durable files in 0.42 s with 4
        threads, 2.1 s one after the other).
        """
        if len(files) <= 1:
            digests = [self._replace(name, data) for name, data in files]
        else:
            digests = []
            for start in range(0, len(files), WRITE_CHUNK):
                digests += self._write_chunk(files[start : start + WRITE_CHUNK])
        if files:
            self._sync_folder()
        return digests

    def _write_chunk(self, files: Sequence[tuple[str, bytes]]) -> list[str]:
        """Stage every file, fsync each, rename each; on any failure, no temporary file is
        left and the error is raised (files renamed before it stay, each complete)."""
        paths = [self.path_for(name) for name, _ in files]
        # Staged here, one after another: creating and writing a small file does not wait
        # for the disk, and handing each to a write thread and back cost more than it did.
        ready: list[tuple[int, str, str]] = []
        error: BaseException | None = None
        for path, (_, data) in zip(paths, files, strict=True):
            try:
                ready.append(self._stage((path, data)))
            except BaseException as err:  # the files staged so far are cleaned up below
                error = err
                break
        if error is not None:
            for fd, _, _ in ready:
                os.close(fd)
        else:
            _, error = self._on_threads(self._sync_and_close, ready)
        renamed = 0
        if error is None:
            for _, tmp, path in ready:
                try:
                    os.replace(tmp, path)
                except OSError as err:
                    error = _cannot_write(path, err)
                    break
                renamed += 1
        if error is not None:
            for _, tmp, _ in ready[renamed:]:
                _discard(tmp)
            raise error
        return [content_sha256(data) for _, data in files]

    def _on_threads(
        self, func: Callable[[T], R], items: Sequence[T]
    ) -> tuple[list[R | None], BaseException | None]:
        """``func`` over ``items`` on the write threads: every result (None where it
        failed) and the first failure, once every call has returned."""
        futures = [self._pool().submit(func, item) for item in items]
        results: list[R | None] = []
        error: BaseException | None = None
        for future in futures:
            try:
                results.append(future.result())
            except BaseException as err:  # collected: the other files are cleaned up first
                results.append(None)
                error = error or err
        return results, error

    def _stage(self, file: tuple[str, bytes]) -> tuple[int, str, str]:
        """(descriptor, temporary path, final path) of a temporary file holding the data
        with its final mode, still open, not synced."""
        path, data = file
        try:
            fd, tmp = self._temp_file()
        except OSError as err:
            raise _cannot_write(path, err) from err
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, 0o644)  # before the fsync: the mode is made durable with the data
        except BaseException as err:  # an interrupted write leaves no temporary file either
            os.close(fd)
            _discard(tmp)
            if isinstance(err, OSError):
                raise _cannot_write(path, err) from err
            raise
        return fd, tmp, path

    @staticmethod
    def _sync_and_close(staged: tuple[int, str, str]) -> None:
        fd, _, path = staged
        try:
            os.fsync(fd)
        except OSError as err:
            raise _cannot_write(path, err) from err
        finally:
            os.close(fd)

    def _pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="write")
        return self._threads

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
        if self._staging_ready:
            self._staging_ready = False
            # Not empty: another process is writing, or a crash left files to sweep.
            with contextlib.suppress(OSError):
                os.rmdir(self.staging)

    def _replace(self, name: str, data: bytes) -> str:
        """Temporary file, fsync, rename over ``name``; the folder is not synced yet."""
        staged = self._stage((self.path_for(name), data))
        _, tmp, path = staged
        try:
            self._sync_and_close(staged)
            os.replace(tmp, path)
        except BaseException as err:  # an interrupted write leaves no temporary file either
            _discard(tmp)
            if isinstance(err, OSError):  # the rename's; _sync_and_close raises OutputError
                raise _cannot_write(path, err) from err
            raise
        return content_sha256(data)

    def _sync_folder(self) -> None:
        dir_fd = os.open(self.output_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


__all__ = ["ArticleWriter", "content_sha256", "file_name"]
