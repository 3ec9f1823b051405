"""Pure pieces of the fetcher: decoders, entity screen, Retry-After, redirect permanence,
and ``httpx.MockTransport`` cases that need no real server."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime, timedelta

import brotli
import httpx
import pytest

from aggregator.errors import ErrorClass
from aggregator.fetch import Fetcher, screen
from aggregator.fetch.decode import DecodedTooLarge, DecodeError, make_decoder
from aggregator.fetch.policy import parse_retry_after, permanent_target
from aggregator.fetch.screen import declares_entities
from aggregator.model import FetchRequest, FetchResult, FetchStatus, Redirect
from tests.fetch.helpers import NOW, clock, run, settings

TEXT = b"<rss>" + b"hello world " * 1000 + b"</rss>"


def _decode(encoding: str, data: bytes, cap: int = 1 << 20, step: int = 7) -> bytes:
    decoder = make_decoder({"content-encoding": encoding}, cap)
    out = bytearray()
    for i in range(0, len(data), step):  # tiny raw chunks: state must carry over
        decoder.feed(data[i : i + step], out)
    decoder.finish(out)
    return bytes(out)


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("gzip", gzip.compress(TEXT)),
        ("x-gzip", gzip.compress(TEXT)),
        ("GZIP", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)[2:-4]),  # raw deflate, no zlib header
        ("br", brotli.compress(TEXT)),
        ("identity", TEXT),
        ("", TEXT),
        ("gzip", gzip.compress(TEXT[:100]) + gzip.compress(TEXT[100:])),  # two members
    ],
)
def test_decoders_round_trip(encoding: str, data: bytes) -> None:
    assert _decode(encoding, data) == TEXT


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate", ""])
def test_decoders_stop_at_the_cap(encoding: str) -> None:
    packed = {
        "gzip": gzip.compress,
        "br": brotli.compress,
        "deflate": zlib.compress,
        "": bytes,
    }[encoding](bytes(100_000))
    assert len(_decode(encoding, packed, cap=100_000, step=1000)) == 100_000
    with pytest.raises(DecodedTooLarge):
        _decode(encoding, packed, cap=99_999, step=1000)


def test_decoder_can_truncate_for_pages() -> None:
    decoder = make_decoder({"content-encoding": "gzip"}, 1000, truncate=True)
    out = bytearray()
    decoder.feed(gzip.compress(bytes(10_000)), out)
    decoder.finish(out)
    assert len(out) == 1000
    assert decoder.truncated


@pytest.mark.parametrize("value", ["gzip, gzip", "gzip, br", "zstd", "compress", "br;q=1"])
def test_refused_codings(value: str) -> None:
    with pytest.raises(DecodeError):
        make_decoder({"content-encoding": value}, 100)


PAYLOAD = '<?xml version="1.0"?>\n<!DOCTYPE r [\n<!ENTITY e "{}">\n]>\n<r>&e;&e;</r>'.format(
    "x" * 100
)
CODECS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"]
CODECS += ["utf-32", "utf-32-le", "utf-32-be"]


@pytest.mark.parametrize("codec", CODECS)
def test_entity_screen_in_every_encoding(codec: str) -> None:
    assert declares_entities(PAYLOAD.encode(codec))
    assert declares_entities(PAYLOAD.replace("ENTITY", "entity").encode(codec))
    # The bounded prefix cannot be used to smuggle a declaration past the screen.
    padded = PAYLOAD.replace("<!DOCTYPE", " " * 5000 + "<!DOCTYPE")
    assert declares_entities(padded.encode(codec), prefix_bytes=1024)


@pytest.mark.parametrize("codec", CODECS)
def test_entity_screen_accepts_real_feeds(codec: str) -> None:
    feeds = [
        '<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91'
        '//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91">'
        "<channel><title>t</title></channel></rss>",
        # An article about XML: the declaration is content, after the root element.
        '<rss><channel><item><description><![CDATA[<!ENTITY x "y">]]></description>'
        "<title>&lt;!ENTITY&gt;</title></item></channel></rss>",
        '<!-- a comment with <!ENTITY inside? no: "<!ENTITY" is in a comment -->'
        "<feed xmlns='http://www.w3.org/2005/Atom'/>",
        "",
    ]
    for feed in feeds:
        assert not declares_entities(feed.encode(codec)), feed


def test_entity_screen_skips_wide_encodings_only_when_no_hit_could_exist() -> None:
    """A body without a NUL byte is not searched as UTF-16/32: every hit there has one."""
    assert {"utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"} == screen._NEEDS_NUL
    for codec in screen._NEEDS_NUL:
        for ch in "<!ENTITY":
            assert b"\0" in ch.encode(codec) and b"\0" in ch.lower().encode(codec)
    # A NUL anywhere (even far from the declaration) means the wide encodings are searched.
    wide = PAYLOAD.encode("utf-16-le")
    assert declares_entities(b"\0\0" + wide)
    assert declares_entities(wide + b"<rss/>")


def test_entity_screen_sees_through_tricks() -> None:
    tricky = [
        # A root-looking "<x" hidden in a quoted string of the DOCTYPE.
        '<!DOCTYPE r [<!ATTLIST r a CDATA "<x">]><!DOCTYPE r [<!ENTITY e "v">]><r/>',
        '<!DOCTYPE r [<!ATTLIST r a CDATA "<x"><!ENTITY e "v">]><r/>',
        # A comment and a processing instruction before the declaration.
        '<?xml version="1.0"?><!-- <a> --><?pi <b>?><!DOCTYPE r [<!ENTITY e "v">]><r/>',
        # Parameter entity.
        '<!DOCTYPE r [<!ENTITY % p "v"> %p;]><r/>',
        # Cut-off prolog (no root at all).
        '<!DOCTYPE r [<!ENTITY e "v"',
    ]
    for doc in tricky:
        assert declares_entities(doc.encode()), doc


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after({"retry-after": "120"}, now) == now + timedelta(seconds=120)
    assert parse_retry_after({"retry-after": " 0 "}, now) == now
    huge = parse_retry_after({"retry-after": "9" * 40}, now)
    assert huge is not None and huge - now <= timedelta(days=365)
    skewed = {
        "retry-after": "Wed, 21 Oct 2015 07:30:00 GMT",
        "date": "Wed, 21 Oct 2015 07:28:00 GMT",
    }
    assert parse_retry_after(skewed, now) == now + timedelta(minutes=2)
    no_date = {"retry-after": "Thu, 01 Jan 2026 01:00:00 GMT"}
    assert parse_retry_after(no_date, now) == now + timedelta(hours=1)
    past = {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert parse_retry_after(past, now) == now
    for garbage in ["", "soon", "-5", "1.5", "Someday, 99 Foo 20xx"]:
        assert parse_retry_after({"retry-after": garbage}, now) is None, garbage
    assert parse_retry_after({}, now) is None


@pytest.mark.parametrize(
    ("hops", "expected"),
    [
        ([], None),
        ([(301, "http://a/1", "http://a/2")], "http://a/2"),
        ([(301, "http://a/1", "https://b/2"), (308, "https://b/2", "https://c/3")], "https://c/3"),
        ([(301, "http://a/1", "http://a/2"), (302, "http://a/2", "http://a/3")], None),
        ([(307, "http://a/1", "http://a/2")], None),
        ([(303, "http://a/1", "http://a/2")], None),
        ([(301, "https://a/1", "http://a/2")], None),  # downgrade
        ([(301, "http://a/1", "https://a/2"), (308, "HTTPS://a/2", "http://b/3")], None),
    ],
)
def test_permanent_target(hops: list[tuple[int, str, str]], expected: str | None) -> None:
    redirects = [Redirect(status, src, dst) for status, src, dst in hops]
    assert permanent_target("http://a/1", redirects) == expected


def _mock(handler: httpx.MockTransport) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings(), clock=clock, transport=handler) as fetcher:
            return await fetcher.fetch(FetchRequest("https://feeds.example.org/rss"))

    return run(go())


def test_unexpected_exception_becomes_internal() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("boom")

    result = _mock(httpx.MockTransport(boom))
    assert result.status is FetchStatus.ERROR
    assert result.error_class is ErrorClass.INTERNAL
    assert "RuntimeError('boom')" in result.error_message


def test_mock_503_with_retry_after_and_304_validators() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"retry-after": "60"})

    result = _mock(httpx.MockTransport(reply))
    assert result.error_class is ErrorClass.HTTP_5XX
    assert result.retry_after == NOW + timedelta(seconds=60)

    def not_modified(request: httpx.Request) -> httpx.Response:
        return httpx.Response(304, headers={"etag": '"new"', "cache-control": "max-age=60"})

    result = _mock(httpx.MockTransport(not_modified))
    assert result.status is FetchStatus.NOT_MODIFIED
    assert result.etag == '"new"'
    assert result.headers["cache-control"] == "max-age=60"
