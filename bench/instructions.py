"""Instructions a parse process spends on bench feeds, counted by valgrind, per checkout.

    python -m bench.instructions --roots /path/to/old,/path/to/new --feeds 20

On these shared machines the speed of a core changes from one second to the next (the
same pass over 100 bench feeds took 1.05 to 1.90 ms an article in one process), so a
change of a few percent in the parse processes is lost in the noise of timings. The
number of instructions is not: for each checkout, ``parse_and_extract`` (as a parse
process runs it on a first ingest) is run over ``--feeds`` bench feeds under
``valgrind --tool=callgrind``, once with 1 measured pass and once with 3, each after a
pass that warms the caches; the difference between the two counts, halved, is one
pass, free of start-up and imports. Both counts of a checkout run at once, one a core.
Prints the instructions of a pass and an article for each checkout and their ratio to
the first one's. Counts move by about 0.1 % between runs (hash seeds); each takes a few
minutes (valgrind runs Python about 50 times slower). Needs valgrind (apt-get install
valgrind).

The bytecode of each checkout's ``aggregator`` and ``bench`` packages is written first.
Without it, the two counts of a checkout, started together, each compiled the modules the
other had not written yet, by chance: a checkout's first count came out up to 5 % high
(1.732 G instructions a pass of 10 feeds, then 1.646 G once its bytecode was there).
"""

from __future__ import annotations

import argparse
import compileall
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bench.measure import compile_package

# Run in the checkout (its package first on sys.path): N feeds, a warm-up pass, K passes.
_PASSES = """
import sys
from datetime import UTC, datetime
from aggregator.locales import load_labels
from aggregator.model import FeedConfig, SiteSettings
from aggregator.pipeline import extraction_context, parse_and_extract
from bench.feeds import generate, render

feeds, passes = int(sys.argv[1]), int(sys.argv[2])
documents = [render(spec, 0) for spec in generate(feeds)]
site = SiteSettings()
labels = load_labels("fr")
now = datetime(2026, 11, 20, tzinfo=UTC)
headers = {"content-type": "application/rss+xml; charset=utf-8"}
sources = [FeedConfig(name=f"Feed {i}", url=f"http://127.0.0.1/{i}") for i in range(feeds)]
contexts = [extraction_context(s, site, labels, ()) for s in sources]


def one_pass():
    articles = 0
    for i, body in enumerate(documents):
        url = f"http://127.0.0.1/{i}"
        extracted = parse_and_extract(
            body, url, headers, sources[i], site, labels, (), now, frozenset(), contexts[i]
        )
        articles += len(extracted.articles)
    return articles


print(one_pass())
for _ in range(passes):
    one_pass()
"""
_REFS_RE = re.compile(r"I\s+refs:\s+([\d,]+)")


def _counting(root: Path, feeds: int, passes: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            _PASSES,
            str(feeds),
            str(passes),
        ],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _instructions(proc: subprocess.Popen[str]) -> tuple[int, int]:
    out, err = proc.communicate()
    found = _REFS_RE.search(err)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind failed ({proc.returncode}): {err[-800:]}")
    return int(found[1].replace(",", "")), int(out.split()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roots", required=True, help="checkouts, comma-separated")
    parser.add_argument("--feeds", type=int, default=20)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind not found (apt-get install valgrind)", file=sys.stderr)
        return 2
    roots = [Path(r).resolve() for r in args.roots.split(",")]
    per_pass: dict[Path, float] = {}
    for root in roots:
        compile_package(root)
        compileall.compile_dir(root / "bench", quiet=1)
    for root in roots:
        one, three = _counting(root, args.feeds, 1), _counting(root, args.feeds, 3)
        (low, articles), (high, _) = _instructions(one), _instructions(three)
        per_pass[root] = (high - low) / 2
        print(
            f"{root}: {per_pass[root] / 1e9:.3f} G instructions a pass of {args.feeds} "
            f"feeds, {per_pass[root] / articles / 1e6:.3f} M an article ({articles:,})",
            flush=True,
        )
    base = per_pass[roots[0]]
    for root in roots[1:]:
        print(f"{root} / {roots[0]}: {per_pass[root] / base:.3f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
