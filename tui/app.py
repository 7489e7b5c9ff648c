"""The aftercare Textual application: the database, clock, settings and who is working."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from zoneinfo import ZoneInfo

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from core.clock import Clock, SystemClock
from core.config import Settings
from db.database import Database
from db.followup import Actor
from tui.screens.queue import QueueScreen


class AftercareApp(App[None]):
    """The coordinator workstation."""

    TITLE = "aftercare"
    CSS_PATH = "aftercare.tcss"

    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Clock | None = None,
        *,
        actor: Actor | None = None,
        login: str = "",
    ) -> None:
        super().__init__()
        self.database = database
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.actor = actor
        """The staff member at the keyboard; None means read-only."""
        self.login = login or (actor.username if actor else "")
        self.clinic_tz = ZoneInfo(settings.clinic_timezone)
        self.sub_title = settings.clinic_name

    def on_mount(self) -> None:
        self.push_screen(QueueScreen())
        if self.actor is None:
            self.notify(
                f"Login {self.login!r} is not an active staff member: read-only.",
                severity="warning",
                timeout=10,
            )

    def open_patient(self, patient_id: int) -> None:
        """Show one patient's screen."""
        from tui.screens.patient import PatientScreen

        self.push_screen(PatientScreen(self.database, self.clock, patient_id))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette offers every action of the current screen, not only the app's."""
        yield from super().get_system_commands(screen)
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                yield SystemCommand(
                    binding.description,
                    binding.tooltip or binding.description,
                    partial(screen.run_action, binding.action),
                )
