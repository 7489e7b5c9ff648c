"""seed the change marker row

Screens poll change_marker.counter to notice writes by other coordinators;
the single row must exist before anyone writes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_marker = sa.table(
    "change_marker",
    sa.column("id", sa.Integer),
    sa.column("counter", sa.Integer),
    sa.column("changed_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored naive-UTC on SQLite, as db.models does
    op.bulk_insert(_marker, [{"id": 1, "counter": 0, "changed_at": now}])


def downgrade() -> None:
    op.execute(_marker.delete().where(_marker.c.id == 1))
