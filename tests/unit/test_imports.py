"""Import rules that keep lazily imported packages safe to import from several threads."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "aggregator"
# `aggregator.extract` is imported lazily (a pass of unchanged feeds never loads it), from
# parse threads, store threads and the event loop at once. A thread importing one of its
# submodules by name takes that submodule's import lock, then the package's; a thread
# running the package's __init__ holds the package's and wants the submodule's: CPython
# raises _DeadlockError in one of them (seen once, under CI, when render.py imported
# `aggregator.extract.dates`). Outside the package, import it through the package.
_SUBMODULE_IMPORT = re.compile(r"^\s*(?:from|import)\s+aggregator\.extract\.", re.MULTILINE)


def test_the_extract_package_is_imported_only_through_itself() -> None:
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent.name != "extract" and _SUBMODULE_IMPORT.search(path.read_text("utf-8"))
    ]
    assert offenders == []
