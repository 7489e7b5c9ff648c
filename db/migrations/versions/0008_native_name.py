"""native name

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

A patient's name in their own script (山本 さくら) beside the Latin passport
name. NULL = not recorded: no existing patient has one, so nothing is filled.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("native_name", sa.String(200), nullable=True))


def downgrade() -> None:
    # On SQLite batch mode rebuilds the table; db.migrate runs it with foreign
    # keys off and checks every reference before the transaction commits.
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("native_name")
