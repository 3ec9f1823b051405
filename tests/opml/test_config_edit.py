"""config_edit on real files in a temporary folder: comments survive, failures change nothing."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from aggregator.config_edit import add_feeds, remove_feed, set_paused
from aggregator.errors import ConfigError
from aggregator.model import FeedConfig
from aggregator.opml import OpmlFeed, read_opml

CONFIG = """\
# Feeds for the French site. Keep this comment.
output_dir = "../data/articles"          # relative paths resolve against the config file's folder
database_url = "sqlite:///../data/aggregator.db"

[site]
language = "fr"
timezone = "Europe/Paris"

[fetch]
allow_private_networks = false

# --- the feed list ---
[[feeds]]
name = "Interventional News — Latest"
url = "https://interventionalnews.com/feed/"
tags = ["France", "Actualité"]
# optional per feed: interval_minutes = 60, paused = false, fetch_page_image = true

[[feeds]]
name = "Second"   # inline comment
url = "https://second.example/rss"
interval_minutes = 120
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "aggregator.toml"
    path.parent.mkdir()
    path.write_text(CONFIG, encoding="utf-8")
    return path


def feeds_of(path: Path) -> list[dict[str, object]]:
    return list(tomllib.loads(path.read_text(encoding="utf-8"))["feeds"])


def test_add_keeps_comments_and_formatting(config: Path) -> None:
    report = add_feeds(
        config, [OpmlFeed("New & <one>", "https://new.example/feed", ("Tech", "Ça"))]
    )
    assert report.added == ("New & <one>",)
    text = config.read_text(encoding="utf-8")
    assert text.startswith(CONFIG)  # everything that was there is still there, as written
    assert feeds_of(config)[-1] == {
        "name": "New & <one>",
        "url": "https://new.example/feed",
        "tags": ["Tech", "Ça"],
    }


def test_urls_already_present_are_skipped_canonically(config: Path) -> None:
    report = add_feeds(
        config,
        [
            OpmlFeed("Same", "HTTPS://InterventionalNews.com/feed"),  # case + trailing slash
            OpmlFeed("Twice", "https://twice.example/"),
            OpmlFeed("Twice again", "https://twice.example"),  # duplicate inside the batch
        ],
    )
    assert report.added == ("Twice",)
    assert report.already_present == (
        "HTTPS://InterventionalNews.com/feed",
        "https://twice.example",
    )
    assert len(feeds_of(config)) == 3


def test_name_clashes_get_a_suffix(config: Path) -> None:
    report = add_feeds(
        config,
        [
            OpmlFeed("second", "https://other.example/a"),
            OpmlFeed("Second", "https://other.example/b"),
        ],
    )
    assert report.added == ("second (2)", "Second (3)")
    assert report.renamed == (("second", "second (2)"), ("Second", "Second (3)"))
    names = [f["name"] for f in feeds_of(config)]
    assert len({str(n).casefold() for n in names}) == len(names)


def test_feed_config_settings_are_written(config: Path) -> None:
    add_feeds(
        config,
        [
            FeedConfig(
                "Slow",
                "https://slow.example/",
                interval_minutes=720,
                paused=True,
                fetch_page_image=False,
            )
        ],
    )
    assert feeds_of(config)[-1] == {
        "name": "Slow",
        "url": "https://slow.example/",
        "interval_minutes": 720,
        "paused": True,
        "fetch_page_image": False,
    }


def test_nothing_to_add_leaves_the_file_untouched(config: Path) -> None:
    before = config.stat().st_mtime_ns
    report = add_feeds(config, [OpmlFeed("Same", "https://second.example/rss")])
    assert report.added == ()
    assert config.stat().st_mtime_ns == before


def test_config_without_feeds_gets_a_feeds_array(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('# only settings\noutput_dir = "out"\n', encoding="utf-8")
    add_feeds(path, [OpmlFeed("A", "https://a.example/")])
    assert path.read_text(encoding="utf-8").startswith('# only settings\noutput_dir = "out"\n')
    assert feeds_of(path) == [{"name": "A", "url": "https://a.example/"}]


def test_failed_replace_leaves_the_original_byte_for_byte(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = config.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ConfigError, match="No space left"):
        add_feeds(config, [OpmlFeed(f"F{i}", f"https://f.example/{i}") for i in range(50)])
    assert config.read_bytes() == original
    assert list(config.parent.iterdir()) == [config]  # no temporary file left behind


def test_failed_fsync_leaves_the_original(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = config.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(ConfigError, match="Input/output error"):
        set_paused(config, "Second", True)
    assert config.read_bytes() == original
    assert list(config.parent.iterdir()) == [config]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder_leaves_the_original(config: Path) -> None:
    original = config.read_bytes()
    folder = config.parent
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(ConfigError, match="cannot write"):
            add_feeds(config, [OpmlFeed("A", "https://a.example/")])
    finally:
        folder.chmod(stat.S_IRWXU)
    assert config.read_bytes() == original


def test_file_mode_is_kept(config: Path) -> None:
    config.chmod(0o640)
    add_feeds(config, [OpmlFeed("A", "https://a.example/")])
    assert stat.S_IMODE(config.stat().st_mode) == 0o640


def test_remove_by_name_and_by_url(config: Path) -> None:
    assert remove_feed(config, "Second") is True
    assert [f["name"] for f in feeds_of(config)] == ["Interventional News — Latest"]
    with pytest.raises(ConfigError):  # http and https are different feeds
        remove_feed(config, "http://interventionalnews.com/feed/")
    text = config.read_text(encoding="utf-8")
    assert "# Feeds for the French site. Keep this comment." in text
    assert "[fetch]" in text


def test_remove_by_url(config: Path) -> None:
    assert remove_feed(config, "HTTPS://interventionalnews.com/feed") is True
    assert [f["name"] for f in feeds_of(config)] == ["Second"]


def test_unknown_feed_is_a_clear_config_error(config: Path) -> None:
    original = config.read_bytes()
    with pytest.raises(ConfigError, match="no feed named or with URL 'nope'") as info:
        remove_feed(config, "nope")
    assert info.value.key == "feeds"
    with pytest.raises(ConfigError, match="nope"):
        set_paused(config, "nope", True)
    assert remove_feed(config, "nope", missing_ok=True) is False
    assert config.read_bytes() == original


def test_pause_and_resume(config: Path) -> None:
    assert set_paused(config, "Second", True) is True
    assert feeds_of(config)[1]["paused"] is True
    assert set_paused(config, "Second", True) is False  # already paused: no write
    assert set_paused(config, "https://second.example/rss", False) is True
    assert feeds_of(config)[1]["paused"] is False
    assert set_paused(config, "Interventional News — Latest", False) is False  # default already
    assert "# inline comment" in config.read_text(encoding="utf-8")


def test_import_a_real_list_into_a_config(config: Path, corpus: Path) -> None:
    result = read_opml(
        (corpus / "stringer-rss__stringer/spec/sample_data/subscriptions.xml").read_bytes()
    )
    report = add_feeds(config, result.feeds)
    assert len(report.added) + len(report.already_present) == len(result.feeds)
    assert len(feeds_of(config)) == 2 + len(report.added)
    again = add_feeds(config, result.feeds)
    assert again.added == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [("feeds = 3\n", "feeds: must be an array"), ("[[feeds]\n", "not valid TOML")],
)
def test_unusable_config_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        add_feeds(path, [OpmlFeed("A", "https://a.example/")])
    assert path.read_text(encoding="utf-8") == text


def test_missing_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        add_feeds(tmp_path / "absent.toml", [])


def test_non_http_url_is_refused_and_nothing_is_written(config: Path) -> None:
    original = config.read_bytes()
    with pytest.raises(ConfigError, match="not an http"):
        add_feeds(config, [OpmlFeed("ok", "https://ok.example/"), OpmlFeed("bad", "ftp://x/")])
    assert config.read_bytes() == original


def test_symlinked_config_stays_a_symlink(config: Path) -> None:
    link = config.parent / "link.toml"
    link.symlink_to(config.name)
    add_feeds(link, [OpmlFeed("A", "https://a.example/")])
    assert link.is_symlink()
    assert feeds_of(config)[-1]["url"] == "https://a.example/"
