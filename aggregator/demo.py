"""``aggregator demo``: serve the bundled sample feeds on loopback and run one pass.

A newcomer sees the whole pipeline work without the internet. The server answers with
ETag/Last-Modified and 304 like a well-behaved publisher.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from email.utils import formatdate
from pathlib import Path
from typing import Any


class _DemoHandler(http.server.BaseHTTPRequestHandler):
    folder: Path

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        name = self.path.split("?", 1)[0].lstrip("/")
        path = (self.folder / name).resolve()
        if path.parent != self.folder.resolve() or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(path.stat().st_mtime, usegmt=True))
        self.end_headers()
        self.wfile.write(body)


class DemoServer:
    """A static feed server for one folder on 127.0.0.1."""

    def __init__(self, folder: Path, port: int) -> None:
        handler = type("Handler", (_DemoHandler,), {"folder": folder})
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> DemoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


__all__ = ["DemoServer"]
