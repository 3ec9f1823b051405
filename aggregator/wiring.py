"""The one place where the real clock, HTTP client, engine and output folder are built."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aggregator.fetch import Fetcher
from aggregator.metrics import Metrics
from aggregator.model import Settings
from aggregator.pipeline import Pipeline, utcnow
from aggregator.store import Store, new_worker_id
from aggregator.write import ArticleWriter


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
    try:
        writer = ArticleWriter(settings.output_dir)
        if not dry_run:
            writer.prepare()
        async with Fetcher(settings.fetch, clock=clock) as fetcher:
            yield Pipeline(
                settings,
                store=store,
                fetcher=fetcher,
                writer=writer,
                clock=clock,
                rng=random.Random(),
                worker_id=new_worker_id(),
                metrics=metrics,
            )
    finally:
        if own_store:
            store.close()


__all__ = ["open_pipeline", "open_store"]
