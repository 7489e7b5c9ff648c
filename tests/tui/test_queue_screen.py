"""The live queue, driven by Pilot on real databases: every key action and filter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from rich.text import Text
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from textual.app import App
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, Static

from core.clock import FixedClock
from core.config import Settings
from core.domain import ContactOutcome, Disposition, Role, TouchpointResolution
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor, claim_patient
from db.models import AuditEvent, ContactAttempt, Patient, Touchpoint
from tests.factories import add_patient, add_staff
from tests.tui.pilot import settle
from tui.app import AftercareApp
from tui.help import HelpScreen
from tui.queue_cells import row_cells
from tui.screens.queue import QueueScreen

Found = TypeVar("Found")
"""What a query run against the clinic's database returns."""

MARKUP_NAME = "[bold red]x[/]"
LINK_NAME = "[link=http://x]y[/link]"


@dataclass
class Clinic:
    """A small clinic: two coordinators and five patients in known bands."""

    database: Database
    clock: FixedClock
    me: Actor
    colleague: Actor
    ids: dict[str, int]


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    ids: dict[str, int] = {}
    with transaction(make_session_factory(engine)) as session:
        me = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        other = add_staff(session, "rn.lee", Role.COORDINATOR, now)
        # Overdue (day 1 and 3 closed), urgent latest triage: top of the overdue band.
        ids["urgent"] = add_patient(
            session,
            "P-1",
            procedure_at=now - timedelta(days=6),
            created_at=now,
            disposition=Disposition.URGENT,
            family_name="Wu",
            given_name=MARKUP_NAME,
        ).id
        # Overdue, no triage.
        ids["overdue"] = add_patient(
            session,
            "P-2",
            procedure_at=now - timedelta(days=5),
            created_at=now,
            family_name="Sato",
            given_name="Yui",
        ).id
        # Due today (day 1 window open), in the US.
        ids["due"] = add_patient(
            session,
            "P-3",
            procedure_at=now - timedelta(hours=20),
            created_at=now,
            timezone="America/New_York",
            country="US",
            family_name="Smith",
            given_name=LINK_NAME,
        ).id
        # Upcoming (procedure in three days).
        ids["upcoming"] = add_patient(
            session,
            "P-4",
            procedure_at=now + timedelta(days=3),
            created_at=now,
            family_name="Tanaka",
            given_name="Ken",
        ).id
        # Claimed by the colleague, due.
        ids["held"] = add_patient(
            session,
            "P-5",
            procedure_at=now - timedelta(hours=22),
            created_at=now,
            family_name="Ito",
            given_name="Aoi",
        ).id
        session.get_one(Patient, ids["held"]).assigned_to_id = other.id
        me_actor = Actor(me.id, me.username, me.display_name)
        other_actor = Actor(other.id, other.username, other.display_name)
    database = Database(engine, make_session_factory(engine))
    return Clinic(database, clock, me_actor, other_actor, ids)


def _app(clinic: Clinic, actor: Actor | None = None, **settings: Any) -> AftercareApp:
    chosen = clinic.me if actor is None else actor
    return AftercareApp(
        clinic.database,
        Settings(database_url="sqlite:///unused.db", **settings),
        clinic.clock,
        actor=chosen,
        login=chosen.username,
    )


def table_of(app: App[None]) -> DataTable[Text]:
    return app.screen.query_one("#queue-table", DataTable)


def codes(app: App[None]) -> list[str]:
    table = table_of(app)
    return [
        table.get_cell_at(Coordinate(r, table.get_column_index("patient"))).plain.split()[0]
        for r in range(table.row_count)
    ]


def cell(app: AftercareApp, code: str, column: str) -> str:
    table = table_of(app)
    row = codes(app).index(code)
    return table.get_cell_at(Coordinate(row, table.get_column_index(column))).plain


async def put_cursor_on(pilot: Pilot[None], code: str) -> None:
    table = table_of(pilot.app)
    table.move_cursor(row=codes(pilot.app).index(code))
    await pilot.pause()


@pytest.fixture
async def running(clinic: Clinic) -> AsyncIterator[tuple[AftercareApp, Pilot[None]]]:
    app = _app(clinic)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        yield app, pilot


def query(clinic: Clinic, fn: Callable[[Session], Found]) -> Found:
    with clinic.database.sessions() as session:
        return fn(session)


async def test_order_bands_and_literal_markup(running: tuple[AftercareApp, Pilot[None]]) -> None:
    app, _ = running
    assert codes(app) == ["P-1", "P-2", "P-5", "P-3", "P-4"]
    assert cell(app, "P-1", "priority") == "urgent"
    assert cell(app, "P-1", "due").startswith("overdue")
    assert cell(app, "P-3", "due").endswith("left")
    assert cell(app, "P-4", "due").startswith("in ")
    # Patient-written markup shows as typed, never styled or turned into a link.
    assert MARKUP_NAME in cell(app, "P-1", "patient")
    assert "[link=" in cell(app, "P-3", "patient")
    table = table_of(app)
    shown = table.get_cell_at(
        Coordinate(codes(app).index("P-3"), table.get_column_index("patient"))
    )
    assert not any("link" in str(span.style) for span in shown.spans)
    header = str(app.screen.query_one("#queue-counts", Static).render())
    assert "Overdue 2" in header and "Due 2" in header and "Upcoming 1" in header


async def test_cells_coloured_in_the_read_thread_are_the_ones_the_loop_would_make(
    running: tuple[AftercareApp, Pilot[None]],
) -> None:
    # The read's worker thread makes each row's cells with a palette read on the
    # event loop beforehand; they must be exactly what the table would make itself.
    app, _ = running
    screen = app.screen
    assert isinstance(screen, QueueScreen) and screen.page is not None
    page = screen.page
    assert page.cells_narrow is False and len(page.cells) == len(page.rows)
    quiet = app.settings.quiet_channel_days

    def drawn(cells: tuple[Text, ...]) -> list[tuple[str, str, list[tuple[int, int, str]]]]:
        # Words and colours: Text equality alone compares the words only.
        return [
            (c.plain, str(c.style), [(s.start, s.end, str(s.style)) for s in c.spans])
            for c in cells
        ]

    for row, made in zip(page.rows, page.cells, strict=True):
        assert drawn(made) == drawn(row_cells(row, page.read_at, quiet, screen.palette))
    assert any(str(c.style) for made in page.cells for c in made)  # coloured at all
    table = table_of(app)
    first = page.rows[0]
    assert table.get_row(str(first.patient_id)) == list(page.cells[0])


async def test_d_marks_done_with_note(
    running: tuple[AftercareApp, Pilot[None]], clinic: Clinic
) -> None:
    app, pilot = running
    await put_cursor_on(pilot, "P-2")
    before = cell(app, "P-2", "touchpoint")
    await pilot.press("d")
    await pilot.pause()
    app.screen.query_one("#answer", Input).value = "Photos fine, no swelling"
    await pilot.press("enter")
    await settle(pilot)
    assert cell(app, "P-2", "touchpoint") != before
    done = query(
        clinic,
        lambda s: s.scalars(
            select(Touchpoint).where(
                Touchpoint.patient_id == clinic.ids["overdue"], Touchpoint.resolution.is_not(None)
            )
        ).all(),
    )
    assert [(t.day, t.resolution, t.note) for t in done] == [
        (1, TouchpointResolution.DONE, "Photos fine, no swelling")
    ]
    assert query(clinic, lambda s: s.scalar(select(func.count()).select_from(AuditEvent))) == 1


async def test_s_needs_a_reason(running: tuple[AftercareApp, Pilot[None]], clinic: Clinic) -> None:
    app, pilot = running
    await put_cursor_on(pilot, "P-3")
    await pilot.press("s")
    await pilot.pause()
    await pilot.press("enter")  # empty reason
    await pilot.pause()
    assert "needs an answer" in str(app.screen.query_one("#error", Static).render())
    app.screen.query_one("#answer", Input).value = "Patient travelling, asked for next week"
    await pilot.press("enter")
    await settle(pilot)
    skipped = query(
        clinic,
        lambda s: s.scalar(
            select(Touchpoint.note).where(
                Touchpoint.patient_id == clinic.ids["due"],
                Touchpoint.resolution == TouchpointResolution.SKIPPED,
            )
        ),
    )
    assert skipped == "Patient travelling, asked for next week"


async def test_c_logs_attempts_until_unreachable(
    running: tuple[AftercareApp, Pilot[None]], clinic: Clinic
) -> None:
    app, pilot = running
    await put_cursor_on(pilot, "P-2")
    first_touchpoint = cell(app, "P-2", "touchpoint")
    for attempt in range(3):
        await pilot.press("c")
        await pilot.pause()
        from textual.widgets import Select

        app.screen.query_one("#outcome", Select).value = ContactOutcome.NO_ANSWER
        app.screen.query_one("#note", Input).value = f"try {attempt + 1}"
        await pilot.click("#save")
        await settle(pilot)
        await put_cursor_on(pilot, "P-2")
    attempts = query(
        clinic,
        lambda s: s.scalars(
            select(ContactAttempt.note)
            .where(ContactAttempt.patient_id == clinic.ids["overdue"])
            .order_by(ContactAttempt.id)
        ).all(),
    )
    assert attempts == ["try 1", "try 2", "try 3"]
    day1 = query(
        clinic,
        lambda s: s.scalar(
            select(Touchpoint.resolution).where(
                Touchpoint.patient_id == clinic.ids["overdue"], Touchpoint.day == 1
            )
        ),
    )
    assert day1 == TouchpointResolution.UNREACHABLE
    assert cell(app, "P-2", "touchpoint") != first_touchpoint
    assert cell(app, "P-2", "last") == "0m ago"


async def test_a_claims_and_releases_and_reports_a_holder(
    running: tuple[AftercareApp, Pilot[None]], clinic: Clinic
) -> None:
    app, pilot = running
    await put_cursor_on(pilot, "P-4")
    await pilot.press("a")
    await settle(pilot)
    assert cell(app, "P-4", "assigned") == clinic.me.display_name
    await put_cursor_on(pilot, "P-4")
    await pilot.press("a")
    await settle(pilot)
    assert cell(app, "P-4", "assigned") == "—"
    await put_cursor_on(pilot, "P-5")
    await pilot.press("a")
    await settle(pilot)
    assert cell(app, "P-5", "assigned") == clinic.colleague.display_name
    notes = [n.message for n in app._notifications]
    assert any("already holds this patient" in str(n) for n in notes)


async def test_y_copies_the_message_and_logs_it(
    running: tuple[AftercareApp, Pilot[None]], clinic: Clinic
) -> None:
    app, pilot = running
    await put_cursor_on(pilot, "P-3")
    await pilot.press("y")
    await settle(pilot)
    assert "911" in app.clipboard  # US patient: the local emergency number
    assert LINK_NAME in app.clipboard
    outcome = query(
        clinic,
        lambda s: s.scalar(
            select(ContactAttempt.outcome).where(ContactAttempt.patient_id == clinic.ids["due"])
        ),
    )
    assert outcome == ContactOutcome.MESSAGE_SENT


async def test_filters(running: tuple[AftercareApp, Pilot[None]], clinic: Clinic) -> None:
    app, pilot = running
    with transaction(clinic.database.sessions) as session:
        claim_patient(
            session, patient_id=clinic.ids["upcoming"], actor=clinic.me, now=clinic.clock.now()
        )
    await pilot.press("m")
    await settle(pilot)
    assert codes(app) == ["P-4"]
    await pilot.press("u")
    await settle(pilot)
    assert codes(app) == ["P-1", "P-2", "P-3"]
    await pilot.press("x", "o")
    await settle(pilot)
    assert codes(app) == ["P-1", "P-2"]
    await pilot.press("x", "v", "v", "v")  # monitor+, review+, urgent+
    await settle(pilot)
    assert codes(app) == ["P-1"]
    await pilot.press("x", "g")
    await pilot.pause()
    app.screen.query_one("#answer", Input).value = "us"
    await pilot.press("enter")
    await settle(pilot)
    assert codes(app) == ["P-3"]
    await pilot.press("x", "l")
    await pilot.pause()
    app.screen.query_one("#answer", Input).value = "JA"
    await pilot.press("enter")
    await settle(pilot)
    assert codes(app) == ["P-1", "P-2", "P-5", "P-3", "P-4"]
    await pilot.press("x", "slash")
    await pilot.pause()
    app.screen.query_one("#answer", Input).value = "tana"
    await pilot.press("enter")
    await settle(pilot)
    assert codes(app) == ["P-4"]
    header = str(app.screen.query_one("#queue-counts", Static).render())
    assert "search 'tana'" in header
    await pilot.press("x")
    await settle(pilot)
    assert len(codes(app)) == 5


async def test_help_lists_every_key_and_palette_has_every_action(
    running: tuple[AftercareApp, Pilot[None]],
) -> None:
    app, pilot = running
    await pilot.press("question_mark")
    await pilot.pause()
    help_modal = app.screen
    assert isinstance(help_modal, HelpScreen)
    shown = {row.keys for row in help_modal.rows}
    keys = ["enter", "c", "d", "s", "a", "y", "/", "m", "u", "o", "v", "g", "l", "x", "?", "!"]
    for key in keys:
        assert key in shown, key
    await pilot.press("escape")
    queue = app.screen
    assert isinstance(queue, QueueScreen)
    titles = {command.title for command in app.get_system_commands(queue)}
    for action in [
        "Contact",
        "Done",
        "Skip",
        "Claim",
        "Copy msg",
        "Search",
        "Mine",
        "Open",
        "Unassigned",
        "Overdue",
        "Severity",
        "Country",
        "Language",
        "Clear",
    ]:
        assert action in titles, action


async def test_read_only_login_writes_nothing(clinic: Clinic) -> None:
    app = AftercareApp(
        clinic.database,
        Settings(database_url="sqlite:///unused.db"),
        clinic.clock,
        actor=None,
        login="intruder",
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("c", "d", "s", "a", "y"):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, QueueScreen)
    assert query(clinic, lambda s: s.scalar(select(func.count()).select_from(AuditEvent))) == 0


async def test_enter_opens_the_patient_and_keys_work_there(
    running: tuple[AftercareApp, Pilot[None]], clinic: Clinic
) -> None:
    from tui.screens.patient import PatientScreen

    app, pilot = running
    await put_cursor_on(pilot, "P-2")
    await pilot.press("enter")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, PatientScreen)
    assert screen.dossier is not None and screen.dossier.identity.code == "P-2"
    await pilot.press("d")
    await pilot.pause()
    app.screen.query_one("#answer", Input).value = "checked from the patient screen"
    await pilot.press("enter")
    await settle(pilot)
    note = query(
        clinic,
        lambda s: s.scalar(
            select(Touchpoint.note).where(
                Touchpoint.patient_id == clinic.ids["overdue"], Touchpoint.day == 1
            )
        ),
    )
    assert note == "checked from the patient screen"
    assert screen.dossier is not None
    assert any("checked from the patient screen" in e.detail for e in screen.dossier.timeline)
    await pilot.press("escape")
    await settle(pilot)
    assert isinstance(app.screen, QueueScreen)


# --- messages are not failures; unreachable is said in words ----------------------------


async def _log_no_answer(pilot: Pilot[None], note: str) -> None:
    from textual.widgets import Select

    app = pilot.app
    await pilot.press("c")
    await pilot.pause()
    app.screen.query_one("#outcome", Select).value = ContactOutcome.NO_ANSWER
    app.screen.query_one("#note", Input).value = note
    await pilot.click("#save")
    await settle(pilot)


def _day1_of(clinic: Clinic, patient: str) -> object:
    return query(
        clinic,
        lambda s: s.scalar(
            select(Touchpoint.resolution).where(
                Touchpoint.patient_id == clinic.ids[patient], Touchpoint.day == 1
            )
        ),
    )


async def test_three_y_presses_leave_the_check_in_open(
    running: tuple[AftercareApp, Pilot[None]], clinic: Clinic
) -> None:
    app, pilot = running
    first_touchpoint = cell(app, "P-3", "touchpoint")
    for _ in range(3):
        await put_cursor_on(pilot, "P-3")
        await pilot.press("y")
        await settle(pilot)
    outcomes = query(
        clinic,
        lambda s: s.scalars(
            select(ContactAttempt.outcome).where(ContactAttempt.patient_id == clinic.ids["due"])
        ).all(),
    )
    assert outcomes == [ContactOutcome.MESSAGE_SENT] * 3
    assert _day1_of(clinic, "due") is None
    assert cell(app, "P-3", "touchpoint") == first_touchpoint
    notes = [str(n.message) for n in app._notifications]
    assert not any("unreachable" in note for note in notes)
    assert any("only if the patient has not replied within 24 h" in note for note in notes)


async def test_third_no_answer_says_unreachable_in_the_toast(
    running: tuple[AftercareApp, Pilot[None]], clinic: Clinic
) -> None:
    app, pilot = running
    for attempt in range(3):
        await put_cursor_on(pilot, "P-2")
        await _log_no_answer(pilot, f"try {attempt + 1}")
    notes = [str(n.message) for n in app._notifications]
    assert notes[-1] == (
        "Contact attempt logged: no answer. Day 1 check-in is now unreachable after "
        "3 failed attempts (3 unanswered calls); moved to the next touchpoint."
    )
    assert not any("no_answer" in note for note in notes)  # words, never the stored code
    assert _day1_of(clinic, "overdue") == TouchpointResolution.UNREACHABLE


async def test_a_message_unanswered_for_a_day_counts_as_a_failure(
    running: tuple[AftercareApp, Pilot[None]], clinic: Clinic
) -> None:
    app, pilot = running
    await put_cursor_on(pilot, "P-2")
    await pilot.press("y")
    await settle(pilot)
    clinic.clock.advance(timedelta(hours=25))
    for attempt in range(2):
        await put_cursor_on(pilot, "P-2")
        await _log_no_answer(pilot, f"call {attempt + 1}")
    notes = [str(n.message) for n in app._notifications]
    assert notes[-1] == (
        "Contact attempt logged: no answer. Day 1 check-in is now unreachable after "
        "3 failed attempts (2 unanswered calls, 1 message without reply for 24 h); "
        "moved to the next touchpoint."
    )
    assert _day1_of(clinic, "overdue") == TouchpointResolution.UNREACHABLE


async def test_y_asks_before_copying_english_to_a_thai_reader(clinic: Clinic) -> None:
    from tui.modals import ConfirmModal

    with transaction(clinic.database.sessions) as session:
        session.get_one(Patient, clinic.ids["due"]).language = "th"
    app = _app(clinic)

    def attempts() -> object:
        return query(
            clinic,
            lambda s: s.scalars(
                select(ContactAttempt.note).where(ContactAttempt.patient_id == clinic.ids["due"])
            ).all(),
        )

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.copy_to_clipboard("before")
        await put_cursor_on(pilot, "P-3")
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        question = str(app.screen.query_one(Label).render())
        assert "No Thai catalogue: the message will be in English. Copy anyway?" in question
        assert attempts() == [] and app.clipboard == "before"  # nothing before the answer
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert attempts() == [] and app.clipboard == "before"
        await put_cursor_on(pilot, "P-3")
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("y")  # yes
        await settle(pilot)
        assert attempts() == ["aftercare message in English"]
        assert app.clipboard.startswith("Hi ")
        assert "Today is day 1 " in app.clipboard  # procedure yesterday, Seoul calendar
