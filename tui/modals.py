"""Small modal forms that return a typed result (None when cancelled), and the
one yes/no question every screen asks before an action that cannot be undone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

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

SAVE_KEY = "(ctrl+s)"
CANCEL_KEY = "(esc)"
"""The keys written on a form's buttons: the form covers the screen's footer."""


class FormModal(ModalScreen[Result | None]):
    """Shared shape of a form: a heading, fields, an error line, an OK (Save) and a
    Cancel button.

    A form gives its heading to `__init__` and yields its own fields from
    `fields`; `compose` puts them between the heading and the buttons. (A form
    laid out otherwise overrides `compose` and still uses `buttons`.) A form
    never closes on bad input: `refuse` names what is wrong and keeps
    everything typed so far. ctrl+s saves from any field, as the OK button
    does; both keys are written on the buttons, since a form covers the
    screen's footer. A form with `ASK_BEFORE_DISCARD` asks before Escape
    throws away what was typed.
    """

    BINDINGS = [
        bind("form.cancel", "escape", "cancel", "Cancel", "Close without saving"),
        bind("form.save", "ctrl+s", "save", "Save", "Save the form from any field"),
    ]

    FORM_CLASSES = "form"
    """The frame's classes: "form wide" for long fields."""
    OK_BUTTON = ("Save", "save")
    """The OK button's label and id."""
    ERROR_LINE = True
    """False for a form whose every choice is valid: no line for an error."""
    ASK_BEFORE_DISCARD = False
    """True: Escape asks before throwing away a form that differs from how it opened."""
    DISCARD_QUESTION = "Throw away what you typed? Nothing of this form is saved."

    def __init__(self, heading: str = "") -> None:
        super().__init__()
        self._heading = heading
        self._as_opened: dict[str, object] | None = None

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
            yield Button(f"{ok} {SAVE_KEY}", variant="primary", id=ok_id)
            yield Button(f"Cancel {CANCEL_KEY}", id="cancel")

    def refuse(self, message: str) -> None:
        """Say what is wrong; the form stays open with what was typed."""
        self.query_one("#error", Static).update(Text(message, style="bold red"))

    def action_save(self) -> None:
        """ctrl+s: what the OK button does, from any field."""
        self.query_one(f"#{self.OK_BUTTON[1]}", Button).press()

    def remember_as_opened(self) -> None:
        """Take what the form shows now as "nothing typed yet" (call once it is filled in)."""
        self._as_opened = self.typed_now()

    def typed_now(self) -> dict[str, object]:
        """Every field holding something, by id."""
        typed: dict[str, object] = {}
        for widget in self.query("Input, Select, Checkbox"):
            value = cast("Any", widget).value
            if widget.id and value not in ("", False, Select.NULL):
                typed[widget.id] = value
        return typed

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without saving; a form that asks does so when something was typed."""
        if not self.ASK_BEFORE_DISCARD or self.typed_now() == (self._as_opened or {}):
            self.dismiss(None)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(None)

        self.app.push_screen(ConfirmModal(Text(self.discard_question())), answered)

    def discard_question(self) -> str:
        """What Escape asks before throwing the form away."""
        return self.DISCARD_QUESTION


@dataclass(frozen=True)
class ContactAttemptForm:
    """What the coordinator entered for one contact attempt."""

    channel: Channel
    outcome: ContactOutcome
    note: str


class ContactAttemptModal(FormModal[ContactAttemptForm]):
    """Log a contact attempt: channel, outcome, note."""

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
        # No outcome is chosen at first: an unthinking Enter must not log a success.
        yield Select(
            [(label, o) for o, label in _OUTCOME_LABELS.items()],
            prompt="Outcome: choose one",
            id="outcome",
        )
        yield Input(placeholder="Note (optional)", id="note")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#note")
    def _save(self) -> None:
        channel = self.query_one("#channel", Select).value
        outcome = self.query_one("#outcome", Select)
        assert isinstance(channel, Channel)
        if not isinstance(outcome.value, ContactOutcome):
            self.refuse("Choose the outcome first: reached, no answer, message sent…")
            outcome.focus()
            return
        self.dismiss(
            ContactAttemptForm(channel, outcome.value, self.query_one("#note", Input).value)
        )


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
            self.refuse("This needs an answer.")
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
