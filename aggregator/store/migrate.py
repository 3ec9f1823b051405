"""Alembic, driven from code: the schema's version and ``upgrade``.

The migration scripts ship inside the package (``migrations/``), so ``aggregator db
upgrade`` works from an installed wheel without an ``alembic.ini`` in the working folder.
"""

from __future__ import annotations

import enum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaState(enum.StrEnum):
    EMPTY = "empty"  # no tables of ours: created on first use
    CURRENT = "current"
    BEHIND = "behind"  # needs `aggregator db upgrade`
    AHEAD = "ahead"  # written by a newer aggregator


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_state(engine: Engine) -> SchemaState:
    current = current_revision(engine)
    if current is None:
        return SchemaState.EMPTY if not inspect(engine).has_table("feeds") else SchemaState.BEHIND
    script = ScriptDirectory(str(MIGRATIONS))
    if current == script.get_current_head():
        return SchemaState.CURRENT
    known = {rev.revision for rev in script.walk_revisions()}
    return SchemaState.BEHIND if current in known else SchemaState.AHEAD


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


__all__ = [
    "SchemaState",
    "alembic_config",
    "current_revision",
    "head_revision",
    "schema_state",
    "upgrade",
]
