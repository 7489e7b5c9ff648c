"""What a workstation holds over hours: a closed screen is let go, and full garbage
collections wait for a still keyboard (issue 16: the slowest keys at 100,000
patients were the garbage collector's pauses, growing as closed patient screens
piled up).

Two things kept every closed patient screen alive: the footer's keys were bound
to the footer with `data_bind`, which is never undone (26 widgets an opening),
and the screen's own 30-second clock timer, which asyncio holds, cancelled,
until it would have fired.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from textual.widgets._footer import FooterKey

from core.clock import FixedClock
from core.domain import Role
from db.engine import make_session_factory, transaction
from db.followup import Actor
from tests.factories import add_patient, add_staff
from tests.tui.pilot import open_patient, settle, workstation
from tui import collector
from tui.collector import IdleCollector
from tui.screens.patient import PatientScreen


# Memory held by screens does not depend on the backend: SQLite only.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True, ids=["db=sqlite"])
async def test_closed_patient_screens_and_their_footer_keys_are_let_go(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        staff = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        nurse = Actor(staff.id, staff.username, staff.display_name)
        patient = add_patient(session, "P-1", procedure_at=clock.now(), created_at=clock.now()).id
    app = workstation(engine, clock, nurse, run_dispatcher=False)
    closed: list[weakref.ref[PatientScreen]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for _ in range(4):
            screen = await open_patient(pilot, patient)
            closed.append(weakref.ref(screen))
            del screen
            await pilot.press("escape")
            await settle(pilot)
        # A closed screen may wait a moment for its last short timers (under a
        # second); held for 3 s it is held by something that stays.
        for _ in range(30):
            await pilot.pause(0.1)
            gc.collect()
            if all(ref() is None for ref in closed):
                break
        assert [ref for ref in closed if ref() is not None] == []
        keys = [o for o in gc.get_objects() if isinstance(o, FooterKey)]
        # The queue's footer keys only, never the ones of screens closed.
        assert keys and all(key.is_attached for key in keys)


class FakeMonotonic:
    """A clock the test moves by hand (the collector's decisions, not Python's gc)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def thresholds() -> Iterator[None]:
    kept = gc.get_threshold()
    yield
    gc.set_threshold(*kept)


class Timers:
    def __init__(self) -> None:
        self.intervals: list[float] = []

    def set_interval(self, interval: float, callback: object) -> None:
        self.intervals.append(interval)


def test_full_collections_wait_for_a_still_keyboard(thresholds: None) -> None:
    clock = FakeMonotonic()
    idle = IdleCollector(clock)
    timers = Timers()
    idle.start(timers)
    idle.start(timers)  # once only
    assert timers.intervals == [collector.CHECK_EVERY]
    # Python no longer starts a full collection by itself; young ones come less often.
    young, _, oldest = gc.get_threshold()
    assert young == collector.YOUNG_OBJECTS and oldest == collector.NEVER_ON_ITS_OWN

    # Typing every second for two minutes: never collected in full...
    for _ in range(120):
        clock.now += 1
        idle.key_pressed()
        assert not idle.check()
    # ...the keyboard still for IDLE_FOR seconds: collected once, then not again at once.
    clock.now += collector.IDLE_FOR
    assert idle.check() and idle.collections == 1
    clock.now += collector.CHECK_EVERY
    assert not idle.check()
    clock.now += collector.AT_MOST_EVERY
    assert idle.check() and idle.collections == 2


def test_a_keyboard_never_still_still_gets_a_full_collection(thresholds: None) -> None:
    clock = FakeMonotonic()
    idle = IdleCollector(clock)
    idle.start(Timers())
    for _ in range(int(collector.AT_LEAST_EVERY) - 1):
        clock.now += 1
        idle.key_pressed()
        assert not idle.check()
    clock.now += 1
    idle.key_pressed()
    assert idle.check() and idle.collections == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True, ids=["db=sqlite"])
async def test_the_apps_keys_reach_the_collector(engine: Engine, clock: FixedClock) -> None:
    app = workstation(engine, clock, None, run_dispatcher=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        before = app.collector.last_key
        await pilot.press("down")
        assert app.collector.last_key > before
