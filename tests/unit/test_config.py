from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import load_settings
from aggregator.errors import ConfigError
from aggregator.model import DaemonSettings

REPO = Path(__file__).resolve().parents[2]

GOOD = """
output_dir = "out"
database_url = "sqlite:///db/x.db"
[site]
language = "en"
timezone = "Europe/London"
[[feeds]]
name = "A"
url = "https://a.example/feed"
tags = ["x"]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "conf" / "a.toml"
    p.parent.mkdir(exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_configurations_load() -> None:
    s = load_settings(REPO / "config" / "aggregator.toml", environ={})
    assert s.site.language == "fr" and s.site.timezone == "Europe/Paris"
    [feed] = s.feeds
    assert feed.name == "Interventional News — Latest"
    assert feed.url == "https://interventionalnews.com/feed/"
    assert feed.tags == ("France", "Actualité")
    assert s.output_dir == REPO / "data" / "articles"
    assert s.database_url == f"sqlite:///{REPO / 'data' / 'aggregator.db'}"
    demo = load_settings(REPO / "config" / "demo.toml", environ={})
    assert demo.fetch.allow_private_networks


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD), environ={})
    assert s.output_dir == tmp_path / "conf" / "out"
    assert s.database_url == f"sqlite:///{tmp_path / 'conf' / 'db' / 'x.db'}"


def test_metrics_endpoint_is_off_by_default_and_configurable(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, GOOD), environ={}).metrics.listen == ""
    text = GOOD + '[metrics]\nlisten = "127.0.0.1:9464"\nstale_grace_minutes = 5\n'
    s = load_settings(write(tmp_path, text), environ={})
    assert (s.metrics.listen, s.metrics.stale_grace_minutes) == ("127.0.0.1:9464", 5)


def test_environment_overrides_database_url(tmp_path: Path) -> None:
    url = "postgresql+psycopg://u@h/db"
    s = load_settings(write(tmp_path, GOOD), environ={"AGGREGATOR_DATABASE_URL": url})
    assert s.database_url == url


def test_daemon_table_defaults_and_values(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD), environ={})
    assert s.daemon == DaemonSettings()
    assert (s.daemon.tick_seconds, s.daemon.batch_size) == (60, 64)
    text = GOOD.replace(
        "[site]",
        "[daemon]\ntick_seconds = 5\nbatch_size = 8\nfeed_lease_seconds = 2\n"
        "entry_lease_seconds = 3\n[site]",
    )
    s = load_settings(write(tmp_path, text), environ={})
    assert s.daemon == DaemonSettings(
        tick_seconds=5, batch_size=8, feed_lease_seconds=2, entry_lease_seconds=3
    )


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (("[site]", "[site]\ncolour = 1"), "site.colour", "unknown key"),
        (("[site]", "[daemon]\ntick_seconds = 0\n[site]"), "daemon.tick_seconds", "number"),
        (("[site]", "[daemon]\nbatch_size = 0\n[site]"), "daemon.batch_size", "integer"),
        (("[site]", "[daemon]\nticks = 1\n[site]"), "daemon.ticks", "unknown key"),
        (('output_dir = "out"', 'output_dir = "out"\nextra = 1'), "extra", "unknown key"),
        (
            ('url = "https://a.example/feed"', 'url = "ftp://a.example/feed"'),
            "feeds[0].url",
            "not an http/https URL",
        ),
        (('url = "https://a.example/feed"', 'url = "https:///nohost"'), "feeds[0].url", "URL"),
        (('name = "A"\n', ""), "feeds[0].name", "missing"),
        (('name = "A"', 'name = "  "'), "feeds[0].name", "must not be empty"),
        (
            ('timezone = "Europe/London"', 'timezone = "Mars/Olympus"'),
            "site.timezone",
            "unknown time zone",
        ),
        (('language = "en"', 'language = "xx-nope"'), "site.language", "unknown language"),
        (('tags = ["x"]', 'tags = "x"'), "feeds[0].tags", "array"),
        (("[site]", "[site]\nsummary_length = 3"), "site.summary_length", "integer"),
        (("[site]", '[site]\npermalink = "/papers/{title}"'), "site.permalink", "{slug}"),
        (
            ('database_url = "sqlite:///db/x.db"', 'database_url = "mysql://x"'),
            "database_url",
            "unsupported",
        ),
        (
            (
                'tags = ["x"]',
                'tags = ["x"]\n[[feeds.rules]]\naction = "exclude"\npattern = "("\nregex = true',
            ),
            "feeds[0].rules[0].pattern",
            "regular expression",
        ),
        (
            ('tags = ["x"]', 'tags = ["x"]\n[[feeds]]\nname = "a"\nurl = "https://b.example/"'),
            "feeds[1].name",
            "duplicate",
        ),
        (
            ('tags = ["x"]', 'tags = ["x"]\n[metrics]\nlisten = "9464"'),
            "metrics.listen",
            "host:port",
        ),
        (
            ('tags = ["x"]', 'tags = ["x"]\n[metrics]\nlisten = "localhost:99999"'),
            "metrics.listen",
            "host:port",
        ),
        (('tags = ["x"]', 'tags = ["x"]\n[metrics]\nport = 1'), "metrics.port", "unknown key"),
    ],
)
def test_bad_configuration_is_one_line_naming_file_and_key(
    tmp_path: Path, change: tuple[str, str], key: str, words: str
) -> None:
    assert change[0] in GOOD
    path = write(tmp_path, GOOD.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: ")
    assert words in message


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.toml", environ={})
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(write(tmp_path, "x = = 1"), environ={})
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("name = 'caf\xe9'".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(bad, environ={})


@pytest.mark.parametrize("space", [" ", "\t", "\xa0", "\u2028", "\u3000"])
def test_a_feed_url_with_whitespace_inside_is_refused(tmp_path: Path, space: str) -> None:
    text = GOOD.replace("https://a.example/feed", f"https://a.example/a{space}feed")
    with pytest.raises(ConfigError, match="not an http/https URL"):
        load_settings(write(tmp_path, text), environ={})


def test_the_whitespace_search_agrees_with_isspace_on_every_code_point() -> None:
    from aggregator.config import _WHITESPACE

    disagree = [
        hex(n) for n in range(0x110000) if bool(_WHITESPACE.search(chr(n))) != chr(n).isspace()
    ]
    assert disagree == []
