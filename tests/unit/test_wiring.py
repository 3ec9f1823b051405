"""The runtime wiring: what a pipeline changes in its process, and puts back."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from aggregator.config import load_settings
from aggregator.wiring import SWITCH_INTERVAL_SECONDS, exit_with_parent, open_pipeline
from tests.e2e.helpers import write_config
from tests.httpserver import LoopbackServer

DATA = Path(__file__).resolve().parents[1] / "data"


def test_the_gil_switch_interval_is_short_while_a_pipeline_is_open(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, []), environ={})
    before = sys.getswitchinterval()
    seen: list[float] = []

    async def go() -> None:
        async with open_pipeline(settings):
            seen.append(sys.getswitchinterval())

    asyncio.run(go())
    assert seen == [pytest.approx(SWITCH_INTERVAL_SECONDS)]
    assert before > SWITCH_INTERVAL_SECONDS
    assert sys.getswitchinterval() == before


def test_exit_with_parent_does_nothing_in_the_main_process() -> None:
    exit_with_parent()  # no parent process to watch: returns without starting a watch
    assert "exit-with-parent" not in {t.name for t in threading.enumerate()}


def test_a_pass_of_unchanged_feeds_loads_no_parser(tmp_path: Path, server: LoopbackServer) -> None:
    """A pass whose feeds all answer 304 has nothing to parse, extract or render, so it
    does not import feedparser, BeautifulSoup or PyYAML; on SQLite it does not import the
    PostgreSQL dialect either (40 ms), nor the daemon's metrics (docs/performance.md)."""
    import subprocess

    from tests.e2e.helpers import aggregator, subprocess_env

    server.feed("/feed.xml", (DATA / "interventional_news.xml").read_bytes())
    config = write_config(tmp_path, [{"name": "F", "url": server.url("/feed.xml")}])
    assert aggregator("run", "--config", config).returncode == 0  # stores the ETag
    probe = (
        "import asyncio, sys\n"
        "from aggregator.config import load_settings\n"
        "from aggregator.wiring import open_pipeline\n"
        "async def go():\n"
        f"    async with open_pipeline(load_settings({str(config)!r}, environ={{}})) as p:\n"
        "        return await p.run_pass(force=True)\n"
        "result = asyncio.run(go())\n"
        "print([f.outcome for f in result.feeds])\n"
        "unwanted = ('feedparser', 'bs4', 'yaml', 'sqlalchemy.dialects.postgresql',\n"
        "    'prometheus_client')\n"
        "print([m for m in unwanted if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["['not_modified']", "[]"]


def test_parse_processes_start_with_the_first_document_to_parse(
    tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch big enough for the pool makes it wanted, but a pass whose feeds all answer
    304 never starts it: making the pool alone started multiprocessing's resource tracker
    (a second interpreter)."""
    from concurrent.futures import Executor, ThreadPoolExecutor

    from aggregator import wiring
    from aggregator.pipeline import POOL_MIN_BATCH

    started: list[Executor] = []

    def counting() -> Executor:
        started.append(ThreadPoolExecutor(1))  # parses as the processes would, in-process
        return started[-1]

    monkeypatch.setattr(wiring, "parse_processes", counting)
    body = (DATA / "interventional_news.xml").read_bytes()
    feeds = []
    for i in range(POOL_MIN_BATCH):
        server.feed(f"/feed{i}.xml", body)
        feeds.append({"name": f"F{i}", "url": server.url(f"/feed{i}.xml")})
    monkeypatch.chdir(tmp_path)
    settings = load_settings(write_config(tmp_path, feeds), environ={})

    async def one_pass() -> list[str]:
        async with open_pipeline(settings) as pipeline:
            result = await pipeline.run_pass(force=True)
        return sorted({f.outcome for f in result.feeds})

    # The first feed's articles are new; the others carry the same ones (deduplicated).
    assert asyncio.run(one_pass()) == ["new", "unchanged"]
    assert len(started) == 1
    assert asyncio.run(one_pass()) == ["not_modified"]
    assert len(started) == 1
