"""The command line: the progress-bar decision, the table layout, what `run` does at start."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from aggregator.cli import format_table, show_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    assert show_progress(Terminal())
    assert not show_progress(io.StringIO())  # a pipe, a file, cron's mail
    assert not show_progress(object())  # type: ignore[arg-type]  # no isatty at all


def test_table_columns_are_aligned_without_trailing_spaces() -> None:
    text = format_table(["A", "LONGER"], [["xyz", "1"], ["q", ""]])
    assert text.splitlines() == ["A    LONGER", "xyz  1", "q"]


def test_a_pass_freezes_what_start_up_made(tmp_path: Path) -> None:
    """`run` hands the collector's tracked objects of its imports to the permanent generation
    (``cli.started``) before its pass: a full collection, and the interpreter's at exit, no
    longer walk SQLAlchemy, httpx and the rest (docs/performance.md)."""
    config = tmp_path / "aggregator.toml"
    config.write_text(
        f'output_dir = "{tmp_path / "articles"}"\n'
        f'database_url = "sqlite:///{tmp_path / "aggregator.db"}"\n'
    )
    script = (
        "import gc, sys\n"
        "from aggregator import cli\n"
        "before, tracked = gc.get_freeze_count(), len(gc.get_objects())\n"
        "cli.cli.main(['run', '--config', sys.argv[1]], standalone_mode=False)\n"
        "print(before, tracked, gc.get_freeze_count())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    before, tracked, frozen = (int(n) for n in done.stdout.split()[-3:])
    assert before == 0
    # The command line alone is about 20,000 objects; the pass's imports more than double it.
    assert frozen > 2 * tracked, done.stdout
