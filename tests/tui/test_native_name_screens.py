"""The own-script name on screen: the search finds a patient by it and shows it
beside the passport name; the patient screen's identity shows it. Pilot, real
databases."""

from __future__ import annotations

import io
from datetime import timedelta

from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine
from textual.widgets import DataTable, Input, Static

from core.clock import FixedClock
from core.domain import Role
from db.engine import make_session_factory, transaction
from db.followup import Actor
from tests.factories import add_patient, add_staff
from tests.tui.pilot import settle, workstation
from tui.screens.patient import PatientScreen
from tui.screens.search import SearchScreen


async def test_found_by_the_own_script_name_and_shown_on_the_patient_screen(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        patient = add_patient(
            session,
            "JP-0815",
            procedure_at=now - timedelta(days=2),
            created_at=now,
            family_name="Yamamoto",
            given_name="Sakura",
        )
        patient.native_name = "山本 さくら"
        add_patient(session, "JP-0900", procedure_at=now, created_at=now)
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        patient_id = patient.id
    app = workstation(engine, clock, actor)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("F")
        await settle(pilot)
        search = app.screen
        assert isinstance(search, SearchScreen)
        search.query_one("#search-text", Input).value = "さくら"
        await settle(pilot)
        table: DataTable[Text] = search.query_one("#search-table", DataTable)
        assert [key.value for key in table.rows] == [str(patient_id)]
        (key,) = table.rows
        assert str(table.get_row(key)[0]) == "JP-0815 Yamamoto Sakura · 山本 さくら"

        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PatientScreen)
        content = screen.query_one("#patient-identity", Static).content
        console = Console(width=200, file=io.StringIO(), color_system=None)
        with console.capture() as captured:
            console.print(content)
        assert "Name in own script 山本 さくら" in captured.get()
