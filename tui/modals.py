"""Small modal forms that return a typed result (None when cancelled)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from core.domain import Channel, ContactOutcome

_OUTCOME_LABELS = {
    ContactOutcome.REACHED: "Reached the patient",
    ContactOutcome.NO_ANSWER: "No answer",
    ContactOutcome.MESSAGE_SENT: "Message sent, no reply yet",
    ContactOutcome.PHOTO_RECEIVED: "Photo received",
    ContactOutcome.CALL_LATER: "Patient asked to call later",
}


@dataclass(frozen=True)
class ContactAttemptForm:
    """What the coordinator entered for one contact attempt."""

    channel: Channel
    outcome: ContactOutcome
    note: str


class ContactAttemptModal(ModalScreen[ContactAttemptForm | None]):
    """Log a contact attempt: channel, outcome, note."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, patient: str, touchpoint: str, channel: Channel) -> None:
        super().__init__()
        self._patient = patient
        self._touchpoint = touchpoint
        self._channel = channel

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label(Text(f"Contact attempt: {self._patient}, {self._touchpoint}"))
            yield Select(
                [(c.value, c) for c in Channel],
                value=self._channel,
                allow_blank=False,
                id="channel",
            )
            yield Select(
                [(label, o) for o, label in _OUTCOME_LABELS.items()],
                value=ContactOutcome.REACHED,
                allow_blank=False,
                id="outcome",
            )
            yield Input(placeholder="Note (optional)", id="note")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#note")
    def _save(self) -> None:
        channel = self.query_one("#channel", Select).value
        outcome = self.query_one("#outcome", Select).value
        assert isinstance(channel, Channel) and isinstance(outcome, ContactOutcome)
        self.dismiss(ContactAttemptForm(channel, outcome, self.query_one("#note", Input).value))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)


class TextPromptModal(ModalScreen[str | None]):
    """Ask for one line of text; `required` refuses an empty answer with a message."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, placeholder: str = "", *, required: bool = False, value: str = ""
    ) -> None:
        super().__init__()
        self._title = title
        self._placeholder = placeholder
        self._required = required
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label(Text(self._title))
            yield Input(value=self._value, placeholder=self._placeholder, id="answer")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#answer")
    def _ok(self) -> None:
        answer = self.query_one("#answer", Input).value.strip()
        if self._required and not answer:
            self.query_one("#error", Static).update("This needs an answer.")
            return
        self.dismiss(answer)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)


class HelpModal(ModalScreen[None]):
    """Every key of the screen underneath, with what it does."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self._title = title
        self._keys = keys

    def compose(self) -> ComposeResult:
        lines = Text(f"{self._title}\n\n", style="bold")
        width = max((len(k) for k, _ in self._keys), default=0)
        for key, description in self._keys:
            lines.append(f"  {key:<{width}}  ", style="bold cyan")
            lines.append(f"{description}\n")
        lines.append("\nctrl+p opens the command palette with every action.", style="dim")
        with Vertical(classes="form help"):
            yield Static(lines, id="help-text")

    def action_close(self) -> None:
        """Back to the screen."""
        self.dismiss(None)
