"""Issue 6: the feed list commands and OPML, as subprocesses, over real corpus lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator.config import load_settings
from tests.e2e.helpers import aggregator, write_config

CONFIG_HEAD = '# my feeds, by hand\noutput_dir = "articles"\n'


def feeds_of(config: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(f.name, f.url, f.tags) for f in load_settings(config, environ={}).feeds]


def test_feeds_add_list_pause_resume_remove(tmp_path: Path) -> None:
    config = tmp_path / "aggregator.toml"
    config.write_text(CONFIG_HEAD, encoding="utf-8")
    empty = aggregator("feeds", "list", "-c", config)
    assert empty.returncode == 0 and "No feeds in" in empty.stdout

    add = aggregator(
        "feeds", "add", "https://a.example/feed", "--name", "Alpha", "--tag", "X", "-c", config
    )
    assert add.returncode == 0, add.stderr
    assert f"added 'Alpha' (https://a.example/feed) to {config}" in add.stdout
    again = aggregator("feeds", "add", "HTTPS://A.example/feed/", "-c", config)
    assert again.returncode == 0 and "already in" in again.stdout
    assert aggregator("feeds", "add", "https://b.example/rss", "-c", config).returncode == 0
    assert aggregator("feeds", "pause", "Alpha", "-c", config).stdout == "'Alpha' paused\n"

    listed = aggregator("feeds", "list", "--json", "-c", config)
    assert json.loads(listed.stdout) == [
        {"name": "Alpha", "url": "https://a.example/feed", "tags": ["X"], "paused": True},
        {"name": "b.example", "url": "https://b.example/rss", "tags": [], "paused": False},
    ]
    table = aggregator("feeds", "list", "-c", config).stdout.splitlines()
    assert table[0].split() == ["NAME", "URL", "TAGS", "PAUSED"]
    assert table[1].split() == ["Alpha", "https://a.example/feed", "X", "paused"]

    resume = aggregator("feeds", "resume", "https://a.example/feed", "-c", config)
    assert resume.stdout == "'https://a.example/feed' resumed\n"
    assert aggregator("feeds", "remove", "b.example", "-c", config).returncode == 0
    text = config.read_text(encoding="utf-8")
    assert text.startswith(CONFIG_HEAD)  # comments and the rest kept
    assert feeds_of(config) == [("Alpha", "https://a.example/feed", ("X",))]
    assert not load_settings(config, environ={}).feeds[0].paused


@pytest.mark.parametrize("command", ["remove", "pause", "resume"])
def test_unknown_feed_name_is_exit_2_with_one_line(tmp_path: Path, command: str) -> None:
    config = write_config(tmp_path, [{"name": "A", "url": "https://a.example/feed"}])
    before = config.read_bytes()
    proc = aggregator("feeds", command, "Nope", "-c", config)
    assert proc.returncode == 2
    assert proc.stderr == f"aggregator: error: {config}: feeds: no feed named or with URL 'Nope'\n"
    assert config.read_bytes() == before


def test_feeds_add_errors(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    before = config.read_bytes()
    bad_url = aggregator("feeds", "add", "ftp://x.example/feed", "-c", config)
    assert bad_url.returncode == 2
    assert "'ftp://x.example/feed' is not an http(s) feed URL" in bad_url.stderr
    missing = aggregator("feeds", "add", "https://x.example/", "-c", tmp_path / "none.toml")
    assert missing.returncode == 2
    assert missing.stderr == f"aggregator: error: {tmp_path / 'none.toml'}: no such file\n"
    assert config.read_bytes() == before


CORPUS_LISTS = [
    "nkanaev__yarr/src/server/opml/sample_win1251.xml",  # windows-1251, a folder
    "plenaryapp__awesome-rss-feeds/recommended/with_category/Startups.opml",  # malformed
    "plenaryapp__awesome-rss-feeds/countries/with_category/France.opml",  # raw '&'
    "kurtmckee__listparser/tests/files/opml/categories/hier-2-nested.xml",  # nested folders
    "Ranchero-Software__NetNewsWire/Modules/RSParser/Tests/RSParserTests/Resources/"
    "SubsNoTitleAttributes.opml",  # no titles
    "stringer-rss__stringer/spec/sample_data/subscriptions.xml",  # Google Reader export
]


@pytest.mark.parametrize("relative", CORPUS_LISTS, ids=lambda p: Path(p).name)
def test_opml_import_export_import_gives_the_same_feeds(
    corpus: Path, tmp_path: Path, relative: str
) -> None:
    source = corpus / relative
    first = write_config(tmp_path, [], name="first.toml")
    proc = aggregator("import-opml", source, "-c", first)
    assert proc.returncode == 0, proc.stderr
    imported = feeds_of(first)
    assert imported
    summary = proc.stdout.splitlines()[-1]
    assert summary.startswith(f"{source}: {len(imported)} added, 0 already present, ")
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("skipped: ")]
    assert summary.endswith(f", {len(skipped)} skipped")

    exported = tmp_path / "export.opml"
    proc = aggregator("export-opml", "-o", exported, "-c", first)
    assert proc.returncode == 0, proc.stderr
    second = write_config(tmp_path, [], name="second.toml")
    proc = aggregator("import-opml", exported, "-c", second)
    assert proc.returncode == 0, proc.stderr
    assert "skipped:" not in proc.stdout and "warning:" not in proc.stdout
    assert feeds_of(second) == imported

    # Importing the same list again adds nothing and says so.
    again = aggregator("import-opml", source, "-c", first)
    assert again.returncode == 0
    assert f"0 added, {len(imported)} already present" in again.stdout
    assert feeds_of(first) == imported


def test_malformed_list_is_imported_with_a_clear_report(corpus: Path, tmp_path: Path) -> None:
    source = corpus / CORPUS_LISTS[1]
    config = write_config(tmp_path, [])
    proc = aggregator("import-opml", source, "-c", config)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"warning: {source}: not well-formed XML (")
    assert any(line.startswith("skipped: outline ") for line in lines)


def test_export_to_stdout_and_bad_opml_changes_nothing(corpus: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, [{"name": "Ünï", "url": "https://u.example/f", "tags": ["t"]}])
    before = config.read_bytes()
    out = aggregator("export-opml", "-c", config)
    assert out.returncode == 0
    assert out.stdout.startswith("<?xml version='1.0' encoding='utf-8'?>\n<opml version=\"2.0\">")
    assert 'text="Ünï"' in out.stdout and 'category="t"' in out.stdout

    rdf = corpus / "kurtmckee__listparser/tests/files/rdf/foaf_group-1.xml"
    proc = aggregator("import-opml", rdf, "-c", config)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"aggregator: error: {rdf}: root element is <RDF>, not <opml>\n"
    garbage = tmp_path / "garbage.opml"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    proc = aggregator("import-opml", garbage, "-c", config)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"aggregator: error: {garbage}: ")
    proc = aggregator("import-opml", tmp_path / "absent.opml", "-c", config)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"aggregator: error: {tmp_path / 'absent.opml'}: cannot read: No such file or directory\n"
    )
    assert config.read_bytes() == before
