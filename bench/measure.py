"""Run one command in a fresh child process and measure it from the outside.

Wall time is measured around the child (interpreter start-up and imports included);
CPU time (user + sys) comes from ``os.wait4`` for that child alone; peak memory is the
child's own VmHWM (see ``_BOOTSTRAP``), ``ru_maxrss`` being kept as ``ru_maxrss_mb``.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: How long files deleted by a benchmark slow the next one's file creation. When ext4 without
#: a journal (these machines) allocates an inode, it passes over every free inode deleted in
#: the last 60 s, or 360 s while its inode table block is not yet written back
#: (``recently_deleted`` in fs/ext4/ialloc.c), one buffer lookup each: a first ingest run
#: right after earlier runs had deleted their articles spent 13.55 s in the kernel instead of
#: 8.75 s (docs/performance.md).
FREED_INODES_SETTLE_S = 360
#: Where the last benchmark to delete many files says when it did (one machine, one file
#: system: every checkout's benchmarks read the same note).
DELETIONS = Path(tempfile.gettempdir()) / "aggregator-bench-deletions.json"
MANY_FILES = 5_000


def remove_tree(path: Path) -> None:
    """Delete a benchmark's work folder; if it held many files, note when (``DELETIONS``)."""
    files = sum(len(names) for _, _, names in os.walk(path))
    shutil.rmtree(path, ignore_errors=True)
    if files >= MANY_FILES:
        DELETIONS.write_text(json.dumps({"at": time.time(), "files": files}))


def settle_freed_inodes(
    *, sleep: Callable[[float], None] = time.sleep, now: Callable[[], float] = time.time
) -> float:
    """Before measuring: wait until the files the last benchmark deleted no longer slow
    file creation (``FREED_INODES_SETTLE_S`` after their deletion). Returns the seconds
    waited (0 when there was nothing to wait for)."""
    try:
        note = json.loads(DELETIONS.read_text())
        wait = float(note["at"]) + FREED_INODES_SETTLE_S - now()
        files = int(note["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0
    if wait <= 0:
        return 0.0
    print(
        f"waiting {wait:.0f} s: an earlier benchmark deleted {files:,} files, and until then"
        " new files would be slow to create (bench/measure.py)",
        flush=True,
    )
    sleep(wait)
    return wait


# Runs ``python -m <module> <args>`` and records the process's own peak RSS (VmHWM) at
# exit.  ``ru_maxrss`` of a child is floored by the RSS of the parent at fork time
# (Linux keeps the pre-exec high-water mark), so VmHWM is the figure we report.
# With a non-empty ``root`` the module is imported from that directory only: a
# setuptools editable install of another checkout (its meta-path finder) must not
# supply modules this checkout lacks, or the pass would run a mix of two trees.
_BOOTSTRAP = """
import atexit, runpy, sys
peak_file, root, module = sys.argv[1:4]
del sys.argv[1:4]
def _peak():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                with open(peak_file, 'w') as out:
                    out.write(line.split()[1])
atexit.register(_peak)
if root:
    sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in repr(f)]
    sys.path.insert(0, root)
sys.argv[0] = module
runpy.run_module(module, run_name='__main__', alter_sys=True)
"""


def compile_package(root: Path) -> None:
    """Write the bytecode of the ``aggregator`` package of ``root``, as installing it does.

    pip compiles a package's modules when it installs it, and the interpreter writes the
    bytecode of what it imports, unless ``PYTHONDONTWRITEBYTECODE`` is set, as it is on
    these machines. Without bytecode, every measured pass compiled the aggregator's source
    again: about 30 ms of start-up (0.29 against 0.32 s for a pass's imports, medians of 6),
    which no installed aggregator pays, nor the baselines, compiled by pip in
    site-packages.
    """
    compileall.compile_dir(root / "aggregator", quiet=1)


def module_cmd(module: str, *args: str, peak_file: Path, root: Path | None = None) -> list[str]:
    """``python -m module args`` through the peak-recording bootstrap."""
    return [sys.executable, "-c", _BOOTSTRAP, str(peak_file), str(root or ""), module, *args]


def measure_module(
    module: str, args: list[str], workdir: Path, root: Path | None = None
) -> dict[str, Any]:
    """Measure ``python -m module args`` in a fresh process (see :func:`measure`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    peak = workdir / "peak_kib.txt"
    peak.unlink(missing_ok=True)
    m = measure(module_cmd(module, *args, peak_file=peak, root=root), workdir)
    m["ru_maxrss_mb"] = m["peak_rss_mb"]
    if peak.exists():
        m["peak_rss_mb"] = int(peak.read_text()) / 1024
        m["peak_source"] = "VmHWM"
    else:
        m["peak_source"] = "ru_maxrss"
    return m


def measure(cmd: list[str], workdir: Path, timeout: float = 3600) -> dict[str, Any]:
    """Run ``cmd`` (cwd = repository root); stdout/stderr go to files in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, env=env)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "cpu_user_s": ru.ru_utime,
        "cpu_sys_s": ru.ru_stime,
        "peak_rss_mb": ru.ru_maxrss / 1024,
        "stdout_tail": out_path.read_text(errors="replace")[-2000:],
        "stderr_tail": err_path.read_text(errors="replace")[-2000:],
    }


def python_cmd(*args: str) -> list[str]:
    return [sys.executable, *args]
