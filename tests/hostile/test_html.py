"""2.7 end to end: HTML and script injection through titles, summaries, content, credits,
image and link URLs. What is forbidden in the bytes of every file written:

- any HTML tag: ``<`` directly followed by a letter, ``/``, ``!`` or ``?`` (so no
  ``<script``, ``<iframe``, ``<form``, ``<meta``, ``<svg``, ``<math``, ``<style``, ``<img``,
  ``<a``, and no attribute at all, event handlers included);
- ``javascript:``, ``vbscript:``, ``livescript:``, ``data:<type>/`` and ``&colon;``/``&#``
  character references, looked for after every whitespace and control character is removed
  and character references are decoded (so ``jav&#x09;ascript:`` counts);
- ``http-equiv``, ``srcdoc``, ``formaction``;
- in the Markdown body, a link or image other than our own lead-image line.

And ``imageUrl`` / ``sourceUrl`` are http(s) or empty.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape

from tests.e2e.helpers import write_config
from tests.hostile.helpers import (
    assert_http_or_empty,
    forbidden_in,
    item,
    measured_run,
    output_files,
    rss,
    valid_articles,
)
from tests.httpserver import LoopbackServer

JS = [
    "javascript:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "jav&#x0A;ascript:alert(1)",
    "jav&#x0D;ascript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript:alert(1)",
    "&#0000106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "java\tscript:alert(1)",
    " JaVaScRiPt:alert(1)",
    "\x01javascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
    "data:image/png;base64,iVBORw0KGgo=",
]

HTML_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.invalid/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)" width="600" height="400">',
    "<svg><script>alert(1)</script></svg>",
    "<svg onload=alert(1)>",
    "<svg><a xlink:href='javascript:alert(1)'><text>x</text></a></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math href="javascript:alert(1)">m</math>',
    '<form action="javascript:alert(1)"><input type=submit formaction="javascript:alert(1)">'
    "</form>",
    '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<!-- <script>alert(1)</script> -->",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&amp;lt;img src=x onerror=alert(1)&amp;gt;",
    '<details open ontoggle="alert(1)">d</details>',
    '<body onload="alert(1)">b</body>',
    '<base href="javascript:alert(1)//">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    *[f'<a href="{js}">link</a>' for js in JS],
    *[f'<img src="{js}" width="600" height="400">' for js in JS],
]


def _hostile_items() -> list[str]:
    items = []
    for i, payload in enumerate(HTML_PAYLOADS):
        # Raw markup in the title (escaped once, as feeds do for HTML titles).
        items.append(
            item(
                f"Title {i} {payload}",
                link=f"http://news.invalid/html/{i}",
                description=f"Summary {i} {payload} end.",
                extra=f"<content:encoded>{escape(payload)}</content:encoded>",
            )
        )
    for i, js in enumerate(JS):
        url = escape(js)
        items.append(
            item(
                f"Image {i}",
                link=f"http://news.invalid/img/{i}",
                description=f'<img src="{js}" width="600" height="400"> pic {i}',
                extra=(
                    f'<media:content url="{url}" medium="image" width="800" height="600"/>'
                    f'<media:thumbnail url="{url}"/>'
                    f'<enclosure url="{url}" type="image/jpeg" length="1"/>'
                    f"<media:credit>{escape(HTML_PAYLOADS[i % 20])} credit</media:credit>"
                ),
            )
        )
        items.append(item(f"Link {i}", link=js, guid=f"guid-js-{i}", description="x"))
    return items


def test_no_markup_script_or_dangerous_scheme_reaches_any_file(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.feed("/feed", rss(_hostile_items()))
    config = write_config(tmp_path, [{"name": "Hostile HTML", "url": server.url("/feed")}])
    run = measured_run(config)
    assert run.returncode == 0, run.stderr
    metas = valid_articles(tmp_path)
    titles = [str(m["title"]) for m in metas.values()]
    assert sum(t.startswith("Title ") for t in titles) == len(HTML_PAYLOADS)
    assert sum(t.startswith("Image ") for t in titles) == len(JS)
    # feedparser resolves a link without a scheme ("jav&#x0A;ascript:") against the feed's
    # URL, so several of them are one http URL, hence one article: at least one is written.
    assert any(t.startswith("Link ") for t in titles)
    for name, data in output_files(tmp_path).items():
        assert forbidden_in(data) == [], (name, forbidden_in(data), data.decode())
        meta = metas[name]
        assert_http_or_empty(meta["imageUrl"])
        assert_http_or_empty(meta["sourceUrl"])
        body = data.decode().split("\n---\n", 1)[1]
        links = re.findall(r"(?<!\\)\]\(", body)
        assert len(links) == (1 if meta["imageUrl"] else 0), body
    # No picture was taken from a dangerous URL; the only ones kept are the relative "x" of
    # '<img src="x" onerror=…>', resolved against the feed.
    images = {m["imageUrl"] for m in metas.values()} - {""}
    assert images == {server.url("/x")}, images


MARKDOWN_PAYLOADS = [
    "[click](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "[ref][r] and [r]: javascript:alert(1)",
    "[a\\](javascript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "&lt;javascript:alert(1)&gt;",
    "<javascript:alert(1)>",
]


def test_plain_text_cannot_become_a_markdown_link(server: LoopbackServer, tmp_path: Path) -> None:
    """Text that spells Markdown link syntax stays text: every "](", "][" and "]:" of the
    body is escaped (the static site's Markdown renderer would otherwise make a link)."""
    items = [
        item(
            f"Md {i}",
            link=f"http://news.invalid/md/{i}",
            description=payload,
            extra=(
                '<media:content url="http://img.invalid/a.jpg" medium="image"/>'
                f"<media:credit>{escape(payload)}</media:credit>"
            ),
        )
        for i, payload in enumerate(MARKDOWN_PAYLOADS)
    ]
    server.feed("/md", rss(items))
    config = write_config(tmp_path, [{"name": "Md", "url": server.url("/md")}])
    assert measured_run(config).returncode == 0
    metas = valid_articles(tmp_path)
    assert len(metas) == len(MARKDOWN_PAYLOADS)
    for name, data in output_files(tmp_path).items():
        body = data.decode().split("\n---\n", 1)[1]
        image_line, rest = body.lstrip("\n").split("\n", 1)
        assert image_line == f"![Md {name[-4]}](http://img.invalid/a.jpg)", image_line
        assert not re.search(r"(?<!\\)(?:\\\\)*\](?=[(\[:])", rest), rest
        assert not re.search(r"<[A-Za-z/!?]", body), body
