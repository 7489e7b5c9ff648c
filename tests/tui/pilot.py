"""Helpers the Pilot tests share: a workstation on a test database, letting it
settle, and opening one patient's screen."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine
from textual.app import App
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

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


async def workers_done(app: App[Any]) -> None:
    """Wait until no worker of `app` is running. A worker cancelled while we wait
    (an exclusive read replaced by a newer one, a screen closed) has finished too:
    Textual raises WorkerCancelled from the wait, so wait again for the rest."""
    for _ in range(100):
        try:
            await app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            # Let the event loop drop the cancelled worker from the app's list.
            await asyncio.sleep(0.01)
    raise AssertionError("workers kept being cancelled: the app never settled")


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and their messages land. Three rounds, because a loaded
    screen may start another worker (a refresh after the first load)."""
    for _ in range(3):
        await workers_done(pilot.app)
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
