"""write_opml, and the round trips through read_opml."""

from __future__ import annotations

from pathlib import Path

import defusedxml.ElementTree

from aggregator.model import FeedConfig
from aggregator.opml import OpmlFeed, read_opml, write_opml

AWKWARD = (
    FeedConfig(
        name="Interventional News — Latest",
        url="https://interventionalnews.com/feed/",
        tags=("France", "Actualité"),
    ),
    FeedConfig(
        name="Tom & Jerry \"quoted\" <b>bold</b> 'single'", url="https://a.example/rss?a=1&b=2"
    ),
    FeedConfig(name="日本語のニュース 🗞", url="https://b.example/フィード", tags=("アジア",)),
    FeedConfig(name="  leading and trailing  ", url="http://c.example/"),
    FeedConfig(name="]]> </outline> <!-- -->", url="https://d.example/?q=<x>"),
)


def as_opml_feeds(feeds: tuple[FeedConfig, ...]) -> tuple[OpmlFeed, ...]:
    return tuple(OpmlFeed(" ".join(f.name.split()), f.url, f.tags) for f in feeds)


def test_export_is_opml_2_in_utf8() -> None:
    data = write_opml(AWKWARD, title="Mes flux")
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = defusedxml.ElementTree.fromstring(data)
    assert root.tag == "opml"
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "Mes flux"
    outlines = root.findall("body/outline")
    assert [o.get("type") for o in outlines] == ["rss"] * len(AWKWARD)
    assert outlines[0].get("category") == "France,Actualité"
    assert outlines[0].get("text") == outlines[0].get("title") == AWKWARD[0].name
    assert "—".encode() in data  # written as UTF-8, not as character references


def test_round_trip_gives_the_same_feeds() -> None:
    result = read_opml(write_opml(AWKWARD, title="x & y"))
    assert result.feeds == as_opml_feeds(AWKWARD)
    assert result.title == "x & y"
    assert result.skipped == ()
    assert result.warnings == ()


def test_control_characters_are_dropped_not_written() -> None:
    feeds = (FeedConfig(name="bell\x07 and nul\x00", url="https://a.example/"),)
    assert read_opml(write_opml(feeds)).feeds[0].name == "bell and nul"


def test_real_list_import_export_import(corpus: Path) -> None:
    path = corpus / "stringer-rss__stringer/spec/fixtures/feeds.opml"
    first = read_opml(path.read_bytes())
    assert first.feeds
    assert any(f.tags for f in first.feeds)
    exported = write_opml([FeedConfig(name=f.name, url=f.url, tags=f.tags) for f in first.feeds])
    assert read_opml(exported).feeds == first.feeds


def test_recovered_list_round_trips_cleanly(corpus: Path) -> None:
    path = corpus / "plenaryapp__awesome-rss-feeds/countries/with_category/France.opml"
    first = read_opml(path.read_bytes())
    assert first.warnings  # the original needs repair ...
    second = read_opml(
        write_opml([FeedConfig(name=f.name, url=f.url, tags=f.tags) for f in first.feeds])
    )
    assert second.warnings == ()  # ... our export does not
    assert second.feeds == first.feeds
