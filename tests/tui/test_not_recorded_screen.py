"""The patient screen says "not recorded" for an imported patient's history,
products and add-ons, answers as answers, and "Outside the schedule" when no
check-in is open or planned. Pilot on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re

from rich.console import Console
from sqlalchemy import Engine, select, update
from textual.widgets import Static

from core.clock import FixedClock
from core.config import Settings
from core.domain import TouchpointResolution
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import refresh_next_touchpoint
from db.models import Touchpoint, TreatmentEpisode
from tests.db.test_not_recorded import import_one_patient
from tests.tui.pilot import workers_done
from tui.app import AftercareApp
from tui.screens.patient import PatientScreen

OUTSIDE = "Outside the schedule"


def _plain(screen: PatientScreen, selector: str) -> str:
    content = screen.query_one(selector, Static).content
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(content)
    return " ".join(captured.get().split())


async def _screen_text(engine: Engine, clock: FixedClock, patient_id: int) -> tuple[str, str]:
    """(identity, episodes) as the screen shows them."""
    database = Database(engine, make_session_factory(engine))
    app = AftercareApp(database, Settings(database_url="sqlite:///unused.db"), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await workers_done(app)
        screen = PatientScreen(patient_id)
        app.push_screen(screen)
        await pilot.pause()
        await workers_done(app)
        await pilot.pause()
        assert screen.dossier is not None
        return _plain(screen, "#patient-identity"), _plain(screen, "#patient-episodes")


async def test_an_imported_patient_reads_not_recorded(engine: Engine, clock: FixedClock) -> None:
    identity, episodes = await _screen_text(engine, clock, import_one_patient(engine, clock))
    for expected in (
        "Allergies not recorded",
        "Vasovagal history not recorded",
        "Sensitive skin not recorded",
        "Add-ons not recorded",
        "Products given: not recorded",
    ):
        assert expected in episodes, (expected, episodes)
    assert not re.search(r"Vasovagal history no\b", episodes)
    assert "none known" not in episodes
    # Its check-ins are planned: it is on the schedule.
    assert OUTSIDE not in identity


async def test_answers_read_as_answers_and_a_finished_patient_is_outside_the_schedule(
    engine: Engine, clock: FixedClock
) -> None:
    patient_id = import_one_patient(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient_id)
        ).one()
        episode.vasovagal_history, episode.sensitive_skin = True, False
        episode.has_allergies = False
        episode.products_recorded = episode.addons_recorded = True
        session.execute(
            update(Touchpoint)
            .where(Touchpoint.patient_id == patient_id)
            .values(resolution=TouchpointResolution.DONE, resolved_at=clock.now())
        )
        refresh_next_touchpoint(session, patient_id)
    identity, episodes = await _screen_text(engine, clock, patient_id)
    for expected in (
        "Allergies none known",
        "Vasovagal history yes",
        "Sensitive skin no",
        "Add-ons none given",
        "Products given: none given",
    ):
        assert expected in episodes, (expected, episodes)
    assert "not recorded" not in episodes.split("Documentation checklist")[0].split("Allergies")[1]
    assert "Outside the schedule: no check-in is open or planned." in identity
