"""Two coordinators on one database: a change by one reaches the other's queue
within two seconds, by difference, without moving the other's cursor."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import Engine
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input

from core.clock import FixedClock
from core.config import Settings
from core.domain import Role
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.followup import Actor
from tests.factories import add_patient, add_staff
from tests.tui.pilot import workers_done
from tui.app import AftercareApp


def _cell(app: AftercareApp, code: str, column: str) -> str:
    table = app.screen.query_one("#queue-table", DataTable)
    col = table.get_column_index("patient")
    for row in range(table.row_count):
        if table.get_cell_at(Coordinate(row, col)).plain.startswith(code + " "):
            return str(table.get_cell_at(Coordinate(row, table.get_column_index(column))).plain)
    return ""


def _cursor_code(app: AftercareApp) -> str:
    table = app.screen.query_one("#queue-table", DataTable)
    row = table.cursor_coordinate.row
    return str(
        table.get_cell_at(Coordinate(row, table.get_column_index("patient"))).plain.split()[0]
    )


async def test_done_in_one_reaches_the_other(
    db_url: str, engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        kim = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        lee = add_staff(session, "rn.lee", Role.COORDINATOR, now)
        for i in range(12):
            add_patient(
                session,
                f"P-{i:02d}",
                procedure_at=now - timedelta(days=5, hours=i),
                created_at=now,
                family_name="Patient",
                given_name=str(i),
            )
        actors = [Actor(s.id, s.username, s.display_name) for s in (kim, lee)]
    # Each app has its own engine and connection pool, as two SSH sessions would.
    engines = [make_engine(db_url), make_engine(db_url)]
    settings = Settings(database_url=db_url)  # the default one-second poll
    first, second = (
        AftercareApp(Database(e, make_session_factory(e)), settings, clock, actor=a)
        for e, a in zip(engines, actors, strict=True)
    )
    try:
        async with first.run_test(size=(120, 40)) as one, second.run_test(size=(120, 40)) as two:
            for pilot in (one, two):
                await workers_done(pilot.app)
                await pilot.pause()
            table_two = second.screen.query_one("#queue-table", DataTable)
            table_two.move_cursor(row=7)
            await two.pause()
            watched = _cursor_code(second)
            target = "P-02"
            assert watched != target
            before = _cell(second, target, "touchpoint")
            assert before == _cell(first, target, "touchpoint") != ""

            table_one = first.screen.query_one("#queue-table", DataTable)
            codes_one = [
                table_one.get_cell_at(Coordinate(r, 1)).plain.split()[0]
                for r in range(table_one.row_count)
            ]
            table_one.move_cursor(row=codes_one.index(target))
            await one.press("d")
            await one.pause()
            first.screen.query_one("#answer", Input).value = "done by Kim"
            await one.press("enter")
            await workers_done(first)
            started = time.monotonic()
            while _cell(second, target, "touchpoint") == before:
                assert time.monotonic() - started < 2.0, "second queue did not refresh in 2 s"
                await two.pause(0.05)
            assert _cell(second, target, "touchpoint") != before
            # The other coordinator's cursor is still on the patient they were reading.
            assert _cursor_code(second) == watched
    finally:
        for e in engines:
            e.dispose()
