"""The command line's pure helpers: the progress-bar decision and the table layout."""

from __future__ import annotations

import io

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
