"""Loopback HTTP/1.1 feed server for the benchmark, run in its own process.

``python -m bench.server --feeds N --seed S [--prep-feeds M]`` pre-renders every feed
(cached on disk under ``bench/results/tmp/feeds/``), listens on 127.0.0.1 with an
ephemeral port and prints ``READY <port>`` on stdout.  It is a small asyncio server
(keep-alive, large backlog) so that it is never the bottleneck on two cores.

Routes:

* ``GET /feed/<i>.xml`` (1 <= i <= N) and ``GET /prep/<i>.xml`` (the feeds used to fill
  a store with 100,000 entries beforehand): ``ETag`` + ``Last-Modified``, ``304`` on a
  matching ``If-None-Match`` (or, without it, ``If-Modified-Since``), gzip when asked.
* ``GET /_control/stats``: JSON counters (requests, 200s, 304s, 404s, bytes sent).
* ``GET /_control/reset``: every feed back to version 0 and counters to zero.
* ``GET /_control/reset-stats``: counters to zero.
* ``GET /_control/bump?feeds=1,5,9``: next version of those feeds (rendered before the
  answer, so that rendering never happens while a client is being measured).

:class:`FeedServer` starts and drives that process from the harness.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import subprocess
import sys
import time
import urllib.request
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bench import feeds

CACHE_DIR = Path(__file__).resolve().parent / "results" / "tmp" / "feeds"

_REASONS = {200: "OK", 304: "Not Modified", 400: "Bad Request", 404: "Not Found"}


class FeedSet:
    """The feeds of one URL prefix, their current versions and on-disk renderings."""

    def __init__(self, prefix: str, specs: list[feeds.FeedSpec], cache_dir: Path) -> None:
        self.prefix = prefix
        self.specs = specs
        self.cache_dir = cache_dir
        self.versions = [0] * len(specs)
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.meta: dict[tuple[int, int], tuple[str, str, int]] = {}

    def ensure(self, i: int, version: int) -> None:
        """Render (or find on disk) feed ``i`` at ``version``, plain and gzipped."""
        spec = self.specs[i - 1]
        path = self.cache_dir / f"{i}-v{version}.xml"
        gz = path.with_suffix(".xml.gz")
        if not (path.exists() and gz.exists()):
            doc = feeds.render(spec, version)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(doc)
            tmp.replace(path)
            tmp.write_bytes(gzip.compress(doc, compresslevel=6, mtime=0))
            tmp.replace(gz)
        lm = format_datetime(feeds.last_modified(spec, version), usegmt=True)
        self.meta[i, version] = (feeds.etag(spec, version), lm, version)

    def prerender(self) -> None:
        for i in range(1, len(self.specs) + 1):
            self.ensure(i, self.versions[i - 1])

    def bump(self, indices: list[int]) -> None:
        for i in indices:
            self.versions[i - 1] += 1
            self.ensure(i, self.versions[i - 1])

    def reset(self) -> None:
        self.versions = [0] * len(self.specs)


class Server:
    def __init__(self, sets: dict[str, FeedSet]) -> None:
        self.sets = sets
        self.stats = self._zero()

    @staticmethod
    def _zero() -> dict[str, int]:
        return {
            "requests": 0,
            "status_200": 0,
            "status_304": 0,
            "status_404": 0,
            "bytes_sent": 0,
            "gzip": 0,
            "connections": 0,
            "open_connections": 0,
            "max_open_connections": 0,
        }

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        st = self.stats
        st["connections"] += 1
        st["open_connections"] += 1
        st["max_open_connections"] = max(st["max_open_connections"], st["open_connections"])
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break
                parts = line.decode("latin-1").split()
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                if int(headers.get("content-length", "0") or 0):
                    await reader.readexactly(int(headers["content-length"]))
                if len(parts) != 3:
                    self._respond(writer, 400, {}, b"", keep_alive=False)
                    break
                method, target, version = parts
                conn = headers.get("connection", "").lower()
                keep_alive = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
                status, extra, body = self.route(method, target, headers)
                count = not target.startswith("/_control/")
                self._respond(writer, status, extra, body, keep_alive, method == "HEAD", count)
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            st["open_connections"] -= 1
            with contextlib.suppress(Exception):
                writer.close()

    def _respond(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        extra: dict[str, str],
        body: bytes,
        keep_alive: bool,
        head: bool = False,
        count: bool = True,
    ) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}", "Server: bench-feeds"]
        lines += [f"{k}: {v}" for k, v in extra.items()]
        if status != 304:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("Connection: " + ("keep-alive" if keep_alive else "close"))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if status != 304 and not head:
            data += body
        writer.write(data)
        if not count:
            return
        st = self.stats
        st["requests"] += 1
        st[f"status_{status}"] = st.get(f"status_{status}", 0) + 1
        st["bytes_sent"] += len(data)

    def route(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(target)
        path = url.path
        if path.startswith("/_control/"):
            return self.control(path.removeprefix("/_control/"), parse_qs(url.query))
        prefix, _, name = path.rpartition("/")
        fs = self.sets.get(prefix.strip("/"))
        if fs is None or not name.endswith(".xml") or method not in ("GET", "HEAD"):
            return 404, {}, b"not found\n"
        try:
            i = int(name.removesuffix(".xml"))
        except ValueError:
            return 404, {}, b"not found\n"
        if not 1 <= i <= len(fs.specs):
            return 404, {}, b"not found\n"
        version = fs.versions[i - 1]
        etag, lm, _ = fs.meta[i, version]
        extra = {
            "ETag": etag,
            "Last-Modified": lm,
            "Cache-Control": "max-age=0, must-revalidate",
            "Vary": "Accept-Encoding",
        }
        if _not_modified(headers, etag, feeds.last_modified(fs.specs[i - 1], version)):
            return 304, extra, b""
        use_gzip = "gzip" in headers.get("accept-encoding", "").lower()
        path_on_disk = fs.cache_dir / f"{i}-v{version}.xml{'.gz' if use_gzip else ''}"
        body = path_on_disk.read_bytes()
        if use_gzip:
            extra["Content-Encoding"] = "gzip"
            self.stats["gzip"] += 1
        extra["Content-Type"] = (
            "application/atom+xml; charset=UTF-8"
            if fs.specs[i - 1].kind == "atom"
            else "application/rss+xml; charset=UTF-8"
        )
        return 200, extra, body

    def control(
        self, action: str, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, str], bytes]:
        if action == "stats":
            pass
        elif action == "reset":
            for fs in self.sets.values():
                fs.reset()
            self.stats = self._zero()
        elif action == "reset-stats":
            self.stats = self._zero()
        elif action == "bump":
            fs = self.sets[query.get("set", ["feed"])[0]]
            ids = [int(x) for x in ",".join(query.get("feeds", [])).split(",") if x]
            fs.bump(ids)
        else:
            return 404, {}, b"unknown control\n"
        body = json.dumps(self.stats).encode()
        return 200, {"Content-Type": "application/json"}, body


def _not_modified(headers: dict[str, str], etag: str, last_modified: object) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return etag in tags or "*" in tags
    ims = headers.get("if-modified-since")
    if ims:
        try:
            return last_modified <= parsedate_to_datetime(ims)  # type: ignore[operator]
        except (TypeError, ValueError):
            return False
    return False


async def _serve(args: argparse.Namespace) -> None:
    sets = {"feed": FeedSet("feed", feeds.generate(args.feeds, args.seed), _cache(args.seed))}
    if args.prep_feeds:
        prep_seed = args.seed + 1000
        specs = feeds.generate(args.prep_feeds, prep_seed, entries=args.prep_entries)
        sets["prep"] = FeedSet("prep", specs, _cache(prep_seed, args.prep_entries))
    for fs in sets.values():
        fs.prerender()
    server = Server(sets)
    srv = await asyncio.start_server(server.handle, "127.0.0.1", args.port, backlog=4096)
    port = srv.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with srv:
        # Stop when the parent closes our stdin (or dies).
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


def _cache(seed: int, entries: int | None = None) -> Path:
    return CACHE_DIR / (f"s{seed}" + (f"-e{entries}" if entries else ""))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--feeds", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--prep-feeds", type=int, default=0)
    p.add_argument("--prep-entries", type=int, default=40)
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    asyncio.run(_serve(args))


class FeedServer:
    """Runs ``bench.server`` in a child process; use as a context manager."""

    def __init__(self, n_feeds: int, seed: int = 1, prep_feeds: int = 0, timeout: float = 600):
        cmd = [sys.executable, "-m", "bench.server", "--feeds", str(n_feeds), "--seed", str(seed)]
        if prep_feeds:
            cmd += ["--prep-feeds", str(prep_feeds)]
        self.n_feeds = n_feeds
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if not line.startswith("READY") or time.monotonic() > deadline:
            self.close()
            raise RuntimeError(f"feed server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, i: int, prefix: str = "feed") -> str:
        return f"{self.base}/{prefix}/{i}.xml"

    def urls(self, n: int | None = None, prefix: str = "feed") -> list[str]:
        return [self.url(i, prefix) for i in range(1, (n or self.n_feeds) + 1)]

    def _control(self, action: str) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.base}/_control/{action}", timeout=600) as r:
            counts: dict[str, int] = json.loads(r.read())
            return counts

    def stats(self) -> dict[str, int]:
        return self._control("stats")

    def reset(self) -> dict[str, int]:
        return self._control("reset")

    def reset_stats(self) -> dict[str, int]:
        return self._control("reset-stats")

    def bump(self, indices: list[int]) -> dict[str, int]:
        return self._control("bump?feeds=" + ",".join(map(str, indices)))

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    main()
