"""What a session whose login an admin disabled shows: one sentence, no patient data.

The app swaps every screen for this one when the Clinic refuses to read for
the signed-in login any more (tui.live.SessionEnded); nothing on it reads the
clinic's data, so nothing of a patient is left on the terminal.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static


class SessionEndedScreen(Screen[None]):
    """The sentence saying why, and how to leave."""

    def __init__(self, sentence: str) -> None:
        super().__init__()
        self.sentence = sentence

    def compose(self) -> ComposeResult:
        # markup=False: the sentence quotes the login as typed, never as Rich markup.
        yield Static(self.sentence, id="session-ended", markup=False)
        yield Static("Press ctrl+q to quit.", id="session-ended-quit", markup=False)
