"""Generated feeds for the service tests: many feeds, fixed dates, unique titles and links."""

from __future__ import annotations

from email.utils import formatdate
from xml.sax.saxutils import escape

from tests.httpserver import LoopbackServer

BASE_TIME = 1_700_000_000  # fixed, so the files are the same on every run


def rss(feed: int, entries: int) -> bytes:
    items = []
    for i in range(entries):
        when = formatdate(BASE_TIME - (feed * entries + i) * 3600, usegmt=True)
        items.append(
            "<item>"
            f"<title>{escape(f'Report {feed} number {i}: results')}</title>"
            f"<link>https://news.example/{feed}/{i}</link>"
            f"<guid>https://news.example/{feed}/{i}</guid>"
            f"<pubDate>{when}</pubDate>"
            f"<description>{escape(f'<p>Summary of report {i} of feed {feed}.</p>')}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>https://news.example/{feed}/</link>"
        f"<description>Feed {feed}</description>{''.join(items)}</channel></rss>"
    ).encode()


def serve_feeds(server: LoopbackServer, count: int, entries: int = 20) -> list[dict[str, object]]:
    """Serve ``count`` feeds at /f/<n>.xml; return their [[feeds]] tables."""
    feeds: list[dict[str, object]] = []
    for n in range(count):
        path = f"/f/{n}.xml"
        server.feed(path, rss(n, entries))
        feeds.append({"name": f"Feed {n}", "url": server.url(path)})
    return feeds


def requests_per_feed(server: LoopbackServer, count: int) -> list[int]:
    return [len(server.requests_to(f"/f/{n}.xml")) for n in range(count)]
