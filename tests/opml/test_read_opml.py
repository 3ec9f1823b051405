"""read_opml on small documents, one tolerance or refusal each."""

from __future__ import annotations

import codecs

import pytest

from aggregator.opml import OpmlError, read_opml


def opml(body: str, head: str = "<title>Mine</title>") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<opml version="2.0"><head>{head}</head><body>{body}</body></opml>'
    )


def test_nested_folders_and_category_become_tags() -> None:
    doc = opml(
        '<outline text="News"><outline title="France">'
        '<outline text="Le Monde" xmlUrl="https://lemonde.example/rss"'
        ' category="Presse, Daily/Paper"/>'
        "</outline></outline>"
    )
    result = read_opml(doc.encode())
    assert result.title == "Mine"
    [feed] = result.feeds
    assert feed.tags == ("News", "France", "Presse", "Daily", "Paper")


def test_name_prefers_title_then_text_then_host() -> None:
    doc = opml(
        '<outline title="T" text="X" xmlUrl="https://a.example/1"/>'
        '<outline text="  Only   text " xmlUrl="https://a.example/2"/>'
        '<outline xmlUrl="https://Host.Example:8443/3"/>'
    )
    assert [f.name for f in read_opml(doc.encode()).feeds] == ["T", "Only text", "host.example"]


@pytest.mark.parametrize("attribute", ["xmlUrl", "xmlurl", "xmlURL", "XMLURL"])
def test_xmlurl_spellings(attribute: str) -> None:
    doc = opml(f'<outline text="a" {attribute}=" https://a.example/feed "/>')
    assert [f.url for f in read_opml(doc.encode()).feeds] == ["https://a.example/feed"]


def test_bad_urls_skipped_with_reason() -> None:
    doc = opml(
        '<outline text="empty" xmlUrl=""/>'
        '<outline text="ftp" xmlUrl="ftp://a.example/feed"/>'
        '<outline text="js" xmlUrl="javascript:alert(1)"/>'
        '<outline text="file" xmlUrl="file:///etc/passwd"/>'
        '<outline text="nohost" xmlUrl="http:///feed"/>'
        '<outline text="link" type="link" url="https://a.example/page"/>'
    )
    result = read_opml(doc.encode())
    assert result.feeds == ()
    reasons = [s.reason for s in result.skipped]
    assert reasons[0] == "empty xmlUrl"
    assert all("scheme" in r for r in reasons[1:4])
    assert "no host" in reasons[4]
    assert "not a feed" in reasons[5]


def test_duplicates_compare_canonically_and_keep_the_first() -> None:
    doc = opml(
        '<outline text="first" xmlUrl="https://a.example/feed/"/>'
        '<outline text="second" xmlUrl="HTTPS://A.EXAMPLE/feed"/>'
        '<outline text="other path case" xmlUrl="https://a.example/Feed"/>'
    )
    result = read_opml(doc.encode())
    assert [f.name for f in result.feeds] == ["first", "other path case"]
    [skip] = result.skipped
    assert '"second"' in skip.outline
    assert skip.reason.startswith("duplicate")


def test_unknown_attributes_and_namespaced_elements_are_ignored() -> None:
    doc = opml(
        '<outline xmlns:x="urn:x" x:foo="1" text="a" htmlUrl="h" version="RSS" xmlUrl="https://a.example/"/>'
        '<x:thing xmlns:x="urn:x"/>'
    )
    assert len(read_opml(doc.encode()).feeds) == 1


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_byte_order_marks(bom: bytes, encoding: str) -> None:
    doc = opml('<outline text="Ça — “ok”" xmlUrl="https://a.example/"/>').replace(
        "UTF-8", "UTF-16" if "16" in encoding else "UTF-8"
    )
    result = read_opml(bom + doc.encode(encoding))
    assert [f.name for f in result.feeds] == ["Ça — “ok”"]


def test_declared_single_byte_encoding() -> None:
    doc = opml('<outline text="Новости" xmlUrl="https://a.example/"/>').replace(
        "UTF-8", "windows-1251"
    )
    assert read_opml(doc.encode("cp1251")).feeds[0].name == "Новости"


def test_invalid_bytes_are_replaced_with_a_warning() -> None:
    data = opml('<outline text="caf\udce9" xmlUrl="https://a.example/"/>').encode(
        "utf-8", "surrogateescape"
    )
    result = read_opml(data)
    assert result.feeds[0].name == "caf\ufffd"
    assert any("replaced" in w for w in result.warnings)


def test_raw_ampersand_and_html_entities_are_repaired() -> None:
    doc = opml(
        '<outline text="Tom &amp; Jerry&nbsp;&hellip;" xmlUrl="https://a.example/?a=1&b=2"/>'
    )
    result = read_opml(doc.encode())
    assert result.feeds[0].url == "https://a.example/?a=1&b=2"
    assert result.feeds[0].name == "Tom & Jerry …"
    assert result.warnings


def test_well_formed_document_has_no_warnings() -> None:
    assert (
        read_opml(opml('<outline text="a" xmlUrl="https://a.example/"/>').encode()).warnings == ()
    )


def test_empty_body_is_an_empty_import() -> None:
    result = read_opml(opml("").encode())
    assert result.feeds == ()
    assert result.skipped == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<html><body><p>hello</p></body></html>", "not <opml>"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "not <opml>"),
        (b'<opml version="2.0"><head/></opml>', "no <body>"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not XML|not <opml>"),
        (b"just some text", "not XML"),
    ],
)
def test_not_opml_is_refused_in_one_line(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message) as info:
        read_opml(data, source="upload.opml")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("upload.opml: ")
