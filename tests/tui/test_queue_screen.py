"""The first queue screen, driven by Pilot on a real database."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from sqlalchemy import Engine
from textual.widgets import DataTable, Static

from core.clock import FixedClock
from core.config import Settings
from core.domain import Disposition, TouchpointResolution
from db.database import Database
from db.engine import make_session_factory, transaction
from db.models import Touchpoint
from tests.factories import add_patient
from tui.app import AftercareApp


def _database(engine: Engine) -> Database:
    return Database(engine, make_session_factory(engine))


def _settings() -> Settings:
    return Settings(database_url="sqlite:///unused.db")


def _cell_text(table: DataTable[str | Text], row: int, column: str) -> str:
    value = table.get_cell_at((row, table.get_column_index(column)))
    return value.plain if isinstance(value, Text) else str(value)


async def test_queue_lists_overdue_first_then_due(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        # Day 1 and 3 closed long ago (overdue); day 7 open now (due).
        add_patient(session, "P-1", procedure_at=now - timedelta(days=7), created_at=now)
        # Worse patient: overdue day 3 with an urgent latest triage must come first.
        add_patient(
            session,
            "P-2",
            procedure_at=now - timedelta(days=6),
            created_at=now,
            disposition=Disposition.URGENT,
            family_name="Wang",
            given_name="<b>Li</b>",
        )
        # Nothing open yet: not in the queue.
        add_patient(session, "P-3", procedure_at=now + timedelta(days=3), created_at=now)

    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = screen.query_one("#queue-table", DataTable)
        codes = [_cell_text(table, r, "patient").split()[0] for r in range(table.row_count)]
        states = [_cell_text(table, r, "due").split()[-1] for r in range(table.row_count)]
        assert "P-3" not in codes
        assert codes[0] == "P-2", codes
        assert _cell_text(table, 0, "priority") == "urgent"
        # Names are shown as typed, never parsed as markup.
        assert "<b>Li</b>" in _cell_text(table, 0, "patient")
        first_due = states.index("left")
        assert first_due > 0
        assert all(s != "left" for s in states[:first_due])
        assert all(s == "left" for s in states[first_due:])
        assert all(_cell_text(table, r, "due").startswith("overdue") for r in range(first_due))
        counts = str(screen.query_one("#queue-counts", Static).render())
        assert "Overdue 4" in counts and "Due now 2" in counts


async def test_refresh_shows_a_resolved_touchpoint_gone(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        patient = add_patient(session, "P-9", procedure_at=now - timedelta(days=1), created_at=now)
        patient_id = patient.id
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#queue-table", DataTable)
        assert table.row_count == 1
        with transaction(factory) as session:
            touchpoint = session.query(Touchpoint).filter_by(patient_id=patient_id, day=1).one()
            touchpoint.resolution = TouchpointResolution.DONE
            touchpoint.resolved_at = now
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.row_count == 0


async def test_q_quits(engine: Engine, clock: FixedClock) -> None:
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
