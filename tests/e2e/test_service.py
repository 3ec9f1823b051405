"""Issue 4 shown at scale: overlapping processes, several workers, SIGKILL at random moments.

Every feed is served by the loopback server, whose request log says how often each feed was
fetched; the article folder and the store say how often each article was written.
"""

from __future__ import annotations

import json
import random
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from aggregator.write import STAGING
from tests.e2e.generated import requests_per_feed, serve_feeds
from tests.e2e.helpers import aggregator, articles, assert_valid_article, start_aggregator
from tests.e2e.helpers import write_config as _write_config
from tests.e2e.test_daemon import wait_for
from tests.httpserver import LoopbackServer

pytestmark = pytest.mark.slow

TOTAL = re.compile(r"Total: (\d+) feeds checked, (\d+) new articles")
LOCKED = "database is locked"


def write_config(folder: Path, feeds: list[dict[str, object]], **daemon: object) -> Path:
    # Generous timeouts: on a loaded two-core machine the in-process server can be slow to
    # answer, and a timed-out fetch would be a failed feed, not what these tests look at.
    fetch = {
        "concurrency": 32,
        "timeout_seconds": 120,
        "connect_timeout_seconds": 60,
        "read_timeout_seconds": 60,
    }
    return _write_config(folder, feeds, fetch=fetch, daemon=daemon or None)


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def run_totals(stdout: str) -> tuple[int, int]:
    """(feeds checked, new articles) from `aggregator run`'s last line."""
    match = TOTAL.search(stdout)
    assert match, stdout
    return int(match[1]), int(match[2])


def md_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.md"))


def test_daemon_and_two_cron_runs_overlap_on_one_sqlite_file(
    server: LoopbackServer, tmp_path: Path
) -> None:
    count = 200
    config = write_config(tmp_path, serve_feeds(server, count), tick_seconds=1)
    db_path = tmp_path / "aggregator.db"  # not created yet: all three start on nothing
    daemon = start_aggregator("daemon", "--config", config, "--log-format", "json")
    runs = [start_aggregator("run", "--config", config) for _ in range(2)]
    try:
        outputs = [finish(p) for p in runs]

        def all_checked() -> bool:
            with sqlite3.connect(db_path) as db:
                (busy,) = db.execute(
                    "SELECT count(*) FROM feeds"
                    " WHERE last_checked_at IS NULL OR claimed_by IS NOT NULL"
                ).fetchone()
            return int(busy) == 0

        # Polled slowly: this process also serves the feeds.
        wait_for(all_checked, 120, "every feed checked", every=0.5)
        daemon.send_signal(signal.SIGTERM)
        _, daemon_err = finish(daemon, timeout=15)
    finally:
        for p in [daemon, *runs]:
            if p.poll() is None:
                p.kill()
                p.communicate()

    assert [p.returncode for p in runs] == [0, 0], [err for _, err in outputs]
    failures = [line for out, _ in outputs for line in out.splitlines() if ": failed:" in line]
    failures += [line for line in daemon_err.splitlines() if "feed failed" in line]
    assert failures == []
    assert daemon.returncode == 0, daemon_err
    for out, err in [*outputs, ("", daemon_err)]:
        assert LOCKED not in out + err
    # Every feed fetched once, by exactly one of the three processes.
    assert requests_per_feed(server, count) == [1] * count
    run_feeds = [run_totals(out)[0] for out, _ in outputs]
    events = [json.loads(line) for line in daemon_err.splitlines()]
    passes = [e for e in events if e["message"] == "pass finished"]
    assert sum(run_feeds) + sum(e["feeds"] for e in passes) == count
    # Every article written once: 4,000 files, and the writers' counts add up to 4,000.
    files = md_names(tmp_path / "articles")
    assert len(files) == len(set(files)) == count * 20
    written = sum(run_totals(out)[1] for out, _ in outputs) + sum(e["new"] for e in passes)
    assert written == count * 20
    with sqlite3.connect(db_path) as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM entries GROUP BY status"))
    assert statuses == {"written": count * 20}
    print(f"feeds per process: runs {run_feeds}, daemon {sum(e['feeds'] for e in passes)}")


@pytest.mark.postgresql
def test_three_workers_share_one_postgresql(
    server: LoopbackServer, tmp_path: Path, postgresql_url: str
) -> None:
    import psycopg

    count = 300
    config = write_config(tmp_path, serve_feeds(server, count))
    env = {"AGGREGATOR_DATABASE_URL": postgresql_url}
    upgraded = aggregator("db", "upgrade", "--config", config, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    workers = [start_aggregator("run", "--config", config, env=env) for _ in range(3)]
    outputs = [finish(p, timeout=180) for p in workers]
    assert [p.returncode for p in workers] == [0, 0, 0], [err for _, err in outputs]
    totals = [run_totals(out) for out, _ in outputs]
    failures = [line for out, _ in outputs for line in out.splitlines() if ": failed:" in line]
    assert failures == []
    assert requests_per_feed(server, count) == [1] * count
    assert sum(feeds for feeds, _ in totals) == count
    assert sum(new for _, new in totals) == count * 20
    files = md_names(tmp_path / "articles")
    assert len(files) == len(set(files)) == count * 20
    assert not (tmp_path / "aggregator.db").exists()  # the environment's URL was used
    dsn, _, options = postgresql_url.replace("postgresql+psycopg", "postgresql").partition("?")
    schema = options.rpartition("%3D")[2]
    with psycopg.connect(dsn) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        statuses = dict(conn.execute("SELECT status, count(*) FROM entries GROUP BY status"))
        (distinct,) = conn.execute("SELECT count(DISTINCT file_name) FROM entries").fetchone()
    assert statuses == {"written": count * 20}
    assert distinct == count * 20
    print(f"feeds per worker: {[feeds for feeds, _ in totals]}")


def test_runs_killed_at_random_moments_lose_nothing(server: LoopbackServer, tmp_path: Path) -> None:
    count = 30
    feeds = serve_feeds(server, count)
    # Leases of one second, so a killed run's claims and pending entries come back quickly
    # (in production: 15 and 5 minutes). Runs here never overlap, so short leases are safe.
    leases = {"feed_lease_seconds": 1, "entry_lease_seconds": 1}
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    started = time.monotonic()
    reference = aggregator("run", "--config", write_config(reference_dir, feeds, **leases))
    duration = time.monotonic() - started
    assert reference.returncode == 0, reference.stderr
    expected = articles(reference_dir / "articles")
    assert len(expected) == count * 20

    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    config = write_config(crash_dir, feeds, **leases)
    rng = random.Random(4)
    runs = 16
    killed = 0
    progress: list[int] = []  # article files after each run
    for n in range(runs):
        # Most kills land mid-pass (startup, recovery, claims, fetches, writes), so the set
        # is completed bit by bit over several dead runs. Every other run is killed the
        # moment it has written a first new file (the writes of a pass take a fraction of
        # a second, which random moments alone would rarely hit). The others die at a
        # random moment, or once they have written a random number of new files (up to a
        # tenth of the set), whichever comes first. With the moment alone, a reference run
        # slowed by a loaded machine can make the moments late enough for one run to
        # finish the set, leaving the runs after it nothing to be killed in (the likely
        # cause of a failure seen once under load).
        before = len(md_names(crash_dir / "articles"))
        allowed = 1 if n % 2 else rng.randint(1, count * 2)
        proc = start_aggregator("run", "--config", config)
        deadline = time.monotonic() + (duration if n % 2 else rng.uniform(0.3, duration))
        while proc.poll() is None and time.monotonic() < deadline:
            if len(md_names(crash_dir / "articles")) >= before + allowed:
                break
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        # Bounded: a killed run must leave no process holding its output open.
        proc.communicate(timeout=30)
        progress.append(len(md_names(crash_dir / "articles")))
        if proc.returncode == -signal.SIGKILL:
            killed += 1
            # Let the dead run's claims and pending entries come back before the next run:
            # started at once, it found them taken, had almost nothing to do and finished
            # before its kill moment, so too few runs died mid-work (7 of 20 once).
            time.sleep(1.1)
    time.sleep(1.2)  # the dead runs' leases expire
    clean = aggregator("run", "--config", config)
    assert clean.returncode == 0, clean.stderr

    out = crash_dir / "articles"
    assert articles(out) == expected  # same names, byte for byte, and nothing else
    # No temporary file left: the clean run swept the dead runs' ones from the staging
    # folder, and removed it once empty.
    assert not list(out.glob(".aggregator-*"))
    assert not (out / STAGING).exists()
    for data in list(expected.values())[::count]:
        assert_valid_article(data)
    with sqlite3.connect(crash_dir / "aggregator.db") as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM entries GROUP BY status"))
    assert statuses == {"written": count * 20}
    assert killed >= 8, f"only {killed} of {runs} runs were killed before they finished"
    # Some runs died with part of the set written: the kills landed mid-write.
    assert any(0 < n < count * 20 for n in progress), f"{duration:.2f}s {progress}"
    print(f"reference run {duration:.2f}s; {killed}/{runs} killed; files after each: {progress}")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, read from /proc (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_killed_run_leaves_no_parse_process_behind(
    server: LoopbackServer, tmp_path: Path
) -> None:
    # Enough feeds for the pass to parse in a pool of processes (forkserver and workers).
    config = write_config(tmp_path, serve_feeds(server, 40))
    proc = start_aggregator("run", "--config", config)
    workers: list[int] = []

    def pool_started() -> bool:
        workers[:] = [w for child in children(proc.pid) for w in children(child)]
        return bool(workers) or proc.poll() is not None

    try:
        wait_for(pool_started, 60, "the parse pool's workers")
        assert workers, "the run finished before its parse pool was seen"
        proc.send_signal(signal.SIGKILL)
        # Returns only when every process holding the run's stdout and stderr has ended.
        proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    wait_for(lambda: not any(alive(w) for w in workers), 5, "the orphaned workers to exit")
