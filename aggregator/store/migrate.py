"""Alembic, driven from code: the schema's version and ``upgrade``.

The migration scripts ship inside the package (``migrations/``), so ``aggregator db
upgrade`` works from an installed wheel without an ``alembic.ini`` in the working folder.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision in migrations/versions (a test keeps it equal to Alembic's head):
# checking a database's version then needs no Alembic import, which is a third of the
# command's start-up. Alembic itself is imported only to migrate.
HEAD_REVISION = "0002"
# Every revision this version knows, oldest first.
KNOWN_REVISIONS = ("0001", "0002")


class SchemaState(enum.StrEnum):
    EMPTY = "empty"  # no tables of ours: created on first use
    CURRENT = "current"
    BEHIND = "behind"  # needs `aggregator db upgrade`
    AHEAD = "ahead"  # written by a newer aggregator


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """Alembic's own view of the newest revision (slow: reads every script)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def schema_state(engine: Engine) -> SchemaState:
    current = current_revision(engine)
    if current is None:
        return SchemaState.EMPTY if not inspect(engine).has_table("feeds") else SchemaState.BEHIND
    if current == HEAD_REVISION:
        return SchemaState.CURRENT
    return SchemaState.BEHIND if current in KNOWN_REVISIONS else SchemaState.AHEAD


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


__all__ = [
    "SchemaState",
    "alembic_config",
    "current_revision",
    "head_revision",
    "schema_state",
    "upgrade",
]
