"""read_opml against every OPML candidate of the third-party corpus.

The contract: a result (feeds found, skips reported) or OpmlError, never any other
exception. Expected values are derived from the raw files here, not hard-coded.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aggregator.opml import OpmlError, read_opml

XML_URL = re.compile(rb"""xmlurl\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def test_every_candidate_imports_or_is_refused_cleanly(corpus_opml_file: Path) -> None:
    data = corpus_opml_file.read_bytes()
    try:
        result = read_opml(data, source=corpus_opml_file.name)
    except OpmlError as err:
        message = str(err)
        assert "\n" not in message
        assert corpus_opml_file.name in message
        return
    for feed in result.feeds:
        assert feed.name
        assert feed.name == " ".join(feed.name.split())
        assert feed.url.startswith(("http://", "https://"))
        assert all(tag for tag in feed.tags)
    # Every xmlUrl attribute in the raw file is accounted for: imported or skipped.
    # (Recovered documents may lose some to the damage, so only check clean ones.)
    if not result.warnings:
        assert len(result.feeds) + sum(
            1 for s in result.skipped if "xmlUrl" in s.outline or "empty" in s.reason
        ) == len(XML_URL.findall(data))


def test_sweep_totals(corpus: Path) -> None:
    """The sweep as a whole: most files import, the non-OPML ones are refused."""
    from tests.opml.conftest import opml_candidates

    imported = refused = feeds = 0
    for path in opml_candidates(corpus):
        try:
            feeds += len(read_opml(path.read_bytes()).feeds)
            imported += 1
        except OpmlError:
            refused += 1
    rdf = len(list((corpus / "kurtmckee__listparser/tests/files/rdf").rglob("*.xml")))
    assert refused >= rdf  # every RDF/FOAF blogroll is refused
    assert imported > 200
    assert feeds > 1000


def test_yarr_windows_1251_titles_are_decoded(corpus: Path) -> None:
    path = corpus / "nkanaev__yarr/src/server/opml/sample_win1251.xml"
    raw = path.read_bytes()
    assert b"windows-1251" in raw[:100]
    result = read_opml(raw)
    expected = [m.decode("cp1251") for m in re.findall(rb'<outline type="rss" text="([^"]+)"', raw)]
    assert [f.name for f in result.feeds] == expected
    assert all(re.fullmatch(r"[\u0400-\u04ff0-9]+", name) for name in expected)
    folder = re.search(rb'<outline text="([^"]+)">', raw)
    assert folder is not None
    assert folder.group(1).decode("cp1251") in result.feeds[0].tags
    assert result.title == re.search(rb"<title>(.*?)</title>", raw).group(1).decode("cp1251")  # type: ignore[union-attr]
    assert result.warnings == ()


def test_plenaryapp_lists_with_raw_ampersands_keep_their_feeds(corpus: Path) -> None:
    folder = corpus / "plenaryapp__awesome-rss-feeds"
    broken = [
        p
        for p in sorted(folder.rglob("*.opml"))
        if re.search(rb"&(?!amp;|#|lt;|gt;|quot;|apos;)", p.read_bytes())
    ]
    assert len(broken) >= 50
    ampersand_urls = 0
    for path in broken:
        raw = path.read_bytes()
        result = read_opml(raw)
        assert result.warnings, path
        urls = {u.decode().strip() for u in XML_URL.findall(raw)}
        # Escaping the stray '&' changes nothing else: URLs are exactly the raw text.
        assert {f.url for f in result.feeds} <= urls, path
        if "escaped stray" in result.warnings[0]:
            assert len(result.feeds) + len(result.skipped) == len(urls), path
        else:
            # Worse damage (raw <a href="..."> inside attributes): whatever the
            # recovering parser could not read is reported, not silently dropped.
            assert len(result.feeds) + len(result.skipped) >= len(urls), path
        ampersand_urls += sum("&" in f.url for f in result.feeds)
    assert ampersand_urls > 0


def test_stringer_google_reader_export_count(corpus: Path) -> None:
    path = corpus / "stringer-rss__stringer/spec/sample_data/subscriptions.xml"
    raw = path.read_bytes()
    urls = [u.strip() for u in XML_URL.findall(raw)]
    result = read_opml(raw)
    assert len(result.feeds) == len(set(urls))
    assert [f.url.encode() for f in result.feeds] == list(dict.fromkeys(urls))
    assert "Google Reader" in result.title


def test_netnewswire_outline_without_title_uses_text(corpus: Path) -> None:
    base = corpus / "Ranchero-Software__NetNewsWire/Modules/RSParser/Tests/RSParserTests/Resources"
    with_titles = read_opml((base / "Subs.opml").read_bytes())
    without = read_opml((base / "SubsNoTitleAttributes.opml").read_bytes())
    raw = (base / "SubsNoTitleAttributes.opml").read_bytes()
    assert b" title=" not in raw.split(b"<body>", 1)[1]
    assert without.feeds
    texts = {m.decode() for m in re.findall(rb'<outline text="([^"]*)"[^>]*xmlUrl', raw)}
    assert {f.name for f in without.feeds} <= texts | {f.name for f in with_titles.feeds}


def test_listparser_duplicates_are_reported(corpus: Path) -> None:
    path = corpus / "kurtmckee__listparser/tests/files/opml/outline-duplication-1.xml"
    result = read_opml(path.read_bytes())
    assert len(result.feeds) == 1
    assert [s.reason.split(" ")[0] for s in result.skipped] == ["duplicate"]


def test_listparser_miscapitalised_xmlurl(corpus: Path) -> None:
    path = corpus / "kurtmckee__listparser/tests/files/opml/outline_xmlUrl-miscapitalized.xml"
    assert [f.url for f in read_opml(path.read_bytes()).feeds] == ["http://domain/feed"]


def test_newsboat_missing_body_is_refused(corpus: Path) -> None:
    path = corpus / "newsboat__newsboat/test/data/body-element-missing.opml"
    with pytest.raises(OpmlError, match="no <body>"):
        read_opml(path.read_bytes())


def test_newsboat_nested_folders_become_tags(corpus: Path) -> None:
    result = read_opml((corpus / "newsboat__newsboat/test/data/test-urls+.opml").read_bytes())
    first = result.feeds[0]
    assert first.tags[:2] == ("tag1", "tag2")


@pytest.mark.parametrize("name", ["foaf_group-1.xml", "version.xml"])
def test_rdf_blogrolls_are_refused(corpus: Path, name: str) -> None:
    path = corpus / "kurtmckee__listparser/tests/files/rdf" / name
    with pytest.raises(OpmlError, match="not <opml>"):
        read_opml(path.read_bytes())
