"""Run one command in a fresh child process and measure it from the outside.

Wall time is measured around the child (interpreter start-up and imports included);
CPU time (user + sys) and peak RSS come from ``os.wait4`` for that child alone
(``ru_maxrss`` is in KiB on Linux).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


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
