"""Fuzzing harness (hypothesis) over parse → extract → render, bounded for CI.

Two generators: structured feeds (RSS 2.0, Atom, RSS 1.0) whose every field is drawn from
hostile fragments and arbitrary text, and raw byte mutations of seed feeds. Each example
runs ``check_document`` (tests/hostile/fuzz.py); a failing document is written to
``tests/hostile/crashes/`` and replayed by ``test_crash_corpus_replays`` from then on.
Hypothesis's own example database is off, so nothing is written into the repository but
those replay files. Budget: ``AGGREGATOR_FUZZ_EXAMPLES`` examples per generator (default
150, about 20 s in total); raise it for a longer local campaign.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.fuzz import CRASH_DIR, check_document, checked

EXAMPLES = int(os.environ.get("AGGREGATOR_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # check_document enforces its own per-document time bound
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=bool(os.environ.get("CI")),  # reproducible in CI, exploring locally
)

FRAGMENTS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "&#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "data:image/svg+xml;base64,PHN2Zz4=",
    "<svg><script>1</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=1>",
    '<meta http-equiv="refresh" content="0;url=javascript:1">',
    "<iframe src=//x></iframe>",
    "<form action=javascript:1><input></form>",
    "&lt;script&gt;x&lt;/script&gt;",
    "&amp;lt;b&amp;gt;",
    "[x](javascript:alert(1))",
    "\\](javascript:1)",
    "\n---\ninjected: true\n",
    "\u2028\u2029\x85\ufeff\u202e",
    "\"'\\:#-!&*%@|>",
    "yes",
    "2024-01-01",
    "../../etc/passwd",
    "CON",
    "😀🇫🇷",
    "中文",
    "<![CDATA[",
    "]]>",
    "<!--",
    "&",
    "&#0;",
    "&#xD800;",
    "&nbsp;",
    "\t\r\n",
    "http://",
    "//evil.invalid/x.jpg",
    " ",
]
_XML_CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff")
TEXT = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(_XML_CHAR, max_size=20)), max_size=6
).map("".join)
URL = st.one_of(
    st.sampled_from(
        [
            "http://fuzz.invalid/a",
            "https://fuzz.invalid/img.jpg",
            "/relative/img.png",
            "//proto.invalid/x.jpg",
            "javascript:alert(1)",
            "jav&#x09;ascript:alert(1)",
            "data:image/png;base64,AAAA",
            "file:///etc/passwd",
            "http://[::1]:80/",
            "http://a b/",
            "",
        ]
    ),
    TEXT,
)


@st.composite
def entries(draw: st.DrawFn) -> dict[str, str]:
    return {
        "title": draw(TEXT),
        "summary": draw(TEXT),
        "content": draw(TEXT),
        "link": draw(URL),
        "guid": draw(TEXT),
        "image": draw(URL),
        "credit": draw(TEXT),
        "date": draw(
            st.sampled_from(
                ["Thu, 28 Mar 2024 14:25:02 +0000", "2024-03-28T14:25:02Z", "", "yesterday"]
            )
        ),
    }


def _text(value: str, cdata: bool) -> str:
    if cdata and "]]>" not in value:
        return f"<![CDATA[{value}]]>"
    return escape(value)


def rss_document(items: list[dict[str, str]], cdata: bool) -> bytes:
    parts = []
    for e in items:
        parts.append(
            f"<item><title>{_text(e['title'], cdata)}</title><link>{escape(e['link'])}</link>"
            # The elements nobody reads, which a keyed parse cuts (aggregator.unread).
            f"<comments>{escape(e['link'])}</comments><dc:creator>{_text(e['credit'], cdata)}"
            f"</dc:creator><guid>{escape(e['guid'])}</guid><pubDate>{escape(e['date'])}</pubDate>"
            f"<description>{_text(e['summary'], cdata)}</description>"
            f"<content:encoded>{_text(e['content'], cdata)}</content:encoded>"
            f'<media:content url={quoteattr(e["image"])} medium="image"/>'
            f'<enclosure url={quoteattr(e["image"])} type="image/jpeg"/>'
            f"<media:credit>{_text(e['credit'], cdata)}</media:credit></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>F</title>'
        f"<link>http://fuzz.invalid/</link>{''.join(parts)}</channel></rss>"
    ).encode("utf-8", "surrogatepass")


def atom_document(items: list[dict[str, str]], cdata: bool) -> bytes:
    parts = []
    for e in items:
        parts.append(
            f'<entry><title type="html">{_text(e["title"], cdata)}</title>'
            f"<link href={quoteattr(e['link'])}/><id>{escape(e['guid'])}</id>"
            f"<updated>{escape(e['date'])}</updated>"
            f'<summary type="html">{_text(e["summary"], cdata)}</summary>'
            f'<content type="html">{_text(e["content"], cdata)}</content></entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title>F</title><link href="http://fuzz.invalid/"/>{"".join(parts)}</feed>'
    ).encode("utf-8", "surrogatepass")


@FUZZ
@given(
    items=st.lists(entries(), min_size=1, max_size=4),
    atom=st.booleans(),
    cdata=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-16-be", "utf-32"]),
)
def test_fuzz_structured_feeds(
    items: list[dict[str, str]], atom: bool, cdata: bool, encoding: str
) -> None:
    body = (atom_document if atom else rss_document)(items, cdata)
    if encoding != "utf-8":
        text = body.decode("utf-8", "surrogatepass").replace(
            'encoding="utf-8"', f'encoding="{encoding}"'
        )
        body = text.encode(encoding, "surrogatepass")
    checked(body)


SEEDS = [
    (Path(__file__).parents[1] / "data" / "interventional_news.xml").read_bytes(),
    rss_document(
        [
            {
                "title": "t <b>x</b>",
                "summary": "<p>s</p>",
                "content": '<img src="/a.jpg" width="600">',
                "link": "http://fuzz.invalid/1",
                "guid": "g",
                "image": "http://fuzz.invalid/i.jpg",
                "credit": "c",
                "date": "Thu, 28 Mar 2024 14:25:02 +0000",
            }
        ],
        cdata=True,
    ),
    b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    b'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="http://fuzz.invalid/"><title>R</title>'
    b'</channel><item rdf:about="http://fuzz.invalid/1"><title>r1</title>'
    b"<link>http://fuzz.invalid/1</link><description>d</description></item></rdf:RDF>",
]
SNIPPETS = [f.encode("utf-8", "surrogatepass") for f in FRAGMENTS] + [
    b'<!DOCTYPE rss [<!ENTITY a "AAAAAAAAAA">]>',
    b"<!ENTITY",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\x00",
    b"\x80\x81\xc0\xc1\xf5",
    b"<item><title>x</title></item>",
    b"<comments>x</comments>",
    b"<dc:creator>",
    b"</channel>",
    b"<entry>",
    b'<?xml version="1.0" encoding="cp037"?>',
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.one_of(st.sampled_from(SNIPPETS), st.binary(max_size=16)))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "duplicate":
            end = min(len(data), pos + draw(st.integers(1, 256)))
            data[pos:pos] = data[pos:end] * draw(st.integers(1, 20))
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


@FUZZ
@given(body=mutated())
def test_fuzz_mutated_feeds(body: bytes) -> None:
    checked(body)


def _crash_files() -> list[Path]:
    return sorted(p for p in CRASH_DIR.glob("*") if p.is_file() and p.name != "README.md")


@pytest.mark.parametrize("path", _crash_files(), ids=lambda p: p.name)
def test_crash_corpus_replays(path: Path) -> None:
    """Every document that once failed (or that we keep as a known-hostile case) passes."""
    check_document(path.read_bytes())


def test_seeds_make_articles() -> None:
    assert all(check_document(seed) > 0 for seed in SEEDS)
