"""Command line: parses input, calls the library, formats output. No business logic here.

Exit codes: 0 the command did its work (a pass completed, even if some feeds failed);
1 it could not run (database unreachable, output folder not writable, schema behind);
2 bad configuration or usage.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from aggregator import __version__
from aggregator.config import load_settings
from aggregator.errors import AggregatorError, ConfigError
from aggregator.model import Settings

if TYPE_CHECKING:  # the pipeline pulls in feedparser, SQLAlchemy...: only the commands need it
    from aggregator.pipeline import FeedRunResult, RunResult

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
DEFAULT_CONFIG = "config/aggregator.toml"

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"aggregator: error: {message}", err=True)
    sys.exit(code)


def started() -> None:
    """Call once a command has imported what it runs with, before it starts working.

    Everything made so far (modules, classes, the settings) lives as long as the process,
    yet each full collection, and the collections the interpreter runs at exit, walked it
    all again: SQLAlchemy, httpx and the rest, about 50,000 tracked objects. Frozen,
    the collector never looks at them (an unchanged re-poll of 1,000 feeds: 0.1 s less,
    most of it at exit; docs/performance.md).
    """
    gc.freeze()


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
@click.option(
    "--dry-run",
    is_flag=True,
    help="Fetch, and print the files that would be created or changed; write nothing.",
)
@click.option(
    "--catchup",
    is_flag=True,
    help="Mark every entry the feeds list now as seen, without writing files.",
)
@click.option("--verbose", "-v", is_flag=True, help="One line per feed, not only failures.")
def run(
    config_path: Path,
    force: bool,
    feeds: tuple[str, ...],
    dry_run: bool,
    catchup: bool,
    verbose: bool,
) -> None:
    """Do one pass: fetch every due feed and write the new articles (the cron path).

    On a terminal a progress bar is shown; otherwise (cron) only failures and the total
    are printed, unless --verbose.
    """
    if dry_run and catchup:
        raise click.UsageError("--dry-run and --catchup cannot be used together")
    settings = _settings(config_path)
    _check_feed_names(settings, feeds)
    from aggregator.wiring import open_pipeline

    started()

    selected = [
        f
        for f in settings.feeds
        if not f.paused and (not feeds or f.name in feeds or f.url in feeds)
    ]
    bar = click.progressbar(length=len(selected), label="Feeds") if show_progress() else None

    def progress(_result: FeedRunResult) -> None:
        if bar is not None:
            bar.update(1)

    async def go() -> RunResult:
        async with open_pipeline(settings, dry_run=dry_run) as pipeline:
            return await pipeline.run_pass(
                force=force,
                only=feeds or None,
                dry_run=dry_run,
                catchup=catchup,
                progress=progress,
            )

    try:
        if bar is not None:
            with bar:
                result = asyncio.run(go())
        else:
            result = asyncio.run(go())
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)
    except AggregatorError as err:
        _fail(str(err), EXIT_FAILED)
    for feed in result.feeds:
        if verbose or dry_run or feed.outcome == "error":
            click.echo(format_feed_result(feed))
        for name in feed.would_write:
            click.echo(f"  would write {name}")
    if dry_run:
        files = sum(len(f.would_write) for f in result.feeds)
        click.echo(
            f"Dry run: {len(result.feeds)} feeds checked, {files} files would be written, "
            f"{result.failed} failed; nothing was written"
        )
    elif catchup:
        click.echo(
            f"Catch-up: {len(result.feeds)} feeds checked, {result.seen} entries marked seen "
            f"without files, {result.failed} failed"
        )
    else:
        click.echo(format_total(result))


def show_progress(stream: IO[Any] | None = None) -> bool:
    """A progress bar only for a person watching: stdout is a terminal (not cron, not a pipe)."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _check_feed_names(settings: Settings, wanted: tuple[str, ...]) -> None:
    known = {f.name for f in settings.feeds} | {f.url for f in settings.feeds}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        _fail(
            f"{settings.config_path}: no feed named or with URL {unknown[0]!r} "
            "(see `aggregator feeds list`)",
            EXIT_CONFIG,
        )
    for f in settings.feeds:
        if f.paused and (f.name in wanted or f.url in wanted):
            click.echo(
                f"aggregator: note: {f.name!r} is paused, not polled "
                f"(`aggregator feeds resume {f.name!r}`)",
                err=True,
            )


def format_feed_result(r: FeedRunResult) -> str:
    status = f" (HTTP {r.http_status})" if r.http_status else ""
    if r.outcome == "error":
        return f"{r.name}: failed: {r.error_class}: {r.error_message}{status}"
    if r.outcome == "not_modified":
        return f"{r.name}: not modified{status}"
    if r.outcome == "dry_run":
        return f"{r.name}: would write {r.new} new, {r.updated} updated{status}"
    if r.seen:
        return f"{r.name}: {r.seen} marked seen{status}"
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


@cli.command()
@config_option
@click.option(
    "--log-format",
    type=click.Choice(["human", "json"]),
    default="human",
    show_default=True,
    help="Logs on stderr: human-readable lines, or one JSON object per line.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def daemon(config_path: Path, log_format: str, log_level: str) -> None:
    """Run until stopped, checking due feeds every tick ([daemon] tick_seconds).

    SIGTERM or SIGINT: finish the writes in flight, release claims, exit 0.
    SIGHUP: reload the configuration (a bad one is refused and the old one kept).
    """
    import logging

    from aggregator.daemon import run_daemon
    from aggregator.log import configure_logging, log_event

    started()
    configure_logging(log_format, log_level)
    logger = logging.getLogger("aggregator.daemon")
    code = EXIT_OK
    try:
        settings = load_settings(config_path)
        asyncio.run(run_daemon(config_path, settings))
    except ConfigError as err:
        log_event(logger, logging.ERROR, "cannot start", error=str(err))
        code = EXIT_CONFIG
    except AggregatorError as err:
        log_event(logger, logging.ERROR, "cannot start", error=str(err))
        code = EXIT_FAILED
    sys.exit(code)


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


# -- the feed list (the configuration file is its one source of truth) ----------------------


@cli.group()
def feeds() -> None:
    """List and edit the feeds of the configuration file (comments are kept)."""


@feeds.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def feeds_list(config_path: Path, as_json: bool) -> None:
    """Print the configured feeds: name, URL, tags, paused."""
    settings = _settings(config_path)
    rows = [
        {"name": f.name, "url": f.url, "tags": list(f.tags), "paused": f.paused}
        for f in settings.feeds
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"No feeds in {config_path}: add one with `aggregator feeds add URL`.")
        return
    table = [
        [f.name, f.url, ", ".join(f.tags), "paused" if f.paused else ""] for f in settings.feeds
    ]
    click.echo(format_table(["NAME", "URL", "TAGS", "PAUSED"], table))


@feeds.command("add")
@config_option
@click.argument("url")
@click.option("--name", default="", help="Display name [default: the URL's host].")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag; repeatable.")
def feeds_add(config_path: Path, url: str, name: str, tags: tuple[str, ...]) -> None:
    """Add the feed at URL to the configuration file."""
    from aggregator.config_edit import add_feeds
    from aggregator.opml import OpmlFeed

    _settings(config_path)  # never edit a file that does not load
    try:
        report = add_feeds(config_path, [OpmlFeed(name=name, url=url, tags=tags)])
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)
    _settings(config_path)
    if report.added:
        for asked, written in report.renamed:
            click.echo(f"name {asked!r} is taken: added as {written!r}")
        click.echo(f"added {report.added[0]!r} ({url}) to {config_path}")
    else:
        click.echo(f"{url} is already in {config_path}: nothing changed")


@feeds.command("remove")
@config_option
@click.argument("name")
def feeds_remove(config_path: Path, name: str) -> None:
    """Remove feed NAME (or URL) from the configuration; its history stays in the database."""
    from aggregator.config_edit import remove_feed

    _settings(config_path)
    try:
        remove_feed(config_path, name)
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)
    click.echo(f"removed {name!r} from {config_path}")


@feeds.command("pause")
@config_option
@click.argument("name")
def feeds_pause(config_path: Path, name: str) -> None:
    """Stop polling feed NAME (or URL), keeping it in the configuration."""
    _set_paused(config_path, name, True)


@feeds.command("resume")
@config_option
@click.argument("name")
def feeds_resume(config_path: Path, name: str) -> None:
    """Poll feed NAME (or URL) again."""
    _set_paused(config_path, name, False)


def _set_paused(config_path: Path, name: str, paused: bool) -> None:
    from aggregator.config_edit import set_paused

    _settings(config_path)
    try:
        changed = set_paused(config_path, name, paused)
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)
    state = "paused" if paused else "resumed"
    click.echo(f"{name!r} {state}" if changed else f"{name!r} was already {state}")


@cli.command("import-opml")
@config_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_opml(config_path: Path, file: Path) -> None:
    """Add the feeds of an OPML FILE to the configuration (folders and categories become tags).

    Feeds already configured (same URL) are not added twice; outlines that are not feeds
    are skipped and listed with the reason. All or nothing: on an error the configuration
    is left as it was.
    """
    from aggregator.config_edit import add_feeds
    from aggregator.opml import OpmlError, read_opml

    _settings(config_path)
    try:
        data = file.read_bytes()
    except OSError as err:
        _fail(f"{file}: cannot read: {err.strerror or err}", EXIT_CONFIG)
    try:
        found = read_opml(data, source=str(file))
    except OpmlError as err:
        _fail(str(err), EXIT_CONFIG)
    try:
        report = add_feeds(config_path, found.feeds)
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)
    _settings(config_path)
    for warning in found.warnings:
        click.echo(f"warning: {file}: {warning}")
    for skipped in found.skipped:
        click.echo(f"skipped: {skipped.outline}: {skipped.reason}")
    for url in report.already_present:
        click.echo(f"already present: {url}")
    for asked, written in report.renamed:
        click.echo(f"renamed: {asked!r} -> {written!r} (name taken)")
    click.echo(
        f"{file}: {len(report.added)} added, {len(report.already_present)} already present, "
        f"{len(found.skipped)} skipped"
    )


@cli.command("export-opml")
@config_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file [default: standard output].",
)
def export_opml(config_path: Path, output: Path | None) -> None:
    """Write the configured feeds as OPML 2.0 (for another reader, or a backup)."""
    from aggregator.opml import write_opml

    settings = _settings(config_path)
    data = write_opml(settings.feeds)
    if output is None:
        click.echo(data, nl=False)
        return
    try:
        output.write_bytes(data)
    except OSError as err:
        _fail(f"{output}: cannot write: {err.strerror or err}", EXIT_FAILED)
    click.echo(f"{len(settings.feeds)} feeds written to {output}", err=True)


# -- status and rebuild -----------------------------------------------------------------------

_SORTS = ("name", "last-success", "next-check", "failures", "articles")


@cli.command()
@config_option
@click.option(
    "--sort",
    type=click.Choice(_SORTS),
    default="name",
    show_default=True,
    help="Order of the rows (failures and articles: most first; times: oldest first).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(config_path: Path, sort: str, as_json: bool) -> None:
    """Show every feed's state from the database: last success, next check, failures."""
    settings = _settings(config_path)
    from aggregator.store import SchemaState, Store

    if _missing_sqlite_file(settings.database_url):
        click.echo("No database yet: nothing has run. Start with `aggregator run`.")
        return
    try:
        store = Store.open(settings.database_url)
        try:
            state = store.schema_state()
            rows = store.feed_statuses() if state is SchemaState.CURRENT else []
        finally:
            store.close()
    except AggregatorError as err:
        _fail(str(err), EXIT_FAILED)
    if state is SchemaState.BEHIND:
        _fail("the database schema is behind: run `aggregator db upgrade` first", EXIT_FAILED)
    if not rows:
        click.echo("No feeds in the database yet: nothing has run. Start with `aggregator run`.")
        return
    paused = {f.url for f in settings.feeds if f.paused}
    records = [_status_record(r, r.key in paused) for r in rows]
    records.sort(key=_status_sort_key(sort))
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    table = [
        [
            r["name"],
            r["state"],
            r["last_success"] or "never",
            r["next_check"] or "-",
            str(r["consecutive_failures"]),
            r["last_error_class"] or "",
            str(r["articles_written"]),
        ]
        for r in records
    ]
    headers = ["NAME", "STATE", "LAST SUCCESS", "NEXT CHECK", "FAILURES", "LAST ERROR", "ARTICLES"]
    click.echo(format_table(headers, table))


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _status_record(r: Any, paused: bool) -> dict[str, Any]:
    if not r.in_config:
        state = "removed"
    elif r.retired:
        state = "retired"
    elif paused:
        state = "paused"
    elif r.consecutive_failures:
        state = "failing"
    else:
        state = "ok"
    return {
        "name": r.name,
        "url": r.url,
        "state": state,
        "last_success": _iso(r.last_success_at),
        "last_checked": _iso(r.last_checked_at),
        "next_check": _iso(r.next_check_at),
        "consecutive_failures": r.consecutive_failures,
        "last_status": r.last_status,
        "last_error_class": r.last_error_class,
        "last_error_message": r.last_error_message,
        "articles_written": r.articles_written,
    }


def _status_sort_key(sort: str) -> Callable[[dict[str, Any]], Any]:
    def key(r: dict[str, Any]) -> Any:
        name = r["name"].casefold()
        if sort == "last-success":  # never succeeded first, then oldest success
            return (r["last_success"] is not None, r["last_success"] or "", name)
        if sort == "next-check":
            return (r["next_check"] is None, r["next_check"] or "", name)
        if sort == "failures":
            return (-r["consecutive_failures"], name)
        if sort == "articles":
            return (-r["articles_written"], name)
        return (name,)

    return key


def _missing_sqlite_file(url: str) -> bool:
    """True for a SQLite URL whose file does not exist (opening it would create it)."""
    if not url.startswith("sqlite") or "://" not in url:
        return False
    path = url.split("://", 1)[1].split("?", 1)[0]
    if path in ("", "/", "/:memory:"):
        return False
    return not Path(path[1:] if path.startswith("//") else path).exists()


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


@cli.command()
@config_option
def rebuild(config_path: Path) -> None:
    """Re-render every written article with the current settings; fetch nothing.

    For after a change of language, labels, credit template or permalink pattern. Files an
    editor changed since we wrote them are left alone and listed.
    """
    settings = _settings(config_path)
    from aggregator.rebuild import rebuild as rebuild_articles
    from aggregator.wiring import open_store
    from aggregator.write import ArticleWriter

    if _missing_sqlite_file(settings.database_url):
        click.echo("No database yet: nothing to rebuild.")
        return
    try:
        store = open_store(settings)
        writer = ArticleWriter(settings.output_dir)
        try:
            report = rebuild_articles(store, writer, settings)
        finally:
            writer.close()  # removes its staging folder once empty
            store.close()
    except ConfigError as err:
        _fail(str(err), EXIT_CONFIG)
    except AggregatorError as err:
        _fail(str(err), EXIT_FAILED)
    for name in report.edited:
        click.echo(f"left alone (changed by an editor): {name}")
    for name in report.missing:
        click.echo(f"missing (deleted since written; not recreated): {name}")
    click.echo(
        f"Rebuild: {report.total} articles, {report.rewritten} rewritten, "
        f"{report.unchanged} unchanged, {len(report.edited)} left alone (edited), "
        f"{len(report.missing)} missing"
    )


def main() -> None:
    cli()


__all__ = ["cli", "main"]
