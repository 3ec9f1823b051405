"""What a durable article file costs, written step by step or file by file.

    python -m bench.filewrites --files 35 --batches 15

Batches of ``--files`` article-sized files (3 KB, as the bench feeds' articles) are written
into a folder under ``bench/results/tmp/`` in two ways, batch after batch, alternating
(which goes first alternates too):
``write_many`` as the pipeline calls it (every temporary file written, then each fsync'd,
then each renamed, then one folder fsync), and the order it replaced (each file written,
fsync'd and renamed before the next, then one folder fsync: ``ArticleWriter._replace`` on
each). Each way runs on one thread and on the writer's ``WRITE_THREADS`` threads. Prints
the medians of the CPU time (user and system, the whole process) and of the wall time
per file, and their ratios to the file-by-file order.

No file is deleted while it runs: on ext4 without a journal, freed inodes slow the next
files' creation (docs/performance.md). The folder is removed at the end
(``bench.measure.remove_tree``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aggregator.write import WRITE_THREADS, ArticleWriter
from bench.measure import remove_tree

Files = Sequence[tuple[str, bytes]]


def step_by_step(writer: ArticleWriter, files: Files) -> None:
    writer.write_many(files)


def file_by_file(writer: ArticleWriter, files: Files) -> None:
    """The order before: each file written, fsync'd and renamed, on the writer's threads."""
    list(writer._pool().map(lambda f: writer._replace(*f), files))
    writer._sync_folder()


def timed(
    way: Callable[[ArticleWriter, Files], None], writer: ArticleWriter, files: Files
) -> tuple[float, float]:
    """(CPU µs a file, wall µs a file) of writing ``files`` ``way``."""
    cpu, wall = time.process_time(), time.perf_counter()
    way(writer, files)
    return (
        (time.process_time() - cpu) / len(files) * 1e6,
        (time.perf_counter() - wall) / len(files) * 1e6,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=35, help="files a batch (a feed's)")
    parser.add_argument("--batches", type=int, default=15, help="batches of each way")
    args = parser.parse_args(argv)
    folder = Path(__file__).parent / "results" / "tmp" / f"filewrites-{os.getpid()}"
    data = (b"0123456789abcdef" * 192)[:3000]
    try:
        for threads in (1, WRITE_THREADS):
            writer = ArticleWriter(folder / f"threads-{threads}")
            writer.prepare()
            writer._threads = ThreadPoolExecutor(threads)  # both ways use this pool
            figures: dict[str, list[tuple[float, float]]] = {"file by file": [], "step by step": []}
            ways = {"file by file": file_by_file, "step by step": step_by_step}
            for batch in range(args.batches):
                order = list(ways.items())
                for name, way in order if batch % 2 == 0 else order[::-1]:
                    files = [
                        (f"2026-12-07-{name[0]}-{batch}-{i}.md", data) for i in range(args.files)
                    ]
                    figures[name].append(timed(way, writer, files))
            writer.close()
            base_cpu = statistics.median(c for c, _ in figures["file by file"])
            base_wall = statistics.median(w for _, w in figures["file by file"])
            print(f"{threads} thread(s), {args.batches} batches of {args.files} files:")
            for name, runs in figures.items():
                cpu = statistics.median(c for c, _ in runs)
                wall = statistics.median(w for _, w in runs)
                print(
                    f"  {name}: {cpu:.0f} µs of CPU a file ({cpu / base_cpu:.2f} x), "
                    f"{wall:.0f} µs of wall ({wall / base_wall:.2f} x)"
                )
    finally:
        remove_tree(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
