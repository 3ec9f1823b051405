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

# The checkout under test: subprocesses import this tree's package, whatever is installed.
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
    daemon: Mapping[str, Any] | None = None,
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
    if daemon:
        lines += ["[daemon]"] + [f"{k} = {toml_value(v)}" for k, v in daemon.items()]
    for given in feeds:
        feed = {"fetch_page_image": False, **given}
        lines += ["[[feeds]]"] + [f"{k} = {toml_value(v)}" for k, v in feed.items()]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def subprocess_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child ``python -m aggregator``: this checkout first on the path."""
    full_env = {**os.environ, **(env or {})}
    if env is None or "AGGREGATOR_DATABASE_URL" not in env:
        # A developer's own setting must not redirect a test's database.
        full_env.pop("AGGREGATOR_DATABASE_URL", None)
    path = full_env.get("PYTHONPATH")
    full_env["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT)
    return full_env


def command(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "aggregator", *map(str, args)]


def aggregator(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aggregator ARGS`` as a subprocess and capture its output."""
    return subprocess.run(
        command(*args),
        cwd=cwd,
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_aggregator(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start ``python -m aggregator ARGS`` in the background; its stdout/stderr are piped."""
    return subprocess.Popen(
        command(*args),
        cwd=cwd,
        env=subprocess_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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
