"""feeds.item_keys: the keys of the last document's items, to parse only new ones

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: existing feeds simply have no known items and are parsed whole
    # once, as before.
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("item_keys", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("item_keys")
