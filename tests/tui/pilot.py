"""Helpers the Pilot tests share: a workstation on a test database, letting it
settle, and opening one patient's screen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from textual import events
from textual.app import App
from textual.keys import _character_to_key
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


async def settle_until(pilot: Pilot[None], done: Callable[[], bool], rounds: int = 30) -> bool:
    """`settle` until `done()` holds, at most `rounds` times; whether it held. For a
    result several messages away (a save in a worker, then the form closing, then the
    screen under it reading), which a loaded machine may not deliver in one `settle`.
    The caller asserts on what it waited for, so a result that never comes still fails."""
    for _ in range(rounds):
        if done():
            return True
        await settle(pilot)
    return done()


async def type_text(pilot: Pilot[None], text: str) -> None:
    """Type `text` into the focused field, one real key event per character, as a
    quick typist (or a terminal) sends them: all keys go in, then `settle` lets them
    land (the app hands each key to the focused field, which may post a change its
    form acts on: hence its rounds). `pilot.press` waits for the app to go idle
    after every key, which made a long form take half a minute to fill. Only for
    plain characters within one field: a key that moves focus (enter, tab) goes
    through `pilot.press`, which waits for the focus to move."""
    if not text:
        return  # as `pilot.press()` with no keys
    app = pilot.app
    for character in text:
        key = character if character.isalnum() else _character_to_key(character)
        event = events.Key(key, character)
        event.set_sender(app)
        app.post_message(event)
    await settle(pilot)


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
