"""sending configuration

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

The dispatcher lease names the Apprise file its holder sends with (path, owner,
SHA-256 of the content), and each outbox row the file its latest attempt went
out with, so every screen can say which configuration sent a page. NULL for
leases and rows written before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dispatcher_lease") as batch:
        batch.add_column(sa.Column("config_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("config_owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("config_sha256", sa.String(64), nullable=True))
    with op.batch_alter_table("outbox_notification") as batch:
        batch.add_column(sa.Column("config_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("config_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    # On SQLite batch mode rebuilds each table; db.migrate runs it with foreign keys
    # off and checks every reference before the transaction commits.
    with op.batch_alter_table("outbox_notification") as batch:
        batch.drop_column("config_sha256")
        batch.drop_column("config_path")
    with op.batch_alter_table("dispatcher_lease") as batch:
        batch.drop_column("config_sha256")
        batch.drop_column("config_owner")
        batch.drop_column("config_path")
