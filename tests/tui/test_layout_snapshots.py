"""Snapshots at 80x24 of the triage form and the help, the two screens issue 16 found
cut at that size (the queue and the patient screen have theirs beside their tests).
Pilot assertions on the same screens' text say what each snapshot must show, so a
snapshot regenerated without looking still fails when the layout loses it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable

from core.clock import FixedClock
from core.config import Settings
from db import migrate
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.followup import Actor
from tests.conftest import TEST_NOW
from tests.tui.pilot import workers_done
from tests.tui.snapshot_apps.patient_data import add_followed_patient
from tests.tui.test_layout import screen_lines
from tests.tui.test_queue_snapshots import _loaded, queue_app
from tui.app import AftercareApp
from tui.help import HelpScreen
from tui.screens.patient import PatientScreen
from tui.triage_form import TriageModal

SIZE = (80, 24)
__all__ = ["queue_app"]  # the queue's snapshot app, a fixture here too


def _patient_app(tmp_path: Path) -> tuple[AftercareApp, int]:
    url = f"sqlite:///{tmp_path / 'snapshot.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        story = add_followed_patient(session, TEST_NOW)
    settings = Settings(database_url=url, refresh_seconds=60, clinic_name="Example Clinic")
    app = AftercareApp(
        Database(engine, factory),
        settings,
        FixedClock(TEST_NOW),
        actor=Actor(1, "park", "Park Jiwon"),
        run_dispatcher=False,
    )
    return app, story.patient_id


def _triage_opened(patient_id: int) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await workers_done(pilot.app)
        screen = PatientScreen(patient_id)
        await pilot.app.push_screen(screen)
        for _ in range(100):
            await workers_done(pilot.app)
            await pilot.pause()
            if screen.dossier is not None:
                break
        screen.query_one(DataTable).show_cursor = False
        await pilot.press("t")
        for _ in range(3):
            await workers_done(pilot.app)
            await pilot.pause()

    return run_before


async def _help_opened(pilot: Pilot[None]) -> None:
    await _loaded(pilot)
    await pilot.press("question_mark")
    for _ in range(3):
        await pilot.pause()


def test_triage_form_snapshot_80x24(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    app, patient_id = _patient_app(tmp_path)
    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=_triage_opened(patient_id))
    finally:
        app.database.close()


def test_help_snapshot_80x24(queue_app: AftercareApp, snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(queue_app, terminal_size=SIZE, run_before=_help_opened)


async def test_the_triage_form_at_80x24_shows_its_save_key(tmp_path: Path) -> None:
    app, patient_id = _patient_app(tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await _triage_opened(patient_id)(pilot)
            assert isinstance(app.screen, TriageModal)
            lines = screen_lines(app)
            # The buttons stay in the box, above the patient screen's footer line.
            save = next(i for i, line in enumerate(lines) if "ctrl+s" in line)
            assert "Cancel" in lines[save] and save < len(lines) - 2
            assert "Triage:" in "\n".join(lines[:4])
            # It opens on its fields: what is normal folded to its heading, the outcome,
            # and the day, temperature and trend all on screen above the buttons.
            top = "\n".join(lines[:save])
            assert "What is normal on day 9" in top and "ctrl+o" in top
            assert "Outcome: EXPECTED" in top
            assert all(word in top for word in ("Day", "Temperature", "Trend: choose"))
    finally:
        app.database.close()


async def test_the_queue_help_at_80x24_opens_with_its_title_and_closing_line(
    queue_app: AftercareApp,
) -> None:
    async with queue_app.run_test(size=SIZE) as pilot:
        await _help_opened(pilot)
        assert isinstance(queue_app.screen, HelpScreen)
        lines = screen_lines(queue_app)
        assert any("Follow-up queue: every key" in line for line in lines)
        assert any("escape closes" in line for line in lines)
        assert all(len(line) <= SIZE[0] for line in lines)
