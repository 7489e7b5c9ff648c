"""Small modal forms that return a typed result (None when cancelled), and the
one yes/no question every screen asks before an action that cannot be undone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from core.domain import Channel, ContactOutcome
from tui.keys import bind

_OUTCOME_LABELS = {
    ContactOutcome.REACHED: "Reached the patient",
    ContactOutcome.NO_ANSWER: "No answer",
    ContactOutcome.MESSAGE_SENT: "Message sent, no reply yet",
    ContactOutcome.PHOTO_RECEIVED: "Photo received",
    ContactOutcome.CALL_LATER: "Patient asked to call later",
}

Result = TypeVar("Result")


class FormModal(ModalScreen[Result | None]):
    """Shared shape of a form: a heading, fields, an error line, an OK (Save) and a
    Cancel button.

    A form gives its heading to `__init__` and yields its own fields from
    `fields`; `compose` puts them between the heading and the buttons. (A form
    laid out otherwise overrides `compose` and still uses `buttons`.) A form
    never closes on bad input: `refuse` names what is wrong and keeps
    everything typed so far.
    """

    BINDINGS = [bind("form.cancel", "escape", "cancel", "Cancel", "Close without saving")]

    FORM_CLASSES = "form"
    """The frame's classes: "form wide" for long fields."""
    OK_BUTTON = ("Save", "save")
    """The OK button's label and id."""
    ERROR_LINE = True
    """False for a form whose every choice is valid: no line for an error."""

    def __init__(self, heading: str = "") -> None:
        super().__init__()
        self._heading = heading

    def compose(self) -> ComposeResult:
        with Vertical(classes=self.FORM_CLASSES):
            yield Label(Text(self._heading))
            yield from self.fields()
            yield from self.buttons(*self.OK_BUTTON, errors=self.ERROR_LINE)

    def fields(self) -> ComposeResult:
        """The form's own fields, under its heading."""
        return iter(())

    def buttons(
        self, ok: str = "Save", ok_id: str = "save", *, errors: bool = True
    ) -> ComposeResult:
        """The error line (unless the form cannot go wrong) and the two buttons, last."""
        if errors:
            yield Static("", id="error", classes="error")
        with Horizontal(classes="buttons"):
            yield Button(ok, variant="primary", id=ok_id)
            yield Button("Cancel", id="cancel")

    def refuse(self, message: str) -> None:
        """Say what is wrong; the form stays open with what was typed."""
        self.query_one("#error", Static).update(Text(message, style="bold red"))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)


@dataclass(frozen=True)
class ContactAttemptForm:
    """What the coordinator entered for one contact attempt."""

    channel: Channel
    outcome: ContactOutcome
    note: str


class ContactAttemptModal(FormModal[ContactAttemptForm]):
    """Log a contact attempt: channel, outcome, note."""

    ERROR_LINE = False

    def __init__(self, patient: str, touchpoint: str, channel: Channel) -> None:
        super().__init__(f"Contact attempt: {patient}, {touchpoint}")
        self._channel = channel

    def fields(self) -> ComposeResult:
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

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#note")
    def _save(self) -> None:
        channel = self.query_one("#channel", Select).value
        outcome = self.query_one("#outcome", Select).value
        assert isinstance(channel, Channel) and isinstance(outcome, ContactOutcome)
        self.dismiss(ContactAttemptForm(channel, outcome, self.query_one("#note", Input).value))


class TextPromptModal(FormModal[str]):
    """Ask for one line of text; `required` refuses an empty answer with a message."""

    OK_BUTTON = ("OK", "ok")

    def __init__(
        self, title: str, placeholder: str = "", *, required: bool = False, value: str = ""
    ) -> None:
        super().__init__(title)
        self._placeholder = placeholder
        self._required = required
        self._value = value

    def fields(self) -> ComposeResult:
        yield Input(value=self._value, placeholder=self._placeholder, id="answer")

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#answer")
    def _ok(self) -> None:
        answer = self.query_one("#answer", Input).value.strip()
        if self._required and not answer:
            self.query_one("#error", Static).update("This needs an answer.")
            return
        self.dismiss(answer)


class ConfirmModal(ModalScreen[bool]):
    """Ask yes or no; `y` confirms, `n`/escape cancels, and "No" has the focus."""

    BINDINGS = [
        bind("confirm.no", "escape,n", "answer(False)", "No", "Answer no: nothing is done"),
        bind("confirm.yes", "y", "answer(True)", "Yes", "Answer yes"),
    ]

    def __init__(self, question: Text) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label(self._question)
            with Horizontal(classes="buttons"):
                yield Button("Yes", variant="error", id="yes")
                yield Button("No", id="no")

    def on_mount(self) -> None:
        # Focus "No": an accidental enter must not close an alert or cancel a shift.
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)
