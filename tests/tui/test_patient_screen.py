"""The patient screen, driven by Pilot on a real database, plus snapshots at two sizes."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine, select
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from core.clock import FixedClock
from core.config import Settings
from core.domain import Channel, ContactOutcome, Disposition
from core.dossier import DECISION_NOTE, TimelineEntry, TimelineKind
from core.triage import DECIDED_BY
from db import migrate
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.followup import Actor
from db.models import ContactAttempt, Touchpoint, TriageAssessment
from db.triage import SavedTriage
from tests.conftest import TEST_NOW
from tests.factories import add_patient
from tests.tui.pilot import workers_done
from tests.tui.snapshot_apps.patient_data import (
    MARKUP_NAME,
    MARKUP_NOTE,
    add_followed_patient,
)
from tui.app import AftercareApp
from tui.screens.patient import PatientScreen, _timeline_cells, saved_summary
from tui.screens.queue import QueueScreen
from tui.styles import Palette


def _database(engine: Engine) -> Database:
    return Database(engine, make_session_factory(engine))


def _settings() -> Settings:
    return Settings(database_url="sqlite:///unused.db")


def _plain(screen: PatientScreen, selector: str) -> str:
    """What a Static shows, as plain text (markup, if it were parsed, would vanish)."""
    content = screen.query_one(selector, Static).content
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(content)
    return captured.get()


def _timeline_text(table: DataTable[Text]) -> list[str]:
    return [
        " | ".join(cell.plain if isinstance(cell, Text) else str(cell) for cell in row)
        for row in (table.get_row_at(index) for index in range(table.row_count))
    ]


async def _open(app: AftercareApp, pilot: Pilot[None], patient_id: int) -> PatientScreen:
    await workers_done(app)
    screen = PatientScreen(patient_id)
    app.push_screen(screen)
    await pilot.pause()
    await workers_done(app)
    await pilot.pause()
    return screen


async def test_shows_identity_times_emergency_episode_and_timeline(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        story = add_followed_patient(session, clock.now())
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, story.patient_id)
        assert screen.dossier is not None
        assert screen.dossier.identity.code == "P-0042"

        banner = _plain(screen, "#patient-banner")
        assert "P-0042" in banner and "Tanaka Yuki" in banner
        assert "urgent" in banner and "Park Jiwon" in banner

        times = _plain(screen, "#patient-times")
        assert "Patient local (Asia/Tokyo, UTC+9): Sun 22 Nov 15:00" in times
        assert "Clinic (KST): Sun 22 Nov 15:00" in times

        emergency = _plain(screen, "#patient-emergency")
        assert "Emergency (now in Japan): call  119" in emergency
        assert "⚠" not in emergency
        reporting = _plain(screen, "#patient-reporting")
        assert "PMDA" in reporting

        identity = _plain(screen, "#patient-identity")
        assert "17 Apr 1988" in identity and "line:p-0042" in identity
        assert "LINE" in identity and "+81 90-1234-5678" in identity
        assert "Documents missing: Lot number and expiry" in identity

        episodes = _plain(screen, "#patient-episodes")
        for expected in (
            "Exosome IV + microneedling",
            "13 Nov 2026 10:30 KST (day 9)",
            "Dr Lee Seojun",
            "RN-2019-044812",
            "B-complex; Glutathione, high dose",
            "Sakura Travel Insurance",
            "Penicillin (rash)",
            "MFDS-2024-01873",
            "ERV2609123",
            "30 Sep 2027",
            "GLT2605077",
            "2400 mg",
            "✓ Itemised receipt",
            "✗ Lot number and expiry (packaging photo) — MISSING",
            "✗ Nurse licensure reference — MISSING",
        ):
            assert expected in episodes, expected

        table = screen.query_one("#patient-timeline", DataTable)
        rows = _timeline_text(table)
        assert len(rows) == len(screen.dossier.timeline) == 12
        joined = "\n".join(rows)
        assert "Day 3 check-in (standard)" in joined and "overdue" in joined
        assert "Contact via LINE by Park Jiwon: photo received" in joined
        assert "Triage day 8 by Park Jiwon: urgent" in joined
        assert "Incident #" in joined and "infection" in joined
        assert "Physician alert (urgent)" in joined and "acknowledged" in joined
        # Most recent first, the cursor on it; then what is still to come.
        assert table.cursor_row == 0
        assert rows[0].startswith("21 Nov 13:30 KST") and "Review by Dr Lee Seojun" in rows[0]
        assert "14 Nov 11:10 KST" in rows[-2] and "reached" in rows[-2]
        assert "Day 21 check-in" in rows[-1] and "scheduled" in rows[-1]

        # The latest triage is urgent: who decides that, not the general note.
        assert _plain(screen, "#patient-status").replace("\n", " ").strip() == (
            f"Latest triage (urgent): {DECIDED_BY[Disposition.URGENT]}"
        )
        footer_keys = {key for key, b in screen.active_bindings.items() if b.binding.show}
        assert {"escape", "r"} <= footer_keys


async def test_patient_text_is_never_markup(engine: Engine, clock: FixedClock) -> None:
    with transaction(make_session_factory(engine)) as session:
        story = add_followed_patient(
            session,
            clock.now(),
            given_name=MARKUP_NAME,
            family_name="[b]Kim[/b]",
            attempt_note=MARKUP_NOTE,
        )
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, story.patient_id)
        assert f"[b]Kim[/b] {MARKUP_NAME}" in _plain(screen, "#patient-banner")
        rows = "\n".join(_timeline_text(screen.query_one("#patient-timeline", DataTable)))
        assert MARKUP_NOTE in rows
        # And nothing on screen picked up a link from the note.
        table = screen.query_one("#patient-timeline", DataTable)
        for index in range(table.row_count):
            for cell in table.get_row_at(index):
                assert isinstance(cell, Text)
                assert all("link" not in str(span.style) for span in cell.spans)


async def test_unknown_country_shows_the_112_fallback_with_a_warning(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        story = add_followed_patient(session, clock.now(), current_country="KE")
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, story.patient_id)
        emergency = _plain(screen, "#patient-emergency")
        assert "call  112" in emergency
        assert "⚠ Country Kenya (KE) is not in the clinic's emergency-number table" in (
            emergency.replace("\n", " ")
        )
        # What is normal today says the same, where it gives the number.
        course = _plain(screen, "#patient-course").replace("\n", " ")
        assert "Call 112 now (mobile fallback; Kenya is not in the table" in course
        # Home (Japan) differs from where the patient is: both routes are shown.
        reporting = _plain(screen, "#patient-reporting")
        assert "(Kenya): no route on file" in reporting
        assert "(Japan)" in reporting and "PMDA" in reporting


async def test_usable_at_80x24(engine: Engine, clock: FixedClock) -> None:
    with transaction(make_session_factory(engine)) as session:
        story = add_followed_patient(session, clock.now())
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, story.patient_id)
        # The header (who, local times, whom to call) stays in view; the rest scrolls.
        for selector in ("#patient-banner", "#patient-times", "#patient-emergency"):
            assert screen.query_one(selector).region.bottom <= 24 - 2
        body = screen.query_one("#patient-body")
        assert body.max_scroll_y > 0
        table = screen.query_one("#patient-timeline", DataTable)
        # Rows wrap inside the screen instead of running off to the right.
        assert table.virtual_size.width <= table.size.width
        await pilot.press("tab")
        assert app.focused is table
        await pilot.press("down", "down")
        assert table.cursor_row == 2


async def test_reload_reads_again(engine: Engine, clock: FixedClock) -> None:
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        story = add_followed_patient(session, clock.now())
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, story.patient_id)
        table = screen.query_one("#patient-timeline", DataTable)
        before = table.row_count
        table.move_cursor(row=2)
        chosen = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        with transaction(factory) as session:
            session.add(
                ContactAttempt(
                    patient_id=story.patient_id,
                    at=clock.now() - timedelta(minutes=5),
                    channel=Channel.LINE,
                    outcome=ContactOutcome.MESSAGE_SENT,
                    note="Aftercare card resent.",
                )
            )
        clock.advance(timedelta(minutes=1))
        await pilot.press("r")
        await workers_done(app)
        await pilot.pause()
        assert table.row_count == before + 1
        # The coordinator's place in the timeline survives the reload.
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key == chosen
        assert screen.dossier is not None and screen.dossier.read_at == clock.now()
        assert "Aftercare card resent." in "\n".join(_timeline_text(table))
        assert "15:01" in _plain(screen, "#patient-times")
        # Other code can ask for a reload too.
        screen.reload()
        await workers_done(app)
        await pilot.pause()
        assert table.row_count == before + 1


async def test_escape_returns_to_the_queue(engine: Engine, clock: FixedClock) -> None:
    with transaction(make_session_factory(engine)) as session:
        story = add_followed_patient(session, clock.now())
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, story.patient_id)
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, QueueScreen)


async def test_missing_patient_is_said_plainly(engine: Engine, clock: FixedClock) -> None:
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, 424242)
        assert screen.dossier is None
        assert "No patient with id 424242" in _plain(screen, "#patient-banner")


# --- snapshots ---------------------------------------------------------------


def _snapshot_app(tmp_path: Path) -> tuple[AftercareApp, Callable[[Pilot[None]], object]]:
    """The app on a fresh SQLite file with one followed patient, and how to open them."""
    url = f"sqlite:///{tmp_path / 'snapshot.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    clock = FixedClock(TEST_NOW)
    with transaction(factory) as session:
        story = add_followed_patient(session, clock.now())
        actor = Actor(1, "park", "Park Jiwon")  # a signed-in coordinator: no read-only toast
    # No queue poll during the snapshot: a slow machine must not catch a re-render.
    settings = Settings(database_url=url, refresh_seconds=60)
    app = AftercareApp(Database(engine, factory), settings, clock, actor=actor)

    async def open_patient(pilot: Pilot[None]) -> None:
        await workers_done(pilot.app)
        screen = PatientScreen(story.patient_id)
        await pilot.app.push_screen(screen)
        # Wait for the dossier itself, not for a worker that may not have started yet.
        for _ in range(100):
            await workers_done(pilot.app)
            await pilot.pause()
            if screen.dossier is not None:
                break
        # The cursor row's style depends on when focus lands, which varies on a busy
        # machine; the snapshot is about the content, Pilot tests cover the cursor.
        screen.query_one(DataTable).show_cursor = False
        # Let the layout settle (the timeline re-wraps to the width once).
        for _ in range(3):
            await pilot.pause()

    return app, open_patient


def test_snapshot_120x40(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """The patient screen on a roomy terminal."""
    app, open_patient = _snapshot_app(tmp_path)
    try:
        assert snap_compare(app, terminal_size=(120, 40), run_before=open_patient)
    finally:
        app.database.close()


def test_snapshot_80x24(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """The patient screen on the smallest supported terminal."""
    app, open_patient = _snapshot_app(tmp_path)
    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=open_patient)
    finally:
        app.database.close()


# --- v2: what is normal today, who decides, lab suggestions, event touchpoints ---


async def test_shows_what_is_normal_today_for_the_protocol(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        story = add_followed_patient(session, clock.now())
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, story.patient_id)
        course = _plain(screen, "#patient-course")
        lines = [line.strip() for line in course.splitlines()]
        # Day 9 after exosome IV with microneedling: both courses, read for day 9.
        assert lines[0] == "What is normal on day 9 after exosome IV with microneedling"
        assert any(line.startswith("From day 7: back to baseline") for line in lines)
        assert any(line.startswith("Later (day 14 to month 3): any new lump") for line in lines)
        assert "cannula site" in course and "comes from the microneedling" in course
        assert "flush" not in course  # days 0-3 are over
        assert "Call 119 now (Japan) for: fever above 38.5 °C" in course
        # Near the top of the body: right under who the patient is.
        body = list(screen.query_one("#patient-body").children)
        assert body.index(screen.query_one("#patient-course")) == 1


async def test_who_decides_before_any_triage_is_the_general_note(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        patient = add_patient(session, "P-9", procedure_at=now - timedelta(days=1), created_at=now)
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, patient.id)
        assert _plain(screen, "#patient-status").strip() == DECISION_NOTE
        course = _plain(screen, "#patient-course")
        assert course.startswith("What is normal on day 1 after exosome IV")


async def test_timeline_shows_lab_suggestions_and_event_touchpoints_in_words(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        story = add_followed_patient(session, now)
        triage = session.scalars(select(TriageAssessment)).one()
        triage.labs = [
            {
                "lab": "crp_esr",
                "text": "Infection signs at a treated site (warmth): the home physician may "
                "request an inflammatory panel (CRP and ESR)",
            }
        ]
        for template, day, ask in (
            ("triage-recheck", 11, "Re-check after the monitor triage of day 9."),
            ("liver-panel", 28, "Week-4 liver panel reminder (high-dose glutathione)."),
        ):
            due = (now + timedelta(days=day - 9)).date()
            session.add(
                Touchpoint(
                    episode_id=story.episode_id,
                    patient_id=story.patient_id,
                    template=template,
                    day=day,
                    due_date=due,
                    opens_at=now + timedelta(days=day - 9),
                    closes_at=now + timedelta(days=day - 8),
                    ask=ask,
                )
            )
    app = AftercareApp(_database(engine), _settings(), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, story.patient_id)
        joined = "\n".join(_timeline_text(screen.query_one("#patient-timeline", DataTable)))
        assert "request an inflammatory panel (CRP and ESR)" in joined
        assert "Day 11 check-in (re-check 48 h after a monitor triage)" in joined
        assert "Day 28 check-in (week-4 liver panel reminder)" in joined
        assert "triage-recheck" not in joined and "liver-panel" not in joined


def test_saved_summary_says_what_was_written() -> None:
    nothing = SavedTriage(1, Disposition.EXPECTED, None, None, 0)
    assert saved_summary(nothing, Disposition.EXPECTED) == "Triage saved: EXPECTED."
    assert (
        saved_summary(
            SavedTriage(2, Disposition.MONITOR, None, None, 0, recheck_touchpoint_id=9),
            Disposition.MONITOR,
        )
        == "Triage saved: MONITOR; re-check added in 48 hours."
    )
    assert saved_summary(SavedTriage(3, Disposition.URGENT, 4, 5, 2), Disposition.URGENT) == (
        "Triage saved: URGENT; incident #4 opened; physician alert E-5 queued for 2 "
        "physician targets."
    )
    assert saved_summary(SavedTriage(6, Disposition.EXPECTED, 7, 8, 1), Disposition.EMERGENCY) == (
        "Triage saved: EXPECTED (computed emergency); incident #7 opened, marked downgraded; "
        "the treating physician is told once (E-8) that you chose otherwise and why."
    )


def test_the_timeline_names_the_patients_clock_by_its_offset_never_its_letters() -> None:
    # Taipei's zone letters are "CST", which a reader in Texas takes as US Central.
    at = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    entry = TimelineEntry(TimelineKind.TOUCHPOINT, at, "Day 1 check-in", "", None, "tp-1")
    when, _, _ = _timeline_cells(entry, ZoneInfo("Asia/Taipei"), cast(Palette, None))
    assert when.plain == "22 Nov 15:00 KST\nSun 14:00 UTC+8"
