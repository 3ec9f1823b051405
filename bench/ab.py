"""A/B of two (or more) checkouts of the aggregator on one bench server.

    python -m bench.ab --roots /path/to/old,/path/to/new --feeds 500 --runs 5

The first checkout named is the baseline. One first ingest (with the last checkout) fills a
store; then each round runs every checkout, in turn, on a copy of that store: the
`unchanged` re-poll (every feed answers 304). Runs are interleaved so that the machine's
noise falls on both alike; the medians and their ratio to the baseline are printed.
A checkout is measured by running ``python -m aggregator`` with it as the working
directory, which puts its package first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import write_config
from bench.server import FeedServer


def one_run(root: Path, config: Path) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "aggregator", "run", "--config", str(config), "--all"],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{root}: exit {proc.returncode}: {proc.stderr[-500:]}")
    return wall, proc.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roots", required=True, help="checkouts, comma-separated")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    roots = [Path(r).resolve() for r in args.roots.split(",")]
    walls: dict[Path, list[float]] = {root: [] for root in roots}
    with tempfile.TemporaryDirectory(prefix="aggregator-ab-") as tmp, FeedServer(args.feeds) as srv:
        work = Path(tmp)
        config = write_config(work / "bench.toml", srv.urls(), work)
        wall, summary = one_run(roots[-1], config)
        print(f"first ingest ({roots[-1]}): {wall:.1f} s; {summary}")
        shutil.copy(work / "aggregator.db", work / "after-first.db")
        for _ in range(args.runs):
            for root in roots:
                shutil.copy(work / "after-first.db", work / "aggregator.db")
                for side in ("-wal", "-shm"):
                    (work / f"aggregator.db{side}").unlink(missing_ok=True)
                wall, summary = one_run(root, config)
                if f"{args.feeds} feeds checked, 0 new" not in summary:
                    raise RuntimeError(f"{root}: not an unchanged re-poll: {summary}")
                walls[root].append(wall)
        print(f"server: {srv.stats()}")
    base = statistics.median(walls[roots[0]])
    print(f"unchanged re-poll of {args.feeds} feeds, median of {args.runs} interleaved runs:")
    for root, runs in walls.items():
        median = statistics.median(runs)
        shown = ", ".join(f"{w:.2f}" for w in runs)
        print(f"  {root}: {median:.2f} s (ratio {median / base:.2f}); runs {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
