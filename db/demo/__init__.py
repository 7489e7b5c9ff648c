"""Realistic, deterministic demo data, loaded fast.

`load_demo` fills the database with invented patients, episodes, products,
touchpoints, contact attempts, triages, incidents and (already acknowledged)
escalations, so the queue and every screen have something to show. The same
(patients, seed, now) always gives the same rows: one `random.Random(seed)`,
no wall clock, no uuid4, primary keys assigned here.

Speed matters (100,000 patients, about two million rows, in 22-25 s on
SQLite), so rows are generated and written in blocks of patients. This module
is the public entry point and the order of the steps; the package splits the
rest by concern:

- `people`, `catalog`: the static tables (invented people; products, notes,
  symptom stories);
- `context`: the shared random source, clock, id counters and encoders;
- `generate`: patients, episodes and products;
- `touchpoints`: follow-up windows and contact attempts, and how resolved the
  queue looks at `now`;
- `events`: triages, incidents and escalations; `triage`: the stand-in rules;
- `tables`: the row shape of each table; `write`: the database side.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from core.addons import DEFAULT_HIGH_DOSE_GLUTATHIONE_MG
from db.demo import write
from db.demo.context import Context
from db.demo.generate import Generator
from db.demo.tables import INSERT_ORDER, PATIENT_T, STAFF_T
from db.errors import StorageError, explain_operational_error

__all__ = ["DemoSummary", "RealDataPresent", "load_demo"]

# Patients generated and written per round: bounds memory, keeps executemany batches large.
BLOCK_PATIENTS = 5000


class RealDataPresent(StorageError):
    """The database holds real (non-demo) patients: demo data never goes beside them."""


@dataclass(frozen=True)
class DemoSummary:
    """How many demo rows `load_demo` wrote, per kind."""

    patients: int
    episodes: int
    products: int
    touchpoints: int
    contact_attempts: int
    triages: int
    incidents: int
    escalations: int
    staff: int


def load_demo(
    engine: Engine,
    *,
    patients: int,
    seed: int,
    now: datetime,
    high_dose_glutathione_mg: int = DEFAULT_HIGH_DOSE_GLUTATHIONE_MG,
) -> DemoSummary:
    """Replace the demo data with `patients` invented patients, in one transaction.

    Refuses with `RealDataPresent` (writing nothing) when non-demo patients exist:
    demo data comes with demo logins, which must never sign in beside real
    patients (a clinic tries things on a database of its own). Earlier demo rows
    are deleted first, demo staff (`demo-*`) are reused, and the change marker is
    bumped. Same arguments, same rows.
    `high_dose_glutathione_mg` is the clinic's setting of that name: which
    episodes get the week-4 liver panel reminder.
    """
    if patients < 0:
        raise ValueError("patients must be 0 or more")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    try:
        with engine.begin() as conn, write.sqlite_load_tuning(conn):
            write.begin_write(conn)
            real = conn.scalar(
                select(func.count()).select_from(PATIENT_T).where(PATIENT_T.c.is_demo.is_(False))
            )
            if real:
                noun = "patient" if real == 1 else "patients"
                raise RealDataPresent(
                    f"database holds {real} non-demo {noun}; demo data (and its demo logins) "
                    "is never added beside real patients: try things on a database of its own"
                )
            write.delete_demo(conn)
            staff = write.upsert_staff(conn, now)
            writer = write.Writer(conn)
            ctx = Context(
                random.Random(seed),
                now,
                staff,
                writer.sqlite,
                write.next_ids(conn),
                high_dose_glutathione_mg,
            )
            generator = Generator(ctx)
            for start in range(0, patients, BLOCK_PATIENTS):
                rows = generator.block(start, min(start + BLOCK_PATIENTS, patients))
                for table in INSERT_ORDER:
                    writer.insert(table, rows[table.name])
            write.bump_change_marker(conn, now)
            if not writer.sqlite:
                write.sync_sequences(conn, (STAFF_T, *INSERT_ORDER))
    except DBAPIError as exc:
        raise explain_operational_error(exc, engine.url) from exc
    counts = writer.counts
    return DemoSummary(
        patients=counts.get("patient", 0),
        episodes=counts.get("treatment_episode", 0),
        products=counts.get("product_given", 0),
        touchpoints=counts.get("touchpoint", 0),
        contact_attempts=counts.get("contact_attempt", 0),
        triages=counts.get("triage_assessment", 0),
        incidents=counts.get("incident", 0),
        escalations=counts.get("escalation", 0),
        staff=len(staff.all_ids),
    )
