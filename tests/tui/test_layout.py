"""Issue 16's layout: the queue opens at its top, Home and End, help and footer that
name every screen, and 80x24 that shows what a coordinator acts on."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from core.clock import FixedClock
from core.commands import NewShift
from core.domain import Disposition, Role
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.oncall import set_shift
from tests.factories import add_patient, add_staff
from tests.tui.pilot import settle, workstation
from tui.app import AftercareApp
from tui.footer import ClinicFooter, Shown, fitting, shown_keys
from tui.help import HelpScreen
from tui.keys import key_words
from tui.screens.oncall import OnCallScreen
from tui.screens.queue import QueueScreen

PATIENTS = 30
"""More than an 80x24 or 120x40 queue shows, so where it is scrolled matters."""


@pytest.fixture
def crowded(engine: Engine, clock: FixedClock) -> AftercareApp:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        admin = add_staff(session, "it.admin", Role.ADMIN, now)
        add_staff(session, "dr.kim", Role.PHYSICIAN, now).notify_tag = "dr-kim"
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        for i in range(PATIENTS):
            # Every third one overdue (procedure 2-21 days ago), the rest upcoming.
            days = 2 + i % 20 if i % 3 == 0 else -1 - i % 5
            add_patient(
                session,
                f"P-{i:03d}",
                procedure_at=now - timedelta(days=days, hours=i % 7),
                created_at=now,
                disposition=Disposition.REVIEW if i % 9 == 0 else None,
                family_name="Wu" if i % 10 == 0 else "Tanaka",
            )
        boss = Actor(admin.id, admin.username, admin.display_name, Role.ADMIN)
        set_shift(
            session,
            now,
            boss,
            NewShift("dr.kim", now - timedelta(hours=1), now + timedelta(hours=5)),
        )
    return workstation(engine, clock, actor, run_dispatcher=False, clinic_name="Seoul Test Clinic")


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""For what is about the screen, not the database: one backend is enough."""


def _table(app: AftercareApp) -> DataTable[Text]:
    return app.screen.query_one("#queue-table", DataTable)


def _at_top(app: AftercareApp) -> bool:
    table = _table(app)
    return table.cursor_row == 0 and table.scroll_y == 0


async def _far_down(pilot: Pilot[None]) -> None:
    # Where the coordinator had scrolled to: set directly, the arrow keys are Textual's.
    _table(pilot.app).move_cursor(row=25, animate=False)  # type: ignore[arg-type]
    await pilot.pause()
    assert not _at_top(pilot.app)  # type: ignore[arg-type]


def screen_lines(app: AftercareApp) -> list[str]:
    """What the terminal shows, line by line."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False).splitlines()


async def test_the_queue_opens_at_its_top_after_every_filter_change(
    crowded: AftercareApp,
) -> None:
    async with crowded.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert _at_top(crowded)
        queue = crowded.screen
        assert isinstance(queue, QueueScreen)
        first = _table(crowded).get_row_at(0)[1].plain

        # A filter set, then taken off again.
        for key in ("o", "o"):
            await _far_down(pilot)
            await pilot.press(key)
            await settle(pilot)
            assert _at_top(crowded), f"after {key!r}"
        assert _table(crowded).get_row_at(0)[1].plain == first

        # A search, then every filter cleared.
        await _far_down(pilot)
        await pilot.press("slash")
        await pilot.pause()
        crowded.screen.query_one("#answer", Input).value = "Wu"
        await pilot.press("enter")
        await settle(pilot)
        assert queue.wanted.search == "Wu" and _table(crowded).row_count == PATIENTS // 10
        assert _at_top(crowded)
        await pilot.press("x")
        await settle(pilot)
        assert _table(crowded).row_count == PATIENTS
        assert _at_top(crowded) and _table(crowded).get_row_at(0)[1].plain == first

        # A re-read with the same filters keeps the coordinator where they were.
        await _far_down(pilot)
        row = _table(crowded).cursor_row
        await pilot.press("r")
        await settle(pilot)
        assert _table(crowded).cursor_row == row and not _at_top(crowded)

        # End and Home: the last and the first row (not only sideways).
        await pilot.press("end")
        await pilot.pause()
        table = _table(crowded)
        assert table.cursor_row == PATIENTS - 1 and table.scroll_y == table.max_scroll_y > 0
        await pilot.press("home")
        await pilot.pause()
        assert _at_top(crowded)


@SQLITE_ONLY
async def test_80x24_shows_what_a_coordinator_acts_on(crowded: AftercareApp) -> None:
    async with crowded.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # The queue: the clinic in the title bar, the five columns whole, help and quit.
        lines = screen_lines(crowded)
        assert "Seoul Test Clinic" in lines[0], "the title bar names the clinic"
        assert lines[2].split()[:5] == ["Priority", "Patient", "Local", "Due", "Next"]
        table = _table(crowded)
        for index in range(table.size.height - 2):
            drawn, at = lines[3 + index], 0
            for cell in (table.get_row_at(index)[c].plain for c in range(5)):
                found = drawn.find(cell, at)
                assert found >= 0, f"{cell!r} not whole on {drawn!r}"
                at = found + len(cell)
        for words in ("? Help", "q Quit", "! Alerts", "i Incidents", "O On-call"):
            assert words in lines[-1]
        assert all(len(line) <= 80 for line in lines)

        # The help box: its last row and closing line drawn once scrolled to the end.
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = crowded.screen
        assert isinstance(help_screen, HelpScreen)
        await pilot.press("end")
        await pilot.pause(0.3)
        drawn_help = "\n".join(screen_lines(crowded))
        last = help_screen.rows[-1]
        for word in last.does.split():
            assert word in drawn_help, f"{word!r} of the last row is cut"
        assert last.binding_id in drawn_help and "escape closes" in drawn_help
        await pilot.press("escape")

        # The on-call screen: where an oncall page goes, beside the times.
        await pilot.press("O")
        await settle(pilot)
        lines = screen_lines(crowded)
        assert "Pages go to" in next(line for line in lines if "When" in line)
        assert any("dr.kim" in line and "dr-kim" in line for line in lines)


@SQLITE_ONLY
async def test_the_queue_is_laid_out_again_for_another_width(crowded: AftercareApp) -> None:
    async with crowded.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        footer = crowded.screen.query_one(ClinicFooter)
        wide_keys = list(shown_keys(footer))
        _table(crowded).move_cursor(row=3, animate=False)
        kept = _table(crowded).get_row_at(3)[1].plain
        assert next(iter(_table(crowded).get_column("local"))).plain[:3].isalpha()  # "Sun"
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        table = _table(crowded)
        assert table.get_row_at(table.cursor_row)[1].plain == kept
        assert ":" in next(iter(table.get_column("local"))).plain[:3]  # "15:00"
        narrow_keys = list(shown_keys(footer))
        assert {"?", "q", "!", "i", "O"} <= set(narrow_keys) and narrow_keys != wide_keys
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        assert "Local now" in screen_lines(crowded)[2]
        assert list(shown_keys(footer)) == wide_keys


@SQLITE_ONLY
async def test_help_footer_and_palette_name_every_screen_once(crowded: AftercareApp) -> None:
    # The keys that open a screen from anywhere are the app's own bindings.
    screen_keys = {
        binding.id: key_words(binding.key)
        for binding in AftercareApp.BINDINGS
        if isinstance(binding, Binding) and binding.id is not None
    }
    assert {"app.alerts", "app.incidents", "app.oncall"} <= set(screen_keys)
    async with crowded.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = [command.title for command in crowded.get_system_commands(crowded.screen)]
        assert titles.count("Quit") == 1 and len(titles) == len(set(titles))
        for key in (None, "i", "O"):
            if key is not None:
                await pilot.press("escape", key)
                await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            help_screen = crowded.screen
            assert isinstance(help_screen, HelpScreen)
            listed = {row.binding_id: row.keys for row in help_screen.rows}
            # Every other screen's key; the one that opens this screen is not offered here.
            here = {"i": "app.incidents", "O": "app.oncall"}.get(key or "")
            for binding_id, keys in screen_keys.items():
                if binding_id != here:
                    assert listed.get(binding_id) == keys, (key, binding_id)
            # No key is written by its Unicode name ("question_mark"), on any screen.
            assert not any("_" in row.keys for row in help_screen.rows), help_screen.rows
            await pilot.press("escape")
            await pilot.pause()
        # The on-call footer offers every other screen, and not itself.
        assert isinstance(crowded.screen, OnCallScreen)
        footer = screen_lines(crowded)[-1]
        assert "! Alerts" in footer and "i Incidents" in footer and "O On-call" not in footer


def _shown(key: str, description: str, action: str, binding_id: str) -> Shown:
    return Shown(Binding(key, action, description, id=binding_id), key, True, "")


def test_the_footer_keeps_help_and_quit_and_then_the_screens() -> None:
    own = [_shown(k, d, d.lower(), f"queue.{d}") for k, d in (("c", "Contact"), ("d", "Done"))]
    screens = [_shown("i", "Incidents", "open_incidents", "app.incidents")]
    pinned = [
        _shown("?", "Help", "help", "queue.help"),
        _shown("q", "Quit", "app.quit", "queue.quit"),
    ]
    every = [*own, *pinned, *screens]
    assert fitting(every, 200) == [*own, *screens, *pinned]
    # Room for help, quit and one more: the screen's key goes before the screens'.
    room = sum(item.width for item in (*pinned, *screens))
    assert fitting(every, room) == [*screens, *pinned]
    assert fitting(every, 0) == pinned
