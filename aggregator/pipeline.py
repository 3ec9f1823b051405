"""The orchestrator: claim due feeds, fetch, parse, extract, store, write.

Parsing, extraction and rendering (feedparser, BeautifulSoup, PyYAML, Babel) are imported
where they are used: a pass whose feeds all answer 304 never loads them (importing the
command and its wiring: 667 → 601 ms here, medians of 9), and the parse processes load
them once, in the forkserver.

All I/O happens here or below (fetcher, store, writer); every decision is a pure function
(``schedule.decide_next_check``, ``extract``, ``plan_updates``). One bad feed never stops a
pass: its failure becomes a ``FeedRunResult`` and is recorded in the store.

Exactly once: new entries are committed as *pending* with a lease, their files are written
atomically, then they are marked *written*. A process killed in between leaves pending rows
whose lease expires; the next pass (any worker) writes them (``recover_pending``).

Stopping (the daemon on SIGTERM): ``request_stop`` makes a pass claim no further feed and
abandons the fetches in flight; a feed whose fetch was abandoned is left due and unrecorded,
and its claim is released when the pass ends. Work after a fetch (store, write, mark
written) is short and is always finished.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from aggregator.errors import ErrorClass, FeedError, OutputError, ParseError
from aggregator.fetch import Fetcher
from aggregator.locales import Labels, load_labels
from aggregator.model import (
    Article,
    DaemonSettings,
    EntryForWrite,
    EntryStatus,
    FeedConfig,
    FeedForUpdate,
    FeedUpdateIntent,
    FetchRequest,
    FetchResult,
    FetchStatus,
    ParsedFeed,
    Rule,
    Settings,
    SiteSettings,
)
from aggregator.schedule import decide_next_check
from aggregator.store import NewEntry, Store, StoredEntry, identity_hash
from aggregator.write import ArticleWriter, content_sha256, file_name

if TYPE_CHECKING:
    from aggregator.metrics import Metrics

# How long a claim or a pending entry is ours before another worker may take it over
# (the defaults of ``[daemon] feed_lease_seconds`` and ``entry_lease_seconds``).
FEED_LEASE = timedelta(seconds=DaemonSettings().feed_lease_seconds)
ENTRY_LEASE = timedelta(seconds=DaemonSettings().entry_lease_seconds)
# A feed whose entries change on every poll stops being rewritten after this many rewrites.
MAX_REWRITES_PER_ENTRY = 5
# Entries taken from one feed document (POLITENESS_AND_SECURITY.md 2.12).
MAX_ENTRIES_PER_FEED = 500
# Parse processes start only when a batch of claimed feeds is at least this big.
POOL_MIN_BATCH = 8
# Threads for store calls and file writes (SQLite writes still queue on the store's lock).
STORE_THREADS = 4
# Poll outcomes recorded in one transaction.
RECORD_BATCH = 32

Clock = Callable[[], datetime]
T = TypeVar("T")


class _Stopped(Exception):
    """A fetch abandoned because the pipeline was asked to stop."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FeedRunResult:
    """What one pass did to one feed."""

    name: str
    url: str
    outcome: str  # "new", "unchanged", "not_modified", "error", "dry_run", "stopped"
    http_status: int | None = None
    new: int = 0
    updated: int = 0
    error_class: str | None = None
    error_message: str = ""
    would_write: tuple[str, ...] = ()  # with --dry-run: the files that would change
    seen: int = 0  # with --catchup: entries marked seen without a file


@dataclass(frozen=True, slots=True)
class RunResult:
    feeds: tuple[FeedRunResult, ...] = ()
    recovered: int = 0

    @property
    def new(self) -> int:
        return sum(f.new for f in self.feeds) + self.recovered

    @property
    def updated(self) -> int:
        return sum(f.updated for f in self.feeds)

    @property
    def failed(self) -> int:
        return sum(1 for f in self.feeds if f.outcome == "error")

    @property
    def seen(self) -> int:
        return sum(f.seen for f in self.feeds)


@dataclass(frozen=True, slots=True)
class Extracted:
    """The parse-and-extract stage's answer: picklable, so it can come from a worker process."""

    feed: ParsedFeed  # without its entries
    articles: tuple[Article, ...] = ()
    rendered: tuple[bytes, ...] = ()  # each article's file, rendered where it was extracted
    parsed_entries: int = 0  # entries feedparser read (items known before were not read)
    # Identities of the articles dated by the poll (no date of their own, or one too far
    # ahead): an update keeps the date they were first given.
    dated_by_poll: frozenset[str] = frozenset()
    error: FeedError | None = None


def parse_and_extract(
    body: bytes,
    url: str,
    headers: dict[str, str],
    source: FeedConfig,
    site: SiteSettings,
    labels: Labels,
    global_rules: tuple[Rule, ...],
    now: datetime,
    known_items: frozenset[bytes] | None = None,
    context: bytes = b"",
) -> Extracted:
    """Parse one document and extract every entry (runs in a worker process when given one).

    With ``known_items``, the items seen before under the same ``context`` are not parsed
    (``parse_feed``); the result's ``feed.item_keys`` are what to remember for next time.
    """
    # The extract package is imported lazily, by several threads at once: through the
    # package only (tests/unit/test_imports.py).
    from aggregator.extract import apply_rules, extract_article, own_instant
    from aggregator.parse import parse_feed
    from aggregator.render import render_article

    rules = (*global_rules, *source.rules)
    try:
        parsed = parse_feed(
            body,
            url=url,
            headers=headers,
            max_entries=MAX_ENTRIES_PER_FEED,
            known_items=known_items,
            context=context,
            # The rules are in ``context`` (extraction_context): so is this choice.
            categories=any("categories" in rule.fields for rule in rules),
        )
    except ParseError as err:
        return Extracted(ParsedFeed(url=url), error=err)
    articles: list[Article] = []
    dated_by_poll: set[str] = set()
    seen: set[str] = set()
    for entry in parsed.entries[:MAX_ENTRIES_PER_FEED]:
        article = extract_article(entry, parsed, source, site, labels, now=now)
        if article.identity in seen:  # a guid repeated inside one feed: first one wins
            continue
        seen.add(article.identity)
        kept = apply_rules(article, entry, rules)
        if kept is not None:
            articles.append(kept)
            if own_instant(entry, now) is None:
                dated_by_poll.add(kept.identity)
    rendered = tuple(render_article(a, labels).encode("utf-8") for a in articles)
    return Extracted(
        replace(parsed, entries=()),
        tuple(articles),
        rendered,
        parsed_entries=len(parsed.entries[:MAX_ENTRIES_PER_FEED]),
        dated_by_poll=frozenset(dated_by_poll),
    )


def extraction_context(
    source: FeedConfig, site: SiteSettings, labels: Labels, global_rules: tuple[Rule, ...]
) -> bytes:
    """Everything besides a feed item's bytes that decides its article and its file.

    Mixed into the items' keys: after a change of these settings (or of the program), every
    item of a changed feed is parsed and compared again, as a whole document was before.
    """
    from aggregator import __version__

    material = repr(
        (__version__, source.name, source.tags, source.rules, global_rules, site, labels)
    )
    return hashlib.sha256(material.encode()).digest()


def content_hash(article: Article) -> str:
    """What an upstream update is judged by: the extracted fields that reach the file.

    Computed on the article as extracted from the feed (before the page image is looked
    up and before stored editorial values are merged), so an unchanged entry hashes the same
    on every poll.
    """
    fields = [
        article.title,
        article.date.isoformat(),
        article.summary,
        article.source_url,
        list(article.tags),
        article.image_url,
        article.image_credit,
        article.importance,
    ]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


def alternative(article: Article, site: SiteSettings) -> Article:
    """The same article under a hash-suffixed slug, for when its file name is taken."""
    from aggregator.extract import make_permalink

    suffix = identity_hash(article.identity)[:8]
    slug = f"{article.slug[:71].rstrip('-')}-{suffix}".lstrip("-")
    return replace(
        article, slug=slug, permalink=make_permalink(site.permalink, article.local_date, slug)
    )


def new_entry(
    article: Article, site: SiteSettings, upstream_hash: str, status: EntryStatus
) -> NewEntry:
    """What the store is given for a new article: it and its file name, with the
    hash-suffixed alternative taken when another entry holds that name."""
    alt = alternative(article, site)
    return NewEntry(
        article=article,
        file_name=file_name(article),
        alt_article=alt,
        alt_file_name=file_name(alt),
        content_hash=upstream_hash,
        status=status,
    )


class Pipeline:
    """One configured ingester: build it once (``wiring.open_pipeline``), run passes."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        fetcher: Fetcher,
        writer: ArticleWriter,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        worker_id: str = "worker",
        executor_factory: Callable[[], Executor] | None = None,
        batch_size: int | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.writer = writer
        self.clock = clock
        self.rng = rng or random.Random()
        self.worker_id = worker_id
        self._executor_factory = executor_factory
        self._executor: Executor | None = None
        self._executor_wanted = False
        self.batch_size = batch_size or settings.daemon.batch_size
        self.feed_lease = timedelta(seconds=settings.daemon.feed_lease_seconds)
        self.entry_lease = timedelta(seconds=settings.daemon.entry_lease_seconds)
        self._stop = asyncio.Event()
        self.metrics = metrics
        self.labels = load_labels(settings.site.language, settings.site.locales_dir)
        self._sources = {f.url: f for f in settings.feeds}
        self._contexts: dict[str, bytes] = {}  # extraction_context of each source, by URL
        self._page_lookups: dict[str, asyncio.Future[str]] = {}
        # Store calls (and the file writes around them) get threads of their own: on the
        # loop's default executor they queued behind getaddrinfo calls of page-image
        # lookups, which can take seconds each on a slow resolver (measured: two thirds of
        # a first ingest's wall time, docs/performance.md).
        self._store_threads: ThreadPoolExecutor | None = None
        self._records: list[FeedUpdateIntent] = []

    # -- stopping -----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Claim nothing more and abandon the fetches in flight (call it on the loop)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def _unless_stopped(self, work: Awaitable[T]) -> T:
        """Await ``work``, unless a stop is requested first: then cancel it, raise _Stopped."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise _Stopped

    # -- a pass -------------------------------------------------------------------------------

    async def run_pass(
        self,
        *,
        force: bool = False,
        only: Iterable[str] | None = None,
        dry_run: bool = False,
        catchup: bool = False,
        progress: Callable[[FeedRunResult], None] | None = None,
    ) -> RunResult:
        """Fetch every due feed (``force``: every feed) once and write what is new.

        Paused feeds are never polled. ``dry_run`` claims nothing and records nothing: it
        reads which feeds are due, fetches them and reports the files it would write.
        """
        now = self.clock()
        wanted = None if only is None else set(only)
        keys = [
            f.url
            for f in self.settings.feeds
            if not f.paused and (wanted is None or f.name in wanted or f.url in wanted)
        ]
        if dry_run:
            return await self._dry_run(now, keys, force, progress)
        self.store.sync_feeds(self.settings.feeds, now=now)
        # Every configured feed is wanted: the store's in_config flag says the same, and a
        # claim need not carry 1,000 keys.
        claim_keys = None if len(keys) == len(self.settings.feeds) else keys
        recovered = await self.recover_pending()
        results: list[FeedRunResult] = []
        done: set[int] = set()
        in_flight: set[asyncio.Task[FeedRunResult]] = set()
        exhausted = False
        try:
            # Up to batch_size feeds in flight, topped up as they finish: a slow feed holds
            # one slot, not a whole batch (lock-step batches left the parse processes idle
            # while each batch waited for its slowest feed).
            while True:
                free = self.batch_size - len(in_flight)
                if self.stopping:
                    exhausted = True
                if not exhausted and free >= max(1, self.batch_size // 4):
                    claimed = await self._db(
                        self.store.claim_due_feeds,
                        now=self.clock(),
                        worker=self.worker_id,
                        lease=self.feed_lease,
                        limit=free,
                        keys=claim_keys,
                        force=force,
                        exclude_ids=done,
                    )
                    exhausted = not claimed
                    self._use_executor_for(len(claimed) + len(in_flight))
                    done.update(f.id for f in claimed)
                    in_flight.update(
                        asyncio.create_task(self.process_feed(f, catchup=catchup)) for f in claimed
                    )
                if not in_flight:
                    break
                finished, in_flight = await asyncio.wait(
                    in_flight, return_when=asyncio.FIRST_COMPLETED
                )
                for task in finished:
                    r = task.result()
                    results.append(r)
                    if progress is not None:
                        progress(r)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await self._flush_records()
            await self._db(self.store.release_claims, self.worker_id)
        return RunResult(tuple(results), recovered)

    async def _dry_run(
        self,
        now: datetime,
        keys: list[str],
        force: bool,
        progress: Callable[[FeedRunResult], None] | None,
    ) -> RunResult:
        # Feeds the store does not know yet (added to the configuration since the last
        # run) are due now; they are previewed without being inserted.
        known = {s.key for s in await self._db(self.store.feed_statuses)}
        due = await self._db(self.store.due_feeds, now=now, keys=keys, force=force)
        wanted = set(keys)
        due += [
            FeedForUpdate(id=0, key=f.url, url=f.url, name=f.name)
            for f in self.settings.feeds
            if f.url in wanted and f.url not in known
        ]
        results: list[FeedRunResult] = []
        for start in range(0, len(due), self.batch_size):
            batch = await asyncio.gather(
                *(self.process_feed(f, dry_run=True) for f in due[start : start + self.batch_size])
            )
            for r in batch:
                results.append(r)
                if progress is not None:
                    progress(r)
        return RunResult(tuple(results))

    async def recover_pending(self) -> int:
        """Write the entries some earlier process committed but did not finish writing."""
        total = 0
        while True:
            pending = await self._db(
                self.store.claim_pending_entries,
                now=self.clock(),
                lease=self.entry_lease,
                limit=500,
            )
            if not pending:
                return total
            total += len(await self._db(self._write_new, pending, None))

    # -- one feed -----------------------------------------------------------------------------

    async def process_feed(
        self, feed: FeedForUpdate, *, dry_run: bool = False, catchup: bool = False
    ) -> FeedRunResult:
        source = self._sources.get(feed.key) or FeedConfig(name=feed.name, url=feed.key)
        try:
            return await self._process(feed, source, dry_run=dry_run, catchup=catchup)
        except _Stopped:  # left due; the pass releases its claim
            return FeedRunResult(source.name, feed.url, "stopped")
        except OutputError:
            raise  # the output folder is broken: the whole run cannot go on
        except Exception as err:  # a bug on one feed's data must not stop the others
            now = self.clock()
            if not dry_run:
                decision = decide_next_check(
                    now=now,
                    interval_minutes=source.interval_minutes,
                    result=FetchResult(
                        FetchStatus.ERROR, feed.url, feed.url, error_class=ErrorClass.INTERNAL
                    ),
                    parsed=None,
                    error_class=ErrorClass.INTERNAL,
                    previous_failures=feed.consecutive_failures,
                    quiet_polls=feed.quiet_polls,
                    jitter=self.rng.random(),
                )
                await self._record(
                    FeedUpdateIntent(
                        feed_id=feed.id,
                        checked_at=now,
                        next_check_at=decision.next_check_at,
                        http_status=None,
                        ok=False,
                        consecutive_failures=decision.consecutive_failures,
                        quiet_polls=feed.quiet_polls,
                        error_class=ErrorClass.INTERNAL.value,
                        error_message=repr(err),
                    ),
                )
            return FeedRunResult(
                source.name,
                feed.url,
                "error",
                error_class=ErrorClass.INTERNAL.value,
                error_message=repr(err),
            )

    async def _process(
        self, feed: FeedForUpdate, source: FeedConfig, *, dry_run: bool, catchup: bool
    ) -> FeedRunResult:
        now = self.clock()  # the moment of the check: every decision of this poll uses it
        result = await self._unless_stopped(
            self.fetcher.fetch(
                FetchRequest(feed.url, etag=feed.etag, last_modified=feed.last_modified)
            )
        )
        if self.metrics is not None:
            self.metrics.record_fetch(result)
        if result.status is FetchStatus.ERROR:
            return await self._failed(
                feed,
                source,
                result,
                None,
                result.error_class or ErrorClass.INTERNAL,
                result.error_message,
                now,
                dry_run,
            )
        if result.status is FetchStatus.NOT_MODIFIED:
            return await self._succeeded(
                feed, source, result, None, "not_modified", now, dry_run=dry_run
            )
        body_hash = content_sha256(result.body)
        if body_hash == feed.body_hash and not catchup:
            # Same bytes as last time (servers without validators): nothing to parse.
            return await self._succeeded(
                feed, source, result, None, "unchanged", now, dry_run=dry_run
            )
        # Items seen in an earlier version of this document are not parsed again; a catch-up
        # parses everything (it marks the backlog seen) but still learns the items.
        known: frozenset[bytes] = frozenset()
        if feed.body_hash is not None and not catchup:
            known = await self._db(self.store.known_items, feed.id)
        started = time.perf_counter()
        extracted = await self._parse(result, source, now, known)
        if self.metrics is not None:
            self.metrics.record_parse(
                time.perf_counter() - started,
                parsed=extracted.parsed_entries,
                skipped=extracted.feed.skipped_items,
            )
        if extracted.error is not None:
            return await self._failed(
                feed,
                source,
                result,
                extracted.feed,
                extracted.error.error_class,
                extracted.error.message,
                now,
                dry_run,
            )
        stored = await self._db(self.store.stored_entries, [a.identity for a in extracted.articles])
        fresh = [a for a in extracted.articles if a.identity not in stored]
        # Catching up marks the backlog seen; it rewrites nothing either.
        changed = (
            []
            if catchup
            else plan_updates(extracted.articles, stored, feed.id, extracted.dated_by_poll)
        )
        if dry_run:
            names = [file_name(a) for a in fresh] + [s.file_name for s, _ in changed]
            return FeedRunResult(
                source.name,
                feed.url,
                "dry_run",
                result.http_status,
                new=len(fresh),
                updated=len(changed),
                would_write=tuple(names),
            )
        status = EntryStatus.SEEN if catchup else EntryStatus.PENDING
        # Page-image lookups of one feed run together; the fetcher's per-host limits keep
        # them polite to a publisher whose entries all lack images.
        ready = (
            fresh
            if catchup
            else await asyncio.gather(*(self._with_page_image(a, source, now) for a in fresh))
        )
        new_entries = [
            new_entry(a, self.settings.site, content_hash(orig), status)
            for a, orig in zip(ready, fresh, strict=True)
        ]
        inserted = await self._db(
            self.store.add_entries, feed.id, new_entries, now=now, lease=self.entry_lease
        )
        prerendered = {
            a.identity: (a, data)
            for a, data in zip(extracted.articles, extracted.rendered, strict=True)
        }
        # No trip to a store thread for nothing to do (a first ingest updates nothing).
        written = (
            await self._db(self._write_new, inserted, feed.id, prerendered) if inserted else []
        )
        updated = await self._db(self._apply_updates, changed, now) if changed else 0
        outcome = await self._succeeded(
            feed,
            source,
            result,
            extracted.feed,
            "new" if written else "unchanged",
            now,
            new=len(written),
            updated=updated,
            body_hash=body_hash,
            item_keys=extracted.feed.item_keys,
            dry_run=False,
        )
        return replace(outcome, seen=len(fresh)) if catchup else outcome

    async def _parse(
        self, result: FetchResult, source: FeedConfig, now: datetime, known: frozenset[bytes]
    ) -> Extracted:
        context = self._contexts.get(source.url)
        if context is None:
            context = extraction_context(
                source, self.settings.site, self.labels, self.settings.global_rules
            )
            self._contexts[source.url] = context
        args = (
            result.body,
            result.final_url,
            dict(result.headers),
            source,
            self.settings.site,
            self.labels,
            self.settings.global_rules,
            now,
            known,
            context,
        )
        if self._executor is None and self._executor_wanted:
            assert self._executor_factory is not None
            self._executor = self._executor_factory()
        if self._executor is None:
            # Off the event loop: a hostile 10 MB document takes seconds to parse, and the
            # other feeds' fetch deadlines must not run out meanwhile.
            return await asyncio.to_thread(parse_and_extract, *args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, parse_and_extract, *args)

    def _use_executor_for(self, batch_size: int) -> None:
        """Use parse processes once a batch is big enough to repay their start-up.

        Parsing holds the GIL (feedparser is pure Python on expat): done on the event loop's
        thread it starved the fetches and the write threads (measured: 18 ms a file write
        instead of 1 ms). In worker processes it runs on every core. They are started by
        the first document to parse, not here: a pass whose feeds all answer 304 parses
        nothing, and making the pool alone started multiprocessing's resource tracker (a
        second interpreter) and loaded the forkserver's modules.
        """
        if self._executor_factory is not None and batch_size >= POOL_MIN_BATCH:
            self._executor_wanted = True

    def close(self) -> None:
        """Stop the parse processes and the store threads, if any were started."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._store_threads is not None:
            self._store_threads.shutdown(wait=True)
            self._store_threads = None

    async def _record(self, intent: FeedUpdateIntent) -> None:
        """Queue a poll's outcome; they reach the store RECORD_BATCH at a time.

        A process killed before a flush loses only the outcome: the feed stays claimed
        until its lease runs out, then is polled again (a 304, or entries already stored).
        """
        self._records.append(intent)
        if len(self._records) >= RECORD_BATCH:
            await self._flush_records()

    async def _flush_records(self) -> None:
        batch, self._records = self._records, []
        if batch:
            # Shielded: a feed task cancelled by a stop must not drop the batch it took.
            await asyncio.shield(self._db(self.store.record_polls, batch))

    async def _db(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``asyncio.to_thread`` on the store's own threads."""
        if self._store_threads is None:
            self._store_threads = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="store")
        call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._store_threads, call)

    async def _with_page_image(
        self, article: Article, source: FeedConfig, now: datetime
    ) -> Article:
        """Look for og:image on the article page when the feed gave no image (cached)."""
        if article.image_url or not source.fetch_page_image or not article.source_url:
            return article
        found = await self._page_image(article.source_url, now)
        if not found:
            return article
        credit = self.settings.site.image_credit or self.labels.image_credit_template
        return replace(
            article,
            image_url=found,
            image_credit=credit.replace("{sourceUrl}", article.source_url),
        )

    async def _page_image(self, url: str, now: datetime) -> str:
        """The page's og:image: from the store's cache, else fetched once per process.

        Two feeds of one batch may carry the same story; the lookup in flight is shared so
        the page is requested once. Later runs (and other workers) read the store's cache.
        """
        pending = self._page_lookups.get(url)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup_page_image(url, now))
            self._page_lookups[url] = pending
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done():
                self._page_lookups.pop(url, None)

    async def _lookup_page_image(self, url: str, now: datetime) -> str:
        cached = await self._db(self.store.cached_page_image, url)
        if cached is not None:
            return cached
        from aggregator.extract import find_page_image

        page = await self._unless_stopped(self.fetcher.fetch_page(url))
        image = find_page_image(page.body, page.final_url) if page.status is FetchStatus.OK else ""
        await self._db(self.store.cache_page_image, url, image, now=now)
        return image

    # -- writing ------------------------------------------------------------------------------

    def _write_new(
        self,
        entries: Sequence[EntryForWrite],
        feed_id: int | None,
        prerendered: Mapping[str, tuple[Article, bytes]] | None = None,
    ) -> list[int]:
        """Write pending entries' files durably, then mark them written; return their ids."""
        from aggregator.render import render_article

        started = time.perf_counter()
        files: list[tuple[int, str, bytes]] = []
        for entry in entries:
            article, name = entry.article, entry.file_name
            ready = (prerendered or {}).get(entry.identity)
            if ready is not None and ready[0] == article:
                data = ready[1]
            else:
                data = render_article(article, self.labels).encode("utf-8")
            on_disk = self.writer.read(name)
            if on_disk is not None and on_disk != data:
                # Someone else's file (or a planted symlink) holds our name: never
                # overwrite it; take the hash-suffixed name instead.
                alt = alternative(article, self.settings.site)
                alt_name = file_name(alt)
                if self.writer.exists(alt_name) or not self.store.rename_entry(
                    entry.id, alt_name, alt
                ):
                    continue
                article, name = alt, alt_name
                data = render_article(article, self.labels).encode("utf-8")
            files.append((entry.id, name, data))
        digests = self.writer.write_many([(name, data) for _, name, data in files])
        done = [(entry_id, digest) for (entry_id, _, _), digest in zip(files, digests, strict=True)]
        self.store.mark_written(done, now=self.clock(), feed_id=feed_id)
        if self.metrics is not None and done:
            self.metrics.record_written(len(done), time.perf_counter() - started)
        return [entry_id for entry_id, _ in done]

    def _apply_updates(self, changed: Sequence[tuple[StoredEntry, Article]], now: datetime) -> int:
        """Rewrite files whose entry changed upstream, unless an editor changed the file."""
        from aggregator.render import render_article

        rewritten = 0
        for stored, extracted in changed:
            new_hash = content_hash(extracted)
            old = stored.article
            article = replace(
                extracted,
                slug=old.slug,
                permalink=old.permalink,
                importance=old.importance or extracted.importance,
            )
            if not article.image_url and old.image_url:  # keep an image found on the page
                article = replace(article, image_url=old.image_url, image_credit=old.image_credit)
            on_disk = self.writer.read(stored.file_name)
            ours = on_disk is not None and content_sha256(on_disk) == stored.rendered_hash
            if not ours or stored.rewrites >= MAX_REWRITES_PER_ENTRY:
                self.store.update_entry(
                    stored.id,
                    article=stored.article,
                    content_hash=new_hash,
                    rendered_hash=None,
                    now=now,
                    rewritten=False,
                )
                continue
            data = render_article(article, self.labels).encode("utf-8")
            digest = self.writer.write(stored.file_name, data)
            self.store.update_entry(
                stored.id,
                article=article,
                content_hash=new_hash,
                rendered_hash=digest,
                now=now,
                rewritten=True,
            )
            rewritten += 1
        return rewritten

    # -- recording ----------------------------------------------------------------------------

    async def _succeeded(
        self,
        feed: FeedForUpdate,
        source: FeedConfig,
        result: FetchResult,
        parsed: ParsedFeed | None,
        outcome: str,
        now: datetime,
        *,
        new: int = 0,
        updated: int = 0,
        body_hash: str | None = None,
        item_keys: tuple[bytes, ...] | None = None,
        dry_run: bool,
    ) -> FeedRunResult:
        quiet = 0 if new else feed.quiet_polls + 1
        decision = decide_next_check(
            now=now,
            interval_minutes=source.interval_minutes,
            result=result,
            parsed=parsed,
            error_class=None,
            previous_failures=feed.consecutive_failures,
            quiet_polls=quiet,
            jitter=self.rng.random(),
        )
        # Validators are replaced only after a 200 whose body parsed (or a 304 that sends
        # new ones); never cleared.
        replace_validators = parsed is not None or result.status is FetchStatus.NOT_MODIFIED
        new_url = result.permanent_url if parsed is not None else None
        if not dry_run:
            await self._record(
                FeedUpdateIntent(
                    feed_id=feed.id,
                    checked_at=now,
                    next_check_at=decision.next_check_at,
                    http_status=result.http_status,
                    ok=True,
                    consecutive_failures=0,
                    quiet_polls=quiet,
                    etag=result.etag if replace_validators else None,
                    last_modified=result.last_modified if replace_validators else None,
                    body_hash=body_hash,
                    item_keys=item_keys,
                    new_url=new_url,
                ),
            )
        return FeedRunResult(
            source.name, feed.url, outcome, result.http_status, new=new, updated=updated
        )

    async def _failed(
        self,
        feed: FeedForUpdate,
        source: FeedConfig,
        result: FetchResult,
        parsed: ParsedFeed | None,
        error_class: ErrorClass,
        message: str,
        now: datetime,
        dry_run: bool,
    ) -> FeedRunResult:
        decision = decide_next_check(
            now=now,
            interval_minutes=source.interval_minutes,
            result=result,
            parsed=parsed,
            error_class=error_class,
            previous_failures=feed.consecutive_failures,
            quiet_polls=feed.quiet_polls,
            jitter=self.rng.random(),
        )
        if not dry_run:
            await self._record(
                FeedUpdateIntent(
                    feed_id=feed.id,
                    checked_at=now,
                    next_check_at=decision.next_check_at,
                    http_status=result.http_status,
                    ok=False,
                    consecutive_failures=decision.consecutive_failures,
                    quiet_polls=feed.quiet_polls,
                    retired=decision.retired,
                    error_class=error_class.value,
                    error_message=message,
                ),
            )
        return FeedRunResult(
            source.name,
            feed.url,
            "error",
            result.http_status,
            error_class=error_class.value,
            error_message=message,
        )


def plan_updates(
    articles: Sequence[Article],
    stored: dict[str, StoredEntry],
    feed_id: int,
    dated_by_poll: frozenset[str] = frozenset(),
) -> list[tuple[StoredEntry, Article]]:
    """Entries of this feed whose upstream content changed since they were stored.

    An entry first stored through another feed is left alone, so the same story in two
    feeds does not flap between their tags. An article dated by the poll (``dated_by_poll``:
    the entry has no date of its own) keeps the date it was first stored with: the time of
    a later poll is no change upstream.
    """
    changed = []
    for extracted in articles:
        s = stored.get(extracted.identity)
        if s is None or s.feed_id != feed_id or s.status is not EntryStatus.WRITTEN:
            continue
        article = extracted
        if extracted.identity in dated_by_poll:
            article = replace(
                extracted,
                date=s.article.date,
                published_date=s.article.published_date,
                local_date=s.article.local_date,
            )
        if s.content_hash != content_hash(article):
            changed.append((s, article))
    return changed


__all__ = [
    "Extracted",
    "FeedRunResult",
    "Pipeline",
    "RunResult",
    "content_hash",
    "extraction_context",
    "new_entry",
    "parse_and_extract",
    "plan_updates",
    "utcnow",
]
