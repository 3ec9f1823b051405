"""Decompression bombs stay bounded (POLITENESS_AND_SECURITY.md 2.3).

The bombs are served by the real loopback server and fetched in this process, with the
default caps; tracemalloc measures the peak Python allocation during the fetch.
"""

from __future__ import annotations

import resource
import tracemalloc
import zlib
from collections.abc import Iterator

import brotli
import pytest

from aggregator.errors import ErrorClass
from aggregator.model import FetchResult, FetchStatus
from tests.fetch.helpers import fetch_once
from tests.httpserver import LoopbackServer

BOMB_BYTES = 200 * 1024 * 1024
PEAK_LIMIT = 50 * 1024 * 1024
_MIB = bytes(1024 * 1024)


@pytest.fixture(scope="session")
def gzip_bomb() -> bytes:
    """200 MiB of zeros as gzip (about 0.9 MB: level 1 is the fast one to build)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [packer.compress(_MIB) for _ in range(BOMB_BYTES // len(_MIB))]
    return b"".join([*parts, packer.flush()])


@pytest.fixture(scope="session")
def brotli_bomb() -> bytes:
    """200 MiB of zeros as brotli (a few hundred bytes)."""
    packer = brotli.Compressor(quality=5)
    parts = [packer.process(_MIB) for _ in range(BOMB_BYTES // len(_MIB))]
    return b"".join([*parts, packer.finish()])


@pytest.fixture(scope="session")
def deflate_bomb() -> bytes:
    """200 MiB of zeros as raw deflate (no zlib header), as some servers send it."""
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    parts = [packer.compress(_MIB) for _ in range(BOMB_BYTES // len(_MIB))]
    return b"".join([*parts, packer.flush()])


def _measured(url: str) -> Iterator[tuple[FetchResult, int, int]]:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        result = fetch_once(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    yield result, peak, rss_growth


@pytest.mark.parametrize(
    ("fixture", "encoding"),
    [("gzip_bomb", "gzip"), ("brotli_bomb", "br"), ("deflate_bomb", "deflate")],
)
def test_bomb_is_refused_with_bounded_memory(
    server: LoopbackServer, request: pytest.FixtureRequest, fixture: str, encoding: str
) -> None:
    bomb: bytes = request.getfixturevalue(fixture)
    server.route("/feed", body=bomb, headers={"content-encoding": encoding})
    for result, peak, rss_growth in _measured(server.url("/feed")):
        assert result.status is FetchStatus.ERROR
        assert result.error_class is ErrorClass.TOO_LARGE, result.error_message
        print(
            f"{encoding}: tracemalloc peak {peak / 2**20:.1f} MiB, "
            f"ru_maxrss growth {rss_growth / 2**20:.1f} MiB"
        )
        assert peak < PEAK_LIMIT
        assert rss_growth < 512 * 1024 * 1024


def test_stacked_gzip_bomb_is_refused_without_inflating(server: LoopbackServer) -> None:
    inner = zlib.compressobj(1, zlib.DEFLATED, 31)
    layer = b"".join([*(inner.compress(_MIB) for _ in range(64)), inner.flush()])
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = outer.compress(layer) + outer.flush()
    server.route("/feed", body=bomb, headers={"content-encoding": "gzip, gzip"})
    for result, peak, _ in _measured(server.url("/feed")):
        assert result.error_class is ErrorClass.BAD_ENCODING
        assert peak < 5 * 1024 * 1024


def test_body_just_under_the_cap_is_accepted(server: LoopbackServer) -> None:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    body = packer.compress(bytes(4 * 1024 * 1024)) + packer.flush()
    server.route("/feed", body=body, headers={"content-encoding": "gzip"})
    result = fetch_once(server.url("/feed"), max_decoded_bytes=4 * 1024 * 1024)
    assert result.status is FetchStatus.OK
    assert len(result.body) == 4 * 1024 * 1024
