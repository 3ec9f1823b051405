"""Engine construction: the only place that knows SQLite from PostgreSQL.

SQLite: WAL (readers never block the writer), a busy timeout, foreign keys, and every
transaction opened with ``BEGIN IMMEDIATE``. Python's default deferred ``BEGIN`` lets a
transaction that read first fail at once with "database is locked" when it tries to write
after another connection committed (SQLITE_BUSY_SNAPSHOT ignores the busy timeout):
POLITENESS_AND_SECURITY.md 2.10 measured 438/600 failures deferred, 0 immediate.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from aggregator.errors import StoreError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_lock key of schema changes ("aggregat" in ASCII).
_PG_SCHEMA_LOCK = 0x6167677265676174


def create_engine_for_url(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StoreError(f"invalid database URL: {err}") from err
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)
        except ModuleNotFoundError as err:
            raise StoreError(
                "PostgreSQL needs psycopg: pip install 'aggregator[postgresql]'"
            ) from err
    raise StoreError(f"unsupported database {backend!r}: use sqlite or postgresql")


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event below emit BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _enter_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _enter_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent: a no-op once done).

    Connections opening one new file together race to switch it, and the losers get
    "database is locked" at once: SQLite does not run the busy handler there (seen in 11
    of 60 trials of four stores starting together on a loaded machine). Retry like the
    busy handler would, for as long.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.1)


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Serialise schema creation between processes (several starting on one empty database).

    PostgreSQL: a session advisory lock. SQLite: an exclusive ``flock`` on ``<file>.lock``
    (a write transaction cannot serve: the migration itself needs the one writer slot).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_SCHEMA_LOCK})")
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_SCHEMA_LOCK})")
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


__all__ = ["create_engine_for_url", "schema_lock"]
