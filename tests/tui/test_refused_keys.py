"""Refusals come before the work: a key the person's role may not use is not in the
footer, and pressed anyway it refuses at once with the Clinic's own sentence, before
any form or question opens (tui.screens.common.ROLE_KEYS, core.permissions)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from textual.pilot import Pilot
from textual.screen import ModalScreen

from core.clock import FixedClock
from core.domain import Role
from core.permissions import Action, refusal
from db.engine import make_session_factory, transaction
from db.followup import Actor
from tests.factories import add_staff
from tests.tui.pilot import settle, workstation
from tui.app import AftercareApp
from tui.screens.alerts import AlertsScreen
from tui.screens.incidents import IncidentLogScreen
from tui.screens.oncall import OnCallScreen


def _actor(engine: Engine, clock: FixedClock, login: str, role: Role) -> Actor:
    with transaction(make_session_factory(engine)) as session:
        staff = add_staff(session, login, role, clock.now())
        return Actor(staff.id, staff.username, staff.display_name, role)


def _notes(app: AftercareApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def _footer_keys(app: AftercareApp) -> set[str]:
    """The keys the footer offers now (a refused key is left out, not greyed)."""
    return set(app.screen.active_bindings)


async def _refused(pilot: Pilot[None], key: str, sentence: str) -> None:
    app = pilot.app
    assert isinstance(app, AftercareApp)
    app.clear_notifications()
    await pilot.press(key)
    await settle(pilot)
    assert not isinstance(app.screen, ModalScreen), f"{key!r} opened {app.screen!r}"
    assert _notes(app) == [sentence], key


# The role is the sign-in's and the gate is the screen's: no storage is involved, so
# SQLite alone (CI time); the Clinic's own refusals are tested on both in tests/db.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_coordinator_is_refused_before_any_form(engine: Engine, clock: FixedClock) -> None:
    nurse = _actor(engine, clock, "rn.kim", Role.COORDINATOR)
    app = workstation(engine, clock, nurse, run_dispatcher=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        # Follow-up keys are a coordinator's own work: offered.
        assert {"c", "d", "s", "a", "y"} <= _footer_keys(app)

        await app.push_screen(IncidentLogScreen())
        await settle(pilot)
        assert "s" not in _footer_keys(app) and "e" in _footer_keys(app)
        await _refused(pilot, "s", refusal(Role.COORDINATOR, Action.CLASSIFY_INCIDENT))
        app.pop_screen()

        await app.push_screen(OnCallScreen())
        await settle(pilot)
        assert not {"n", "x"} & _footer_keys(app)
        await _refused(pilot, "n", refusal(Role.COORDINATOR, Action.MANAGE_ONCALL))
        await _refused(pilot, "x", refusal(Role.COORDINATOR, Action.MANAGE_ONCALL))
        app.pop_screen()

        await app.push_screen(AlertsScreen())
        await settle(pilot)
        assert not {"k", "R"} & _footer_keys(app)
        await _refused(pilot, "R", refusal(Role.COORDINATOR, Action.RESOLVE_ALERT))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_admin_is_not_offered_follow_up_keys(engine: Engine, clock: FixedClock) -> None:
    admin = _actor(engine, clock, "it.admin", Role.ADMIN)
    app = workstation(engine, clock, admin, run_dispatcher=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        footer = _footer_keys(app)
        assert not {"c", "d", "s", "a", "y"} & footer
        assert {"question_mark", "q"} <= footer
        for key in "cdsay":
            await _refused(pilot, key, refusal(Role.ADMIN, Action.FOLLOW_UP))
        # What an admin may do stays: the on-call schedule's keys.
        await app.push_screen(OnCallScreen())
        await settle(pilot)
        assert {"n", "x"} <= _footer_keys(app)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_read_only_login_is_told_so(engine: Engine, clock: FixedClock) -> None:
    app = workstation(engine, clock, None, login="guest", run_dispatcher=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert not {"c", "d", "s", "a", "y"} & _footer_keys(app)
        said = f"Read-only: login 'guest' cannot {Action.FOLLOW_UP.words}."
        await _refused(pilot, "c", said)
