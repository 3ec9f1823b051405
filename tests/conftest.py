"""Fixtures shared by every test layer: the loopback server, the corpus, PostgreSQL."""

from __future__ import annotations

import atexit
import importlib.util
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.httpserver import LoopbackServer

REPO_ROOT = Path(__file__).resolve().parent.parent
NETGUARD = Path(__file__).resolve().parent / "netguard"


def _guard_name_resolution() -> Path:
    """Refuse and log DNS lookups here and in every child process (netguard/sitecustomize.py)."""
    log = Path(tempfile.mkstemp(prefix="aggregator-test-dns-", suffix=".log")[1])
    os.environ["AGGREGATOR_TEST_NETLOG"] = str(log)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = f"{NETGUARD}{os.pathsep}{path}" if path else str(NETGUARD)
    atexit.register(lambda: log.unlink(missing_ok=True))
    spec = importlib.util.spec_from_file_location("_netguard", NETGUARD / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # installs itself
    return log


DNS_LOG = _guard_name_resolution()


@pytest.fixture(autouse=True)
def _no_name_resolution() -> Iterator[None]:
    """Fail a test that looked up a name: tests talk only to 127.0.0.1 (the lookup itself
    was refused without leaving the machine)."""
    before = DNS_LOG.stat().st_size
    yield
    with DNS_LOG.open("rb") as f:
        f.seek(before)
        tried = f.read().decode(errors="replace").split()
    if tried:
        pytest.fail(f"name lookups beyond this machine: {sorted(set(tried[1::2]))}")


def corpus_dir() -> Path:
    """The third-party corpus: $AGGREGATOR_CORPUS, else ../shared/corpus beside the repo."""
    env = os.environ.get("AGGREGATOR_CORPUS")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared" / "corpus", Path("/work/shared/corpus")]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise RuntimeError(
        "the corpus is missing: set AGGREGATOR_CORPUS or put shared/ beside the repo"
    )


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as s:
        yield s


@pytest.fixture(scope="session")
def corpus() -> Path:
    return corpus_dir()


POSTGRESQL_URL_ENV = "AGGREGATOR_TEST_POSTGRESQL_URL"
DEFAULT_POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgresql_base_url() -> str | None:
    """The PostgreSQL server for tests, or None when there is none (skip; fail under CI)."""
    url = os.environ.get(POSTGRESQL_URL_ENV)
    required = bool(url) or bool(os.environ.get("CI"))
    url = url or DEFAULT_POSTGRESQL_URL
    try:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3):
            pass
    except Exception as err:
        if required:
            pytest.fail(f"PostgreSQL is required here but unreachable at {url}: {err}")
        return None
    return url


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh, empty schema on the test PostgreSQL server, dropped afterwards."""
    import uuid

    import psycopg

    base = postgresql_base_url()
    if base is None:
        pytest.skip(f"no PostgreSQL server (set {POSTGRESQL_URL_ENV})")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    dsn = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs against a real SQLite file and a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgresql_url"))
