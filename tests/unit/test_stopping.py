"""Stopping a pass in process: fetches in flight are abandoned, nothing else is."""

from __future__ import annotations

import asyncio
import http.server
import threading
from pathlib import Path

from aggregator.config import load_settings
from aggregator.wiring import open_pipeline, open_store
from tests.e2e.helpers import write_config
from tests.httpserver import LoopbackServer, Reply, SeenRequest

DATA = Path(__file__).resolve().parents[1] / "data"


def slow_route(server: LoopbackServer) -> tuple[threading.Event, threading.Event]:
    arrived, release = threading.Event(), threading.Event()

    def slow(_req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
        arrived.set()
        release.wait(30)
        return Reply(503)

    server.route("/slow.xml", slow)
    return arrived, release


def test_request_stop_abandons_the_fetch_in_flight_and_finishes_the_others(
    server: LoopbackServer, tmp_path: Path
) -> None:
    arrived, release = slow_route(server)
    server.feed("/feed/", (DATA / "interventional_news.xml").read_bytes())
    config = write_config(
        tmp_path,
        [
            {"name": "Slow", "url": server.url("/slow.xml")},
            {"name": "News", "url": server.url("/feed/")},
        ],
        fetch={"timeout_seconds": 60, "read_timeout_seconds": 60},
    )
    settings = load_settings(config, environ={})

    async def scenario() -> dict[str, str]:
        async with open_pipeline(settings) as pipeline:
            run = asyncio.create_task(pipeline.run_pass())
            while not arrived.is_set():
                await asyncio.sleep(0.01)
            while len(list((tmp_path / "articles").glob("*.md"))) < 2:  # News is done
                await asyncio.sleep(0.01)
            pipeline.request_stop()
            result = await asyncio.wait_for(run, 5)
            return {f.name: f.outcome for f in result.feeds}

    try:
        outcomes = asyncio.run(scenario())
    finally:
        release.set()
    assert outcomes == {"Slow": "stopped", "News": "new"}
    store = open_store(settings)
    try:
        statuses = {s.name: s for s in store.feed_statuses()}
    finally:
        store.close()
    assert statuses["Slow"].last_checked_at is None  # left due, unrecorded
    assert statuses["News"].articles_written == 2


def test_cancelling_a_pass_is_a_cancellation_not_a_stop(
    server: LoopbackServer, tmp_path: Path
) -> None:
    arrived, release = slow_route(server)
    config = write_config(
        tmp_path,
        [{"name": "Slow", "url": server.url("/slow.xml")}],
        fetch={"timeout_seconds": 60, "read_timeout_seconds": 60},
    )
    settings = load_settings(config, environ={})

    async def scenario() -> bool:
        async with open_pipeline(settings) as pipeline:
            run = asyncio.create_task(pipeline.run_pass())
            while not arrived.is_set():
                await asyncio.sleep(0.01)
            run.cancel()
            try:
                await asyncio.wait_for(run, 5)
            except asyncio.CancelledError:
                return True
            return False

    try:
        assert asyncio.run(scenario())
    finally:
        release.set()
