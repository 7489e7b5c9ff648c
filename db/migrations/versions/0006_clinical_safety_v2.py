"""clinical safety v2

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Products record whether they are an exosome preparation (the granuloma watch
follows the products given, not the protocol's name). A triage keeps its lab
suggestions, the inputs it was missing, and the protocol and add-ons the
rules saw. Existing rows get empty lists and unknown (NULL) values: nothing
is invented about the past.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("product_given") as batch:
        batch.add_column(sa.Column("exosome", sa.Boolean(), nullable=True))
    with op.batch_alter_table("triage_assessment") as batch:
        batch.add_column(sa.Column("labs", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("needs", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("protocol", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("addons", sa.JSON(), nullable=False, server_default="[]"))
    # The defaults were only for the rows already there; the models set them.
    with op.batch_alter_table("triage_assessment") as batch:
        for column in ("labs", "needs", "addons"):
            batch.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("triage_assessment") as batch:
        batch.drop_column("addons")
        batch.drop_column("protocol")
        batch.drop_column("needs")
        batch.drop_column("labs")
    with op.batch_alter_table("product_given") as batch:
        batch.drop_column("exosome")
