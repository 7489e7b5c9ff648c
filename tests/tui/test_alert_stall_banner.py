"""Every coordinator's queue says when physician alerts are NOT being sent: an
emergency saved while no dispatcher runs turns the banner on once the grace
period passes (the clock moved, no write needed), and the first dispatcher
round turns it off. Real Pilot app, real dispatcher, both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from textual.widgets import Static

from core.clock import FixedClock
from core.domain import Disposition, Role
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.triage import SavedTriage
from notifiers.dispatcher import DeliveryReport, Dispatcher
from tests.factories import add_staff, add_triaged_patient
from tests.tui.pilot import settle, workstation
from tui.screens.patient import saved_summary
from tui.screens.queue import QueueScreen

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}


def _delivered(tag: str, title: str, body: str) -> DeliveryReport:
    return DeliveryReport(True, [{"service": "json", "ok": True}])


async def test_the_banner_follows_the_dispatcher(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        add_triaged_patient(session, "P-1", now=now, actor=actor, findings=EMERGENCY)
    # No Apprise file and no fallback dispatcher: as a coordinator's app on the server.
    app = workstation(engine, clock, actor, run_dispatcher=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        banner = screen.query_one("#queue-banner", Static)
        assert not banner.display  # within the grace period: not yet a stall

        clock.advance(timedelta(seconds=61))
        screen.check_alert_path()
        await settle(pilot)
        shown = str(banner.render())
        assert banner.display and banner.has_class("-stalled")
        assert "Physician alerts are NOT being sent: 1 alert has waited 61 s" in shown
        assert "Phone the on-call physician yourself now" in shown

        Dispatcher(Database(engine, make_session_factory(engine)), _delivered, clock).run_once()
        screen.check_alert_path()
        await settle(pilot)
        assert not banner.display and not banner.has_class("-stalled")


def test_the_save_message_says_whether_the_page_is_being_sent() -> None:
    saved = SavedTriage(3, Disposition.EMERGENCY, 4, 5, 2)
    said = saved_summary(saved, Disposition.EMERGENCY, "no dispatcher is running to send it")
    assert said == (
        "Triage saved: EMERGENCY; incident #4 opened; physician alert E-5 queued for 2 "
        "physician targets: no dispatcher is running to send it."
    )
