"""The e2e helpers run this checkout's package, not whichever one is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.helpers import REPO_ROOT, subprocess_env


def test_subprocesses_import_this_checkout(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import aggregator; print(aggregator.__file__)"],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(proc.stdout.strip()) == REPO_ROOT / "aggregator" / "__init__.py"
