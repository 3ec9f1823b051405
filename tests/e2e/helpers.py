"""Run the real command line against a configuration written for a test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aggregator.render import parse_front_matter

REPO_ROOT = Path(__file__).resolve().parents[2]

FORMAT_KEYS = [
    "title",
    "date",
    "publishedDate",
    "summary",
    "importance",
    "sourceUrl",
    "tags",
    "permalink",
    "imageUrl",
    "imageCredit",
]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def write_config(
    folder: Path,
    feeds: Sequence[Mapping[str, Any]],
    *,
    site: Mapping[str, Any] | None = None,
    fetch: Mapping[str, Any] | None = None,
    database_url: str | None = None,
    name: str = "aggregator.toml",
) -> Path:
    """A configuration for loopback tests: private networks allowed, no politeness delay."""
    lines = [
        'output_dir = "articles"',
        f"database_url = {toml_value(database_url or 'sqlite:///aggregator.db')}",
        "[site]",
    ]
    site = {"language": "fr", "timezone": "Europe/Paris", **(site or {})}
    lines += [f"{k} = {toml_value(v)}" for k, v in site.items()]
    fetch = {
        "allow_private_networks": True,
        "per_host_delay_seconds": 0,
        "per_host_concurrency": 16,
        "timeout_seconds": 10,
        **(fetch or {}),
    }
    lines += ["[fetch]"] + [f"{k} = {toml_value(v)}" for k, v in fetch.items()]
    for given in feeds:
        feed = {"fetch_page_image": False, **given}
        lines += ["[[feeds]]"] + [f"{k} = {toml_value(v)}" for k, v in feed.items()]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def aggregator(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aggregator ARGS`` as a subprocess and capture its output."""
    full_env = {**os.environ, **(env or {})}
    if env is None:  # a developer's own setting must not redirect a test's database
        full_env.pop("AGGREGATOR_DATABASE_URL", None)
    full_env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "aggregator", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def articles(folder: Path) -> dict[str, bytes]:
    """Every file in the output folder, by name."""
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def assert_valid_article(data: bytes) -> dict[str, Any]:
    """The file parses as YAML front matter with exactly the keys of FORMAT.md, in order."""
    text = data.decode("utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n")
    meta = parse_front_matter(text)
    assert list(meta) == FORMAT_KEYS
    assert all(isinstance(meta[k], str) for k in FORMAT_KEYS if k != "tags")
    assert isinstance(meta["tags"], list) and all(isinstance(t, str) for t in meta["tags"])
    assert "\n" not in meta["title"] and meta["title"].strip() == meta["title"]
    return meta
