"""On PostgreSQL a change by one coordinator reaches another's queue through
LISTEN/NOTIFY, long before the next poll would have found it."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input

from core.clock import FixedClock
from core.config import Settings
from core.domain import Role
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.followup import Actor
from db.listen import ListenerState
from tests.factories import add_patient, add_staff
from tests.tui.pilot import workers_done
from tui.app import AftercareApp

POLL_SECONDS = 30.0
"""So slow that only a notification can explain a refresh within the test's limit."""


def _cell(app: AftercareApp, code: str, column: str) -> str:
    table = app.screen.query_one("#queue-table", DataTable)
    col = table.get_column_index("patient")
    for row in range(table.row_count):
        if table.get_cell_at(Coordinate(row, col)).plain.startswith(code + " "):
            return str(table.get_cell_at(Coordinate(row, table.get_column_index(column))).plain)
    return ""


async def test_done_in_one_reaches_the_other_through_notify(
    db_url: str, engine: Engine, clock: FixedClock
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has no NOTIFY; its queues poll (test_two_coordinators)")
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        kim = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        lee = add_staff(session, "rn.lee", Role.COORDINATOR, now)
        for i in range(6):
            add_patient(
                session,
                f"P-{i:02d}",
                procedure_at=now - timedelta(days=5, hours=i),
                created_at=now,
                family_name="Patient",
                given_name=str(i),
            )
        actors = [Actor(s.id, s.username, s.display_name) for s in (kim, lee)]
    engines = [make_engine(db_url), make_engine(db_url)]
    settings = Settings(database_url=db_url, refresh_seconds=POLL_SECONDS)
    first, second = (
        AftercareApp(Database(e, make_session_factory(e)), settings, clock, actor=a)
        for e, a in zip(engines, actors, strict=True)
    )
    try:
        async with first.run_test(size=(120, 40)) as one, second.run_test(size=(120, 40)) as two:
            for pilot in (one, two):
                await workers_done(pilot.app)
                await pilot.pause()
            listener = second.change_listener
            assert listener is not None
            assert await asyncio.to_thread(listener.wait_listening, 5)
            assert listener.state is ListenerState.LISTENING
            target = "P-02"
            before = _cell(second, target, "touchpoint")
            assert before == _cell(first, target, "touchpoint") != ""

            table_one = first.screen.query_one("#queue-table", DataTable)
            codes = [
                table_one.get_cell_at(Coordinate(r, 1)).plain.split()[0]
                for r in range(table_one.row_count)
            ]
            table_one.move_cursor(row=codes.index(target))
            await one.press("d")
            await one.pause()
            first.screen.query_one("#answer", Input).value = "done by Kim"
            await one.press("enter")
            await workers_done(first)
            started = time.monotonic()
            while _cell(second, target, "touchpoint") == before:
                assert time.monotonic() - started < 2.0, "NOTIFY did not refresh the other queue"
                await two.pause(0.05)
    finally:
        for e in engines:
            e.dispose()
    # Both apps closed: their listeners stopped with them.
    assert first.change_listener is not None and second.change_listener is not None
    assert first.change_listener.state is ListenerState.STOPPED
    assert second.change_listener.state is ListenerState.STOPPED
