"""The aftercare Textual application."""

from __future__ import annotations

from textual.app import App

from core.clock import Clock, SystemClock
from core.config import Settings
from db.database import Database
from tui.screens.queue import QueueScreen


class AftercareApp(App[None]):
    """The coordinator workstation; screens get the database and clock they need."""

    TITLE = "aftercare"
    CSS_PATH = "aftercare.tcss"

    def __init__(self, database: Database, settings: Settings, clock: Clock | None = None) -> None:
        super().__init__()
        self.database = database
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.sub_title = settings.clinic_name

    def on_mount(self) -> None:
        self.push_screen(QueueScreen(self.database, self.clock, self.settings.queue_page_size))
