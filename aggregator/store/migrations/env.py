"""Alembic environment: runs on the engine the caller put in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from aggregator.store.schema import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
