"""Fixtures shared by every test layer: the loopback server, the corpus, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.httpserver import LoopbackServer

REPO_ROOT = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path:
    """The third-party corpus: $AGGREGATOR_CORPUS, else ../shared/corpus beside the repo."""
    env = os.environ.get("AGGREGATOR_CORPUS")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared" / "corpus", Path("/work/shared/corpus")]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise RuntimeError("the corpus is missing: set AGGREGATOR_CORPUS or put shared/ beside the repo")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as s:
        yield s


@pytest.fixture(scope="session")
def corpus() -> Path:
    return corpus_dir()
