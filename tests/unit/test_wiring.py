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
