"""Helpers the Pilot tests share: a workstation on a test database, letting it
settle, and opening one patient's screen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from textual.pilot import Pilot

from core.clock import Clock
from core.config import Settings
from db.database import Database
from db.engine import make_session_factory
from db.followup import Actor
from tui.app import AftercareApp
from tui.screens.patient import PatientScreen


def workstation(
    engine: Engine,
    clock: Clock,
    actor: Actor | None,
    *,
    login: str = "",
    run_dispatcher: bool = True,
    **settings: Any,
) -> AftercareApp:
    """The app as a member of staff would run it on this database; `settings` are
    config fields. The database URL is never opened: the engine is handed in."""
    return AftercareApp(
        Database(engine, make_session_factory(engine)),
        Settings(database_url="sqlite:///unused.db", **settings),
        clock,
        actor=actor,
        login=login,
        run_dispatcher=run_dispatcher,
    )


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and their messages land. Three rounds, because a loaded
    screen may start another worker (a refresh after the first load)."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_patient(pilot: Pilot[None], patient_id: int) -> PatientScreen:
    """From wherever the app stands, open this patient's screen and wait for it."""
    app = pilot.app
    assert isinstance(app, AftercareApp)
    await settle(pilot)
    app.open_patient(patient_id)
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, PatientScreen)
    return screen
