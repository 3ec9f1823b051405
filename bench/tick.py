"""What a daemon's tick costs: an unchanged re-poll inside a running process.

    python -m bench.tick --feeds 1000 --runs 5

The daemon (``aggregator.daemon``) opens one pipeline when it starts and runs each tick as
a pass over the due feeds in it: the interpreter's start-up, the imports and the settings
are paid once, not at every re-poll as by ``aggregator run`` from cron. Against the bench
server, the feeds are first ingested by ``python -m aggregator run --all`` in a fresh
process; then this process loads the same settings, opens a pipeline as the daemon does,
and runs ``run_pass(force=True)`` (every feed, due or not) ``--runs`` times, every feed
answering 304. Prints the wall time of each pass and their median. The start-up it leaves
out is measured by ``bench.httpfloor`` (its last line) and included by ``bench.ab`` and
``bench.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aggregator.config import load_settings
from aggregator.wiring import open_pipeline
from bench.measure import ROOT, remove_tree, settle_freed_inodes
from bench.run import write_config
from bench.server import FeedServer


async def passes(config: Path, runs: int) -> list[float]:
    settings = load_settings(config, environ={})
    walls = []
    async with open_pipeline(settings) as pipeline:
        for _ in range(runs):
            started = time.perf_counter()
            result = await pipeline.run_pass(force=True)
            walls.append(time.perf_counter() - started)
            outcomes = {f.outcome for f in result.feeds}
            if outcomes != {"not_modified"} or len(result.feeds) != len(settings.feeds):
                raise RuntimeError(f"not an unchanged re-poll: {sorted(outcomes)}")
    return walls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    settle_freed_inodes()
    work = Path(tempfile.mkdtemp(prefix="aggregator-tick-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(remove_tree, work)
        server = cleanup.enter_context(FeedServer(args.feeds))
        config = write_config(work / "bench.toml", server.urls(), work)
        subprocess.run(
            [sys.executable, "-m", "aggregator", "run", "--config", str(config), "--all"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        walls = asyncio.run(passes(config, args.runs))
    shown = ", ".join(f"{w:.3f}" for w in walls)
    print(f"unchanged re-poll of {args.feeds} feeds in a running process (a daemon's tick):")
    print(f"  median of {args.runs} passes: {statistics.median(walls):.3f} s; passes {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
