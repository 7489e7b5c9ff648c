"""Issue 18 item 8: a login disabled by an admin stops its open session.

The workstation is open on a patient's screen; an admin disables the login from
another session; at the next re-read the app shows one plain sentence and no
patient's name is left on the terminal (the exported screen is what it shows).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from core.clock import FixedClock
from core.config import Settings
from core.domain import Role
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.followup import Actor
from db.models import Staff
from db.services import Clinic
from tests.factories import add_patient, add_staff
from tests.tui.pilot import open_patient, settle, workstation
from tui.session_ended import SessionEndedScreen


async def test_a_disabled_login_sees_one_sentence_and_no_patient(
    tmp_path: Path, _sqlite_template: Path, clock: FixedClock
) -> None:
    path = tmp_path / "aftercare.db"
    shutil.copyfile(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        admin = add_staff(session, "it.admin", Role.ADMIN, clock.now())
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        patient = add_patient(
            session,
            "JP-0042",
            procedure_at=clock.now(),
            created_at=clock.now(),
            family_name="Yamamoto",
            given_name="Sakura",
        ).id
        admin_actor = Actor(admin.id, admin.username, admin.display_name, admin.role)
        nurse_actor = Actor(nurse.id, nurse.username, nurse.display_name, nurse.role)
    app = workstation(engine, clock, nurse_actor, run_dispatcher=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_patient(pilot, patient)
            assert "Yamamoto" in app.export_screenshot()
            # Another session: the admin disables the nurse's login.
            other = Clinic(Database(engine, sessions), Settings(), clock)
            other.set_staff_active(admin_actor, "rn.kim", active=False)
            screen.reload()  # the next read, as `r` or a write would start it
            await settle(pilot)
            assert isinstance(app.screen, SessionEndedScreen)
            shown = app.export_screenshot().replace("&#160;", " ")  # SVG spaces
            assert "has been disabled by an admin" in shown
            assert "Yamamoto" not in shown and "JP-0042" not in shown
            assert len(app.screen_stack) == 2  # Textual's blank default screen, and this
            await pilot.press("exclamation_mark")  # no key opens a screen again
            await settle(pilot)
            assert isinstance(app.screen, SessionEndedScreen)
    finally:
        engine.dispose()
    with sessions() as session:
        assert session.scalar(select(Staff.active).where(Staff.username == "rn.kim")) is False
