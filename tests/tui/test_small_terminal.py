"""The four main screens at 80x24 in a 256-colour terminal (xterm-256color, no COLORTERM).

What matters over a small SSH window: the lines a coordinator acts on are on
screen, and no text disappears when the terminal maps the theme's colours
to its 256-colour palette (foreground and background becoming one colour).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from rich.color import ColorSystem
from rich.console import Console
from textual.pilot import Pilot

from core.clock import FixedClock
from core.config import Settings
from db.database import initialise_database, open_database
from db.demo import load_demo
from db.engine import make_engine
from db.followup import find_actor
from tests.tui.pilot import workers_done
from tui.app import AftercareApp
from tui.screens.alerts import AlertsScreen
from tui.screens.incidents import IncidentLogScreen
from tui.screens.patient import PatientScreen
from tui.screens.queue import QueueScreen

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
SIZE = (80, 24)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('small') / 'demo.db'}"
    initialise_database(url)
    engine = make_engine(url)
    try:
        load_demo(engine, patients=300, seed=1, now=NOW)
    finally:
        engine.dispose()
    return url


def screen_in_256_colours(app: AftercareApp) -> tuple[list[str], list[str]]:
    """The screen's text lines, and every piece of text drawn in its own background colour."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    invisible: list[str] = []
    for segment in console._record_buffer:
        style = segment.style
        if style is None or style.color is None or style.bgcolor is None:
            continue
        if not segment.text.strip():
            continue
        # What a 256-colour terminal shows: the nearest palette entry to each colour.
        fg = style.color.downgrade(ColorSystem.EIGHT_BIT).number
        bg = style.bgcolor.downgrade(ColorSystem.EIGHT_BIT).number
        if fg == bg:
            invisible.append(segment.text)
    lines = console.export_text(styles=False).splitlines()
    return lines, invisible


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(4):
        await workers_done(pilot.app)
        await pilot.pause()


async def test_main_screens_at_80x24_in_256_colours(demo_url: str) -> None:
    database = open_database(demo_url)
    with database.sessions() as session:
        actor = find_actor(session, "demo-rn-park")
    app = AftercareApp(
        database,
        Settings(database_url=demo_url, refresh_seconds=60),
        FixedClock(NOW),
        actor=actor,
        run_dispatcher=False,
    )
    seen: dict[str, list[str]] = {}
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, QueueScreen)
            steps = [
                ("queue", None, QueueScreen),
                ("patient", "enter", PatientScreen),
                ("alerts", "exclamation_mark", AlertsScreen),
                ("incidents", "i", IncidentLogScreen),
            ]
            for name, key, screen_type in steps:
                if key is not None:
                    if name != "patient":
                        await pilot.press("escape")
                        await settle(pilot)
                    await pilot.press(key)
                    await settle(pilot)
                assert isinstance(app.screen, screen_type), name
                lines, invisible = screen_in_256_colours(app)
                assert invisible == [], f"{name}: text lost in 256 colours: {invisible}"
                assert len(lines) == SIZE[1]
                seen[name] = lines
    finally:
        database.close()

    queue, patient, alerts, incidents = (
        seen[n] for n in ("queue", "patient", "alerts", "incidents")
    )
    # The band counts, the first patients and the keys are all on an 80x24 screen.
    assert "Overdue" in queue[1] and "Due" in queue[1] and "Upcoming" in queue[1]
    assert sum("D-0" in line for line in queue) >= 10
    assert "palette" in queue[-1]
    # The emergency number for where the patient is now is never below the fold.
    assert any("Emergency (now in" in line for line in patient[:6])
    assert "Physician alerts" in alerts[0]
    assert "Incident log" in incidents[0]
    assert "Report" in incidents[1] and "Due" in incidents[1]
    assert all(len(line) <= SIZE[0] for line in queue + patient + alerts + incidents)


def test_the_terminal_under_test_is_the_256_colour_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich, which Textual draws through, picks 256 colours for xterm-256color without
    COLORTERM, as over most SSH sessions: the case the test above reproduces."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    console = Console(file=io.StringIO(), force_terminal=True)
    assert console.color_system == "256"
