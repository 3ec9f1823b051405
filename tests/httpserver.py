"""A real HTTP server on 127.0.0.1 for tests, with a route table and a request log.

Tests register routes (``server.route("/feed", body=..., headers=...)`` or a handler
function that sees the request and the raw socket) and read ``server.requests`` to see
what a publisher would see of the ingester: headers, validators, timing, cookies.
"""

from __future__ import annotations

import hashlib
import http.server
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    at: float  # time.monotonic()

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


# A handler gets the request and the live request handler (for raw socket tricks) and
# returns a Reply, or None when it already wrote the whole response itself.
Handler = Callable[[SeenRequest, http.server.BaseHTTPRequestHandler], Reply | None]


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self._handle()

    def _handle(self) -> None:
        seen = SeenRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            at=time.monotonic(),
        )
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(seen)
            handler = owner.routes.get(self.path.split("?", 1)[0]) or owner.routes.get(self.path)
        if handler is None:
            reply: Reply | None = Reply(404, b"not found", {"content-type": "text/plain"})
        else:
            try:
                reply = handler(seen, self)
            except (BrokenPipeError, ConnectionResetError):
                return
        if reply is None:
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            headers = {k.lower(): v for k, v in reply.headers.items()}
            if "content-length" not in headers and reply.status not in (204, 304):
                headers["content-length"] = str(len(reply.body))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD" and reply.status not in (204, 304):
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, owner: LoopbackServer) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts, resets a test provoked, the crash tests' kills)
        # are expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """Start with ``start()`` (or use as a context manager); ``url(path)`` gives full URLs.

    ``host`` is another loopback address (e.g. ``127.0.0.2``) when a test needs two servers
    that an address policy can tell apart.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.lock = threading.Lock()
        self.routes: dict[str, Handler] = {}
        self.requests: list[SeenRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LoopbackServer:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(
        self,
        path: str,
        handler: Handler | None = None,
        *,
        body: bytes = b"",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Register a handler, or a fixed reply."""
        if handler is None:
            fixed = Reply(status, body, dict(headers or {}))

            def handler(_req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
                return Reply(fixed.status, fixed.body, dict(fixed.headers))

        with self.lock:
            self.routes[path] = handler

    def feed(self, path: str, body: bytes, *, content_type: str = "application/rss+xml") -> None:
        """Serve a feed the way a well-behaved publisher does: ETag, Last-Modified and 304."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        last_modified = formatdate(1_700_000_000, usegmt=True)

        def handler(req: SeenRequest, _h: http.server.BaseHTTPRequestHandler) -> Reply:
            validators = {"etag": etag, "last-modified": last_modified}
            if req.header("if-none-match") == etag:
                return Reply(304, b"", validators)
            return Reply(200, body, {"content-type": content_type, **validators})

        self.route(path, handler)

    def requests_to(self, path: str) -> list[SeenRequest]:
        with self.lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]
