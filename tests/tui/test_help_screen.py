"""One help screen, built from the keys of the screen it is opened on."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from textual.binding import Binding
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from core.clock import FixedClock
from core.domain import Role
from db.engine import make_session_factory, transaction
from db.followup import Actor
from tests.factories import add_patient, add_staff
from tests.tui.pilot import settle, workstation
from tui.app import AftercareApp
from tui.help import HelpScreen
from tui.keys import key_words
from tui.screens.alerts import AlertsScreen
from tui.screens.incidents import IncidentLogScreen
from tui.screens.oncall import OnCallScreen
from tui.screens.patient import PatientScreen
from tui.screens.queue import QueueScreen


@pytest.fixture
def app(engine: Engine, clock: FixedClock) -> AftercareApp:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        add_patient(session, "P-1", procedure_at=now, created_at=now)
    return workstation(engine, clock, actor, run_dispatcher=False)


async def _help_on(pilot: Pilot[None]) -> tuple[Screen[object], HelpScreen]:
    under = pilot.app.screen
    await pilot.press("question_mark")
    await pilot.pause()
    help_screen = pilot.app.screen
    assert isinstance(help_screen, HelpScreen)
    return under, help_screen


def _expected(*owners: type[DOMNode]) -> dict[str, str]:
    """binding id -> the default keys, as the help writes them."""
    wanted: dict[str, str] = {}
    for owner in owners:
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding) and binding.id
            keys = [key_words(k.strip()) for k in binding.key.split(",")]
            wanted.setdefault(binding.id, ", ".join(keys))
    return wanted


# What a coordinator's help leaves out on each screen, and why: keys of another role
# (refused before any form opens), and the key that opens the screen you are on.
NOT_OFFERED: dict[type[Screen[None]], set[str]] = {
    QueueScreen: set(),
    PatientScreen: set(),
    AlertsScreen: {"alerts.acknowledge", "alerts.resolve", "app.alerts"},
    IncidentLogScreen: {"incidents.classify", "app.incidents"},
    OnCallScreen: {"oncall.new-shift", "oncall.cancel-shift", "app.oncall"},
}


@pytest.mark.parametrize(
    ("key", "screen_type"),
    [
        (None, QueueScreen),
        ("enter", PatientScreen),
        ("exclamation_mark", AlertsScreen),
        ("i", IncidentLogScreen),
        ("O", OnCallScreen),
    ],
)
async def test_help_lists_every_key_of_the_screen_and_the_app(
    app: AftercareApp, key: str | None, screen_type: type[Screen[None]]
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        if key is not None:
            await pilot.press(key)
            await settle(pilot)
        assert isinstance(app.screen, screen_type)
        under, help_screen = await _help_on(pilot)
        shown = {row.binding_id: row.keys for row in help_screen.rows}
        expected = _expected(screen_type, AftercareApp)
        assert shown == {k: v for k, v in expected.items() if k not in NOT_OFFERED[screen_type]}
        groups = list(dict.fromkeys(row.group for row in help_screen.rows))
        assert groups[-1] == "Every screen"
        assert all(row.does for row in help_screen.rows)
        # Each group's rows stand together, in the order of the screen's keys.
        assert [row.group for row in help_screen.rows] == sorted(
            (row.group for row in help_screen.rows), key=groups.index
        )
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is under


async def test_queue_help_groups_filters_and_follow_up_keys(app: AftercareApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        _, help_screen = await _help_on(pilot)
        by_id = {row.binding_id: row for row in help_screen.rows}
        assert by_id["queue.filter.mine"].group == "Filters"
        assert by_id["followup.mark-done"].group == "The highlighted patient's next touchpoint"
        assert by_id["app.alerts"].keys == "!"
        assert by_id["queue.search"].keys == "/"
        assert by_id["queue.search"].does == "Search code or name"


async def test_help_fits_80x24_and_scrolls_to_its_last_key(app: AftercareApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        _, help_screen = await _help_on(pilot)
        await pilot.pause()
        box = help_screen.query_one(".help").region
        assert box.x >= 0 and box.y >= 0
        assert box.right <= 80 and box.bottom <= 24
        footer = help_screen.query_one("#help-footer").region
        assert footer.bottom <= box.bottom, "the closing line stays on screen"
        scroll = help_screen.query_one("#help-scroll")
        assert box.y < scroll.region.y and scroll.region.bottom <= footer.y
        assert scroll.has_focus
        assert scroll.max_scroll_y > 0, "the queue's keys are more than 24 lines"
        await pilot.press("end")
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y
        # Every id is drawn, the last one too, and nothing is cut at the right edge.
        text = help_screen.query_one("#help-text", Static)
        assert text.region.right <= box.right
        assert help_screen.rows[-1].binding_id == "app.oncall"
