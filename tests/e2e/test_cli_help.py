"""Issue 6: `--help` on every command and `--version`, as subprocesses (run in parallel)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

from aggregator import __version__
from tests.e2e.helpers import aggregator

COMMANDS = [
    [],
    ["run"],
    ["demo"],
    ["check-config"],
    ["db"],
    ["db", "upgrade"],
    ["feeds"],
    ["feeds", "list"],
    ["feeds", "add"],
    ["feeds", "remove"],
    ["feeds", "pause"],
    ["feeds", "resume"],
    ["import-opml"],
    ["export-opml"],
    ["status"],
    ["rebuild"],
]


def test_every_command_has_help_and_the_version_is_printed() -> None:
    def help_of(command: list[str]) -> subprocess.CompletedProcess[str]:
        return aggregator(*command, "--help")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(help_of, COMMANDS))
    for command, proc in zip(COMMANDS, results, strict=True):
        assert proc.returncode == 0, (command, proc.stderr)
        assert proc.stdout.startswith("Usage: python -m aggregator"), command
        assert "Options:" in proc.stdout and "--help" in proc.stdout, command
    top = results[0].stdout
    for name in ("run", "feeds", "import-opml", "export-opml", "status", "rebuild", "db"):
        assert f"  {name} " in top
    run_help = results[1].stdout
    for option in ("--feed NAME", "--dry-run", "--catchup", "--all", "--verbose", "--config"):
        assert option in run_help

    version = aggregator("--version")
    assert (version.returncode, version.stdout) == (0, f"aggregator, version {__version__}\n")
    unknown = aggregator("frobnicate")
    assert unknown.returncode == 2 and "No such command 'frobnicate'" in unknown.stderr
    missing = aggregator("import-opml")
    assert missing.returncode == 2 and "Missing argument 'FILE'" in missing.stderr
