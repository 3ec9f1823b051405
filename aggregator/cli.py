"""Command line: parses input, calls the library, formats output. No business logic here.

Exit codes: 0 the command did its work (a pass completed, even if some feeds failed);
1 it could not run (database unreachable, output folder not writable, schema behind);
2 bad configuration or usage.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from aggregator import __version__
from aggregator.config import load_settings
from aggregator.errors import AggregatorError, ConfigError
from aggregator.model import Settings
from aggregator.pipeline import FeedRunResult, RunResult

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
DEFAULT_CONFIG = "config/aggregator.toml"

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"aggregator: error: {message}", err=True)
    sys.exit(code)


def config_option(f: F) -> F:
    return click.option(
        "--config",
        "-c",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_CONFIG,
        show_default=True,
        envvar="AGGREGATOR_CONFIG",
        help="The TOML configuration file.",
    )(f)


def _settings(path: Path) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aggregator")
def cli() -> None:
    """Fetch RSS/Atom feeds and write each new entry once as a Markdown article file."""


@cli.command()
@config_option
@click.option("--all", "force", is_flag=True, help="Fetch every feed, due or not.")
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="NAME",
    help="Only this feed (name or URL); repeatable.",
)
def run(config_path: Path, force: bool, feeds: tuple[str, ...]) -> None:
    """Do one pass: fetch every due feed and write the new articles (the cron path)."""
    settings = _settings(config_path)
    from aggregator.wiring import open_pipeline

    async def go() -> RunResult:
        async with open_pipeline(settings) as pipeline:
            return await pipeline.run_pass(force=force, only=feeds or None)

    try:
        result = asyncio.run(go())
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)
    except AggregatorError as err:
        _fail(str(err), EXIT_FAILED)
    for feed in result.feeds:
        click.echo(format_feed_result(feed))
    click.echo(format_total(result))


def format_feed_result(r: FeedRunResult) -> str:
    status = f" (HTTP {r.http_status})" if r.http_status else ""
    if r.outcome == "error":
        return f"{r.name}: failed: {r.error_class}: {r.error_message}{status}"
    if r.outcome == "not_modified":
        return f"{r.name}: not modified{status}"
    return f"{r.name}: {r.new} new, {r.updated} updated{status}"


def format_total(result: RunResult) -> str:
    recovered = f", {result.recovered} recovered" if result.recovered else ""
    return (
        f"Total: {len(result.feeds)} feeds checked, {result.new} new articles, "
        f"{result.updated} updated, {result.failed} failed{recovered}"
    )


@cli.command()
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="config/demo.toml",
    show_default=True,
    help="The demo configuration.",
)
@click.option("--port", default=8765, show_default=True, help="Loopback port of the demo server.")
@click.option(
    "--feeds-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of sample feeds to serve [default: data/demo beside the config].",
)
def demo(config_path: Path, port: int, feeds_dir: Path | None) -> None:
    """Serve the bundled sample feeds on 127.0.0.1 and run one pass: no internet needed."""
    settings = _settings(config_path)
    folder = feeds_dir or config_path.resolve().parent.parent / "data" / "demo"
    if not folder.is_dir():
        _fail(f"no sample feeds in {folder}", EXIT_FAILED)
    from aggregator.demo import DemoServer
    from aggregator.wiring import open_pipeline

    async def go() -> RunResult:
        async with open_pipeline(settings) as pipeline:
            return await pipeline.run_pass(force=True)

    try:
        with DemoServer(folder, port):
            result = asyncio.run(go())
    except OSError as err:
        _fail(f"cannot serve the demo on 127.0.0.1:{port}: {err.strerror}", EXIT_FAILED)
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)
    except AggregatorError as err:
        _fail(str(err), EXIT_FAILED)
    for feed in result.feeds:
        click.echo(format_feed_result(feed))
    click.echo(format_total(result))
    click.echo(f"Articles are in {settings.output_dir}")


@cli.command("check-config")
@config_option
def check_config(config_path: Path) -> None:
    """Validate the configuration file and exit (0 valid, 2 invalid)."""
    settings = _settings(config_path)
    from aggregator.locales import load_labels

    try:
        load_labels(settings.site.language, settings.site.locales_dir)
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)
    click.echo(f"{config_path}: OK ({len(settings.feeds)} feeds; output {settings.output_dir})")


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path) -> None:
    """Create or migrate the database schema to this version (Alembic)."""
    settings = _settings(config_path)
    from aggregator.store import Store

    try:
        store = Store.open(settings.database_url)
        try:
            before = store.schema_state()
            store.upgrade()
        finally:
            store.close()
    except AggregatorError as err:
        _fail(str(err), EXIT_FAILED)
    click.echo(f"database schema: {before.value} -> current")


def main() -> None:
    cli()


__all__ = ["cli", "main"]
