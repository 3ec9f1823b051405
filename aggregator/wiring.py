"""The one place where the real clock, HTTP client, engine and output folder are built."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import sys
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.fetch import Fetcher
from aggregator.model import Settings
from aggregator.pipeline import Pipeline, utcnow
from aggregator.store import Store, new_worker_id
from aggregator.write import ArticleWriter

if TYPE_CHECKING:  # the daemon brings the metrics; `run` does not load prometheus_client
    from aggregator.metrics import Metrics

#: The main process's GIL switch interval while a pipeline is open (CPython's default: 5 ms).
#: The event loop keeps the GIL busy, and each time a store or write thread comes back from
#: a system call (open, write, fsync, rename, SQLite) it waited up to the whole interval to
#: get it back: a file took ~10 ms to write instead of ~0.5 ms. First ingest of 200 bench
#: feeds, medians of 3 interleaved runs: 56.6 s -> 33.7 s (docs/performance.md).
SWITCH_INTERVAL_SECONDS = 0.0002


def parse_processes() -> Executor:
    """A pool of parse processes, one a core, forked from a server that imported the
    pipeline once (so each worker starts in milliseconds, with no inherited threads)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        ["aggregator.pipeline", "aggregator.parse", "aggregator.extract", "aggregator.render"]
    )
    return ProcessPoolExecutor(
        max_workers=os.cpu_count() or 1, mp_context=context, initializer=exit_with_parent
    )


def exit_with_parent() -> None:
    """Make a pool worker exit as soon as the main process is gone.

    A worker blocks on its task queue, and the forkserver lives as long as any worker does,
    so when the main process is killed (SIGKILL, the OOM killer) nothing would wake them:
    they would live on, holding the run's stdout and stderr open, and cron (or whoever
    reads them) would wait forever. ``parent_process().join()`` returns when the main
    process's end of the worker's sentinel pipe closes, which the kernel does at its death.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # not a child process: nothing to watch
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def open_store(settings: Settings, *, create: bool = True) -> Store:
    """Open the database; create the schema on an empty one, refuse one that is behind."""
    store = Store.open(settings.database_url)
    try:
        if create:
            store.ensure_schema()
    except BaseException:
        store.close()
        raise
    return store


@contextlib.asynccontextmanager
async def open_pipeline(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    store: Store | None = None,
    metrics: Metrics | None = None,
    dry_run: bool = False,
) -> AsyncIterator[Pipeline]:
    """A ready pipeline; the store is checked and the output folder prepared first.

    ``dry_run``: the output folder is left alone (not even created).
    """
    own_store = store is None
    store = store or open_store(settings)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    try:
        writer = ArticleWriter(settings.output_dir)
        if not dry_run:
            writer.prepare()
        async with Fetcher(settings.fetch, clock=clock) as fetcher:
            pipeline = Pipeline(
                settings,
                store=store,
                fetcher=fetcher,
                writer=writer,
                clock=clock,
                rng=random.Random(),
                worker_id=new_worker_id(),
                executor_factory=parse_processes,
                metrics=metrics,
            )
            try:
                yield pipeline
            finally:
                pipeline.close()
                writer.close()
    finally:
        sys.setswitchinterval(switch_interval)
        if own_store:
            store.close()


__all__ = ["open_pipeline", "open_store"]
