"""The daemon: one APScheduler job ticking over the store's schedule, until a signal stops it.

Which feeds are due is state in the store, so a tick is simply a pass (``Pipeline.run_pass``):
claim due feeds in batches, process them, release. The job is one interval job with
``max_instances=1`` (a slow pass is never overlapped by the next tick) and ``coalesce=True``
(ticks missed while a pass ran become one). Cron runs and other workers may run beside it.

Signals: SIGTERM and SIGINT stop it: no further batch is claimed, fetches in flight are
abandoned (those feeds stay due), what was fetched is stored and written, claims are
released, and ``run`` returns (the CLI exits 0). SIGHUP reloads the configuration: the new
one is validated and its pipeline opened (store schema checked, output folder prepared)
before it replaces the old one, between passes; a bad one is refused with a log line and the
old one is kept.

Metrics: with ``[metrics] listen`` set, ``/metrics`` (Prometheus) and ``/healthz`` are served
from a thread for the daemon's lifetime; the counters survive a reload, and health reads
whichever store the current configuration names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from aggregator.config import load_settings
from aggregator.errors import AggregatorError
from aggregator.log import log_event
from aggregator.metrics import HealthReport, Metrics, MetricsServer, health, serve_metrics
from aggregator.model import Settings
from aggregator.pipeline import FeedRunResult, Pipeline, utcnow
from aggregator.wiring import open_pipeline

log = logging.getLogger("aggregator.daemon")

JOB_ID = "tick"
# After a stop request, how long the pass in flight may take to finish its writes before it
# is cancelled (the promise is an exit within 10 s of SIGTERM).
STOP_GRACE_SECONDS = 7.0


class Daemon:
    """Build it with the loaded settings, then ``await daemon.run()`` until a signal."""

    def __init__(self, config_path: Path, settings: Settings) -> None:
        self.config_path = config_path
        self.settings = settings
        self._pipeline: Pipeline | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._pass: asyncio.Task[None] | None = None
        self._stop_requested: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.metrics = Metrics()
        self._endpoint: MetricsServer | None = None

    # -- life cycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Open the pipeline (refusing a schema that is behind), tick until stopped."""
        loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stack, self._pipeline = await self._open(self.settings)
        try:
            self._endpoint = self._serve_metrics(self.settings)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop, sig.name)
            loop.add_signal_handler(signal.SIGHUP, self.reload)
            self._scheduler = AsyncIOScheduler(timezone=UTC, event_loop=loop)
            self._scheduler.add_job(
                self._tick,
                "interval",
                seconds=self.settings.daemon.tick_seconds,
                id=JOB_ID,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=datetime.now(UTC),
            )
            self._scheduler.start()
            log_event(
                log,
                logging.INFO,
                "daemon started",
                worker=self._pipeline.worker_id,
                feeds=len(self.settings.feeds),
                tick_seconds=self.settings.daemon.tick_seconds,
                config=str(self.config_path),
            )
            await self._stop_requested.wait()
            await self._shut_down()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            if self._endpoint is not None:
                self._endpoint.close()
            await self._stack.aclose()
        log_event(log, logging.INFO, "daemon stopped")

    def stop(self, reason: str = "stop") -> None:
        """Stop claiming, abandon fetches in flight, finish writes, release claims, return."""
        assert self._stop_requested is not None
        if self._stop_requested.is_set():
            return
        log_event(log, logging.INFO, "stopping", signal=reason)
        if self._pipeline is not None:
            self._pipeline.request_stop()
        self._stop_requested.set()

    def reload(self) -> None:
        """Load the configuration again; it replaces the old one between passes if valid."""
        task = asyncio.get_running_loop().create_task(self._reload())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- internals ------------------------------------------------------------------------------

    def _serve_metrics(self, settings: Settings) -> MetricsServer | None:
        listen = settings.metrics.listen
        if not listen:
            return None
        try:
            endpoint = serve_metrics(listen, self.metrics, self._health)
        except OSError as err:
            raise AggregatorError(
                f"cannot serve metrics on {listen}: {err.strerror or err}"
            ) from err
        log_event(log, logging.INFO, "metrics served", url=endpoint.url)
        return endpoint

    def _health(self) -> HealthReport:
        """Called from the metrics server's thread; the store's engine is thread-safe."""
        pipeline, settings = self._pipeline, self.settings
        assert pipeline is not None
        grace = timedelta(minutes=settings.metrics.stale_grace_minutes)
        return health(pipeline.store.feed_statuses(), utcnow(), feeds=settings.feeds, grace=grace)

    async def _open(self, settings: Settings) -> tuple[contextlib.AsyncExitStack, Pipeline]:
        stack = contextlib.AsyncExitStack()
        try:
            pipeline = await stack.enter_async_context(
                open_pipeline(settings, metrics=self.metrics)
            )
        except BaseException:
            await stack.aclose()
            raise
        return stack, pipeline

    async def _tick(self) -> None:
        assert self._stop_requested is not None and self._lock is not None
        if self._stop_requested.is_set():
            return
        async with self._lock:
            if self._stop_requested.is_set():
                return
            self._pass = asyncio.create_task(self._run_pass())
            # Shielded: the scheduler's shutdown cancels its job, never the pass's writes.
            await asyncio.shield(self._pass)

    async def _run_pass(self) -> None:
        pipeline = self._pipeline
        assert pipeline is not None
        started = time.monotonic()
        try:
            result = await pipeline.run_pass(progress=_log_feed)
        except AggregatorError as err:  # database down, output folder gone: try next tick
            log_event(log, logging.ERROR, "pass failed", error=str(err))
            return
        except Exception:  # a bug: keep the service up, say it loudly
            log.exception("pass failed with an unexpected error")
            return
        idle = not result.feeds and not result.recovered
        log_event(
            log,
            logging.DEBUG if idle else logging.INFO,
            "pass finished",
            feeds=len(result.feeds),
            new=result.new,
            updated=result.updated,
            failed=result.failed,
            recovered=result.recovered,
            stopped=sum(1 for f in result.feeds if f.outcome == "stopped"),
            seconds=round(time.monotonic() - started, 3),
        )

    async def _shut_down(self) -> None:
        assert self._scheduler is not None
        self._scheduler.pause()
        if self._pass is not None and not self._pass.done():
            done, _ = await asyncio.wait({self._pass}, timeout=STOP_GRACE_SECONDS)
            if not done:
                log_event(log, logging.WARNING, "pass still running: cancelling it")
                self._pass.cancel()
                await asyncio.gather(self._pass, return_exceptions=True)
        await asyncio.sleep(0)  # let the job wrapper see its pass finish
        self._scheduler.shutdown(wait=False)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _reload(self) -> None:
        assert self._lock is not None and self._stop_requested is not None
        try:
            settings = load_settings(self.config_path)
        except AggregatorError as err:
            log_event(
                log, logging.ERROR, "configuration refused, keeping the old one", error=str(err)
            )
            return
        async with self._lock:  # between passes
            if self._stop_requested.is_set():
                return
            try:
                stack, pipeline = await self._open(settings)
            except AggregatorError as err:
                log_event(
                    log,
                    logging.ERROR,
                    "configuration refused, keeping the old one",
                    error=str(err),
                )
                return
            old, self._stack, self._pipeline = self._stack, stack, pipeline
            previous, self.settings = self.settings, settings
            if old is not None:
                await old.aclose()
        if self._scheduler is not None and (
            settings.daemon.tick_seconds != previous.daemon.tick_seconds
        ):
            self._scheduler.reschedule_job(
                JOB_ID, trigger="interval", seconds=settings.daemon.tick_seconds
            )
        log_event(
            log,
            logging.INFO,
            "configuration reloaded",
            feeds=len(settings.feeds),
            tick_seconds=settings.daemon.tick_seconds,
        )


def _log_feed(r: FeedRunResult) -> None:
    if r.outcome == "error":
        log_event(
            log,
            logging.WARNING,
            "feed failed",
            feed=r.name,
            url=r.url,
            http_status=r.http_status,
            error_class=r.error_class,
            error=r.error_message,
        )
    elif r.outcome != "stopped":
        log_event(
            log,
            logging.INFO,
            "feed checked",
            feed=r.name,
            outcome=r.outcome,
            http_status=r.http_status,
            new=r.new,
            updated=r.updated,
        )


async def run_daemon(config_path: Path, settings: Settings) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    await Daemon(config_path, settings).run()


__all__ = ["Daemon", "run_daemon"]
