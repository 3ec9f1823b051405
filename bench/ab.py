"""A/B of two (or more) checkouts of the aggregator on one bench server.

    python -m bench.ab --roots /path/to/old,/path/to/new --feeds 500 --runs 5
    python -m bench.ab --roots OLD,NEW --scenario changed10
    python -m bench.ab --roots OLD,NEW --scenario first --feeds 1000 --runs 5

The first checkout named is the baseline. Each checkout first ingests the feeds into a
store of its own (their schemas may differ); then each round runs every checkout, in turn,
on a copy of its store: the `unchanged` re-poll (every feed answers 304), or `changed10`
(the same 10 % of the feeds have 3 new entries each). Runs are interleaved so that the
machine's noise falls on both alike; the medians and their ratio to the baseline are
printed. `first` times the first ingest itself, into an empty store and an empty
folder each time.

Each run's machine CPU is printed beside its wall time: the busy time of every core
(``/proc/stat``: user, nice, system, irq, softirq) while the run lasts. It counts the parse
processes (which ``os.wait4`` of the main process does not), the bench server (the same for
every checkout) and the kernel's own writeback. On a machine whose cores are all busy, as
in a first ingest, the CPU a change saves is wall time it saves, so its two ratios should
agree (docs/performance.md).

A checkout is measured by running ``python -m aggregator`` with it as the working
directory, which puts its package first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import compile_package, remove_tree, settle_freed_inodes
from bench.run import write_config
from bench.server import FeedServer


def machine_busy_seconds() -> float:
    """CPU seconds all cores have been busy since boot (``/proc/stat``'s ``cpu`` line)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def one_run(root: Path, config: Path) -> tuple[float, float, str]:
    """One ``aggregator run --all``: wall seconds, machine CPU seconds, its last line."""
    busy = machine_busy_seconds()
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "aggregator", "run", "--config", str(config), "--all"],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    wall = time.monotonic() - started
    cpu = machine_busy_seconds() - busy
    if proc.returncode != 0:
        raise RuntimeError(f"{root}: exit {proc.returncode}: {proc.stderr[-500:]}")
    return wall, cpu, proc.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roots", required=True, help="checkouts, comma-separated")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--scenario", choices=("unchanged", "changed10", "first"), default="unchanged"
    )
    args = parser.parse_args(argv)
    roots = [Path(r).resolve() for r in args.roots.split(",")]
    for root in roots:
        compile_package(root)
    walls: dict[Path, list[float]] = {root: [] for root in roots}
    cpus: dict[Path, list[float]] = {root: [] for root in roots}
    changed = sorted(random.Random(1000).sample(range(1, args.feeds + 1), args.feeds // 10))
    settle_freed_inodes()
    work = Path(tempfile.mkdtemp(prefix="aggregator-ab-"))
    try:
        _interleaved(args, roots, work, walls, cpus, changed)
    finally:
        remove_tree(work)
    print(f"{args.scenario} of {args.feeds} feeds, median of {args.runs} interleaved runs:")
    for label, figures in (("wall", walls), ("machine CPU", cpus)):
        base = statistics.median(figures[roots[0]])
        print(f" {label}:")
        for root, runs in figures.items():
            median = statistics.median(runs)
            shown = ", ".join(f"{w:.2f}" for w in runs)
            print(f"  {root}: {median:.2f} s (ratio {median / base:.2f}); runs {shown}")
    return 0


def _interleaved(
    args: argparse.Namespace,
    roots: list[Path],
    work: Path,
    walls: dict[Path, list[float]],
    cpus: dict[Path, list[float]],
    changed: list[int],
) -> None:
    """Every checkout's runs, in turn, on one bench server; figures appended to walls, cpus."""
    with FeedServer(args.feeds) as srv:
        config = write_config(work / "bench.toml", srv.urls(), work)
        stores = {}
        for n, root in enumerate(roots if args.scenario != "first" else ()):
            srv.reset()
            _fresh(work, articles=True)
            wall, _cpu, summary = one_run(root, config)
            print(f"first ingest ({root}): {wall:.1f} s; {summary}")
            stores[root] = work / f"after-first-{n}.db"
            shutil.copy(work / "aggregator.db", stores[root])
        for _ in range(args.runs):
            for root in roots:
                srv.reset()
                if args.scenario == "changed10":
                    srv.bump(changed)
                _fresh(work, articles=args.scenario == "first")
                if args.scenario != "first":
                    shutil.copy(stores[root], work / "aggregator.db")
                wall, cpu, summary = one_run(root, config)
                if args.scenario == "first" and " 0 failed" not in summary:
                    raise RuntimeError(f"{root}: a first ingest failed: {summary}")
                if args.scenario == "unchanged" and f"{args.feeds} feeds checked, 0 new" not in (
                    summary
                ):
                    raise RuntimeError(f"{root}: not an unchanged re-poll: {summary}")
                if args.scenario == "changed10" and " 0 new" in summary:
                    raise RuntimeError(f"{root}: nothing new in a changed re-poll: {summary}")
                walls[root].append(wall)
                cpus[root].append(cpu)
        print(f"server: {srv.stats()}")


def _fresh(work: Path, *, articles: bool = False) -> None:
    """No store (and, before a first ingest, no articles): each run starts from its state.

    The articles of a first ingest are the same whichever checkout wrote them, so re-polls
    keep the folder as the last one left it, as in real use.

    An earlier run's articles are moved aside, not deleted: they are deleted with the
    temporary folder, after the last run. On ext4 without a journal (these machines), the
    inode allocator passes over every inode freed in the last minutes, one by one, so a
    first ingest right after 34,000 files were deleted spent most of its system time in
    ``openat`` (docs/performance.md): a cost of the harness, not of the ingester.
    """
    for name in ("aggregator.db", "aggregator.db-wal", "aggregator.db-shm"):
        (work / name).unlink(missing_ok=True)
    folder = work / "articles"
    if articles and folder.exists():
        aside = work / "set-aside"
        aside.mkdir(exist_ok=True)
        folder.rename(aside / f"articles-{sum(1 for _ in aside.iterdir())}")


if __name__ == "__main__":
    raise SystemExit(main())
