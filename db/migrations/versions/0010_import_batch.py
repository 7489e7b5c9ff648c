"""import batch

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

A patient written by a chunked import carries the import's batch until the
import is published, so search, the queue and every other read can leave it
out (an unpublished import is not yet in the clinic's records) and a later
import can remove what one cut short left. NULL for every existing patient.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("import_batch", sa.String(32), nullable=True))
        batch.create_index("ix_patient_import_batch", ["import_batch"])


def downgrade() -> None:
    # On SQLite batch mode rebuilds the table; db.migrate runs it with foreign
    # keys off and checks every reference before the transaction commits.
    with op.batch_alter_table("patient") as batch:
        batch.drop_index("ix_patient_import_batch")
        batch.drop_column("import_batch")
