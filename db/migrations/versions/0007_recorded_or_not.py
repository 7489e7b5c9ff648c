"""recorded or not

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

An episode can now say that something was never asked, apart from "no".
Vasovagal history and sensitive skin become nullable (NULL = not recorded);
`has_allergies` says whether allergies were asked about (False = none known);
`products_recorded` and `addons_recorded` tell an empty list that was
recorded as empty from one nobody filled in.

The past is not invented: imported (non-demo) episodes lose the "no" the old
NOT NULL default wrote for them, since nobody ever answered it; a flag is set
only where the stored data shows it (allergy text, a product row, an add-on).
Demo episodes were generated with every answer, so they stay recorded.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_HISTORY = ("vasovagal_history", "sensitive_skin")
_FLAGS = ("has_allergies", "products_recorded", "addons_recorded")

_patient = sa.table("patient", sa.column("id", sa.Integer), sa.column("is_demo", sa.Boolean))
_product = sa.table("product_given", sa.column("episode_id", sa.Integer))
_episode = sa.table(
    "treatment_episode",
    sa.column("id", sa.Integer),
    sa.column("patient_id", sa.Integer),
    sa.column("allergies", sa.Text),
    sa.column("addons", sa.JSON),
    *(sa.column(name, sa.Boolean) for name in (*_HISTORY, *_FLAGS)),
)


def upgrade() -> None:
    # On SQLite batch mode rebuilds the table; db.migrate runs it with foreign
    # keys off and checks every reference before the transaction commits.
    with op.batch_alter_table("treatment_episode") as batch:
        for name in _HISTORY:
            batch.alter_column(name, existing_type=sa.Boolean(), nullable=True)
        for name in _FLAGS:
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=True))
    _fill()


def _fill() -> None:
    demo_ids = sa.select(_patient.c.id).where(_patient.c.is_demo.is_(True))
    demo = _episode.c.patient_id.in_(demo_ids)
    imported = _episode.c.patient_id.not_in(demo_ids)
    has_text = sa.and_(_episode.c.allergies.is_not(None), _episode.c.allergies != "")
    has_products = sa.exists().where(_product.c.episode_id == _episode.c.id)
    run = op.get_bind().execute
    # Nobody answered these for an imported patient: the False was the default's.
    run(_episode.update().where(imported).values(vasovagal_history=None, sensitive_skin=None))
    run(_episode.update().where(has_text).values(has_allergies=True))
    run(_episode.update().where(demo, sa.not_(has_text)).values(has_allergies=False))
    run(_episode.update().where(sa.or_(demo, has_products)).values(products_recorded=True))
    run(_episode.update().where(demo).values(addons_recorded=True))
    # JSON emptiness reads differently on each database: judge it here instead.
    rows = run(sa.select(_episode.c.id, _episode.c.addons).where(imported)).all()
    given = [{"episode_id": id_} for id_, addons in rows if _non_empty(addons)]
    if given:
        run(
            _episode.update()
            .where(_episode.c.id == sa.bindparam("episode_id"))
            .values(addons_recorded=True),
            given,
        )


def _non_empty(addons: Any) -> bool:
    return isinstance(addons, list | dict) and len(addons) > 0


def downgrade() -> None:
    run = op.get_bind().execute
    # The old schema can only say yes or no; not recorded goes back to its old "no".
    for name in _HISTORY:
        column = _episode.c[name]
        run(_episode.update().where(column.is_(None)).values({name: False}))
    with op.batch_alter_table("treatment_episode") as batch:
        for name in reversed(_FLAGS):
            batch.drop_column(name)
        for name in _HISTORY:
            batch.alter_column(name, existing_type=sa.Boolean(), nullable=False)
