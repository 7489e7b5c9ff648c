"""alert links

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Actions done through an alert's signed link: one row per (nonce, action), so a
link acknowledges or resolves at most once, with who, when, from where.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_link_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("target_tag", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalation.id"],
            name=op.f("fk_alert_link_use_escalation_id_escalation"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_alert_link_use_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_link_use")),
        sa.UniqueConstraint("nonce", "action", name=op.f("uq_alert_link_use_nonce")),
    )
    with op.batch_alter_table("alert_link_use", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_link_use_escalation_id"), ["escalation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_link_use", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_link_use_escalation_id"))
    op.drop_table("alert_link_use")
