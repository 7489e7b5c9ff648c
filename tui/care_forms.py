"""The record of care typed by hand, keyboard only: a new patient with their first
episode (`N` on the queue), a returning patient's new episode (`E`), a correction
of the latest episode (`R`) and of who the patient is (`P`, patient screen).

The form hands the text over as typed to `core.records.episode_from_text` and
`core.patient_fields.patient_from_text`, and shows every problem under its own
field, with a summary line and the focus on the first bad field; what was typed
stays. A warning (a lot expired before the procedure) is shown the same way and
saved only when Save is pressed again.

Unlike the small forms, this one calls the Clinic itself (in a thread worker) and
closes only once the record is saved: a refusal by the database (a code already
taken, a physician no longer active, a colleague's correction meanwhile) then
lands beside its field too, with everything typed still there. The fields
themselves are built by tui.care_fields; the screens open the form through
tui.care_opening.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from core.contacts import country_code
from core.countries import country_name
from core.patient_fields import patient_from_text
from core.records import (
    NONE_GIVEN,
    PATIENT_FIELDS,
    TEXT_FIELDS,
    AddOn,
    EpisodeRecord,
    FieldProblem,
    PatientRecord,
    Product,
    RecordRefused,
    RecordSaved,
    episode_from_text,
    field_words,
)
from core.refusals import Refused, StaleEdit
from core.schedules import CLINIC_TZ
from core.zones import suggested_zone, zones_for_country
from tui.care_fields import (
    ADDON_FIELDS,
    PRODUCT_FIELDS,
    YES_NO_KEYS,
    FormChoices,
    episode_widgets,
    given_row,
    opened_time,
    patient_text,
    patient_widgets,
)
from tui.keys import bind
from tui.modals import ConfirmModal, FormModal

if TYPE_CHECKING:
    from tui.app import AftercareApp

_CHOOSE: Final = "not chosen: choose one"


@dataclass(frozen=True)
class Typed:
    """What the form read, checked: the patient and/or the episode it is about."""

    patient: PatientRecord | None
    episode: EpisodeRecord | None


class CareForm(FormModal[RecordSaved]):
    """The patient's fields and/or the episode's, saved by `save` (a Clinic call)."""

    FORM_CLASSES = "form wide care"
    BINDINGS = [bind("care.save", "ctrl+s", "save", "Save", "Save the record from any field")]

    DEFAULT_CSS = """
    CareForm #care-body {
        height: 1fr;
        padding-right: 1;
    }

    CareForm .field, CareForm .row, CareForm .rows {
        height: auto;
    }
    CareForm .field > Label {
        width: 24;
        padding-right: 1;
    }
    CareForm .field > Input, CareForm .field > Select {
        width: 1fr;
    }
    CareForm .section {
        text-style: bold underline;
        margin-top: 1;
    }
    CareForm .row-title {
        text-style: bold;
    }
    CareForm .hint {
        color: $text-muted;
        height: auto;
        padding-left: 24;
    }
    CareForm .field-error {
        color: $error;
        text-style: bold;
        height: auto;
        padding-left: 24;
    }
    CareForm .field-error.-warning {
        color: $warning;
    }
    CareForm .-empty {
        display: none;
    }
    CareForm Checkbox {
        border: none;
        padding: 0;
        height: 1;
    }
    CareForm #care-body Button {
        height: 1;
        min-width: 16;
        border: none;
        margin: 0 0 1 24;
    }
    """

    class Saved(Message):
        """The Clinic saved the record (posted from the saving thread)."""

        def __init__(self, saved: RecordSaved) -> None:
            self.saved = saved
            super().__init__()

    class NotSaved(Message):
        """The Clinic refused: field problems, or one sentence (stale, unavailable)."""

        def __init__(self, problems: Sequence[FieldProblem] = (), reason: str = "") -> None:
            self.problems = tuple(problems)
            self.reason = reason
            super().__init__()

    def __init__(
        self,
        heading: str,
        choices: FormChoices,
        save: Callable[[Typed], RecordSaved],
        *,
        patient_fields: Sequence[str] = (),
        patient: PatientRecord | None = None,
        with_episode: bool = True,
        episode: EpisodeRecord | None = None,
        now: datetime,
    ) -> None:
        super().__init__(heading)
        self._choices = choices
        self._save = save
        self._patient_fields = tuple(patient_fields)
        self._patient = patient
        """The patient as the form opened them (a correction), or None."""
        self._with_episode = with_episode
        if not with_episode:
            self.FORM_CLASSES = "form wide care short"  # the patient alone: no need to scroll
        self._episode = episode
        """The episode as the form opened it (a correction), or None."""
        self._opened_time = opened_time(episode, now)
        self._rows = {"product": 0, "addon": 0}
        """How many rows of each list the form has (empty ones too)."""
        self._product_rows: list[int] = []
        self._addon_rows: list[int] = []
        """The form row of each filled row, as the last Save read them."""
        self._warned: tuple[FieldProblem, ...] = ()
        """The warnings the last Save showed; the same ones again are confirmed."""
        self._saving = False
        self._typed_at_open: dict[str, object] = {}

    # -- layout ------------------------------------------------------------

    def buttons(
        self, ok: str = "Save", ok_id: str = "save", *, errors: bool = True
    ) -> ComposeResult:
        """The summary line and the buttons, one line each: the fields need the room."""
        yield Static("", id="error", classes="error -empty")
        with Horizontal(classes="buttons"):
            yield Button(ok, variant="primary", id=ok_id, compact=True)
            yield Button("Cancel", id="cancel", compact=True)

    def fields(self) -> ComposeResult:
        with VerticalScroll(id="care-body"):
            if self._patient_fields:
                yield Label(Text("Patient"), classes="section")
                yield from patient_widgets(self._patient_fields, self._patient)
            if self._with_episode:
                yield Label(Text("Treatment episode"), classes="section")
                yield from episode_widgets(
                    self._episode, self._choices, self._opened_time, self._row
                )

    def _row(self, kind: str, given: Product | AddOn | None) -> Vertical:
        """The next row of products or add-ons: the form counts them (empty ones too)."""
        self._rows[kind] += 1
        return given_row(kind, self._rows[kind], given)

    def on_mount(self) -> None:
        # Tab goes from field to field; the body scrolls to the focused one by itself.
        self.query_one("#care-body", VerticalScroll).can_focus = False
        self.query("Input, Select").first().focus()
        # What the form opened with, once every field shows it: Escape asks only
        # when something differs.
        self.call_after_refresh(self._remember_opened)

    def _remember_opened(self) -> None:
        self._typed_at_open = self._typed_now()

    # -- as the person types -------------------------------------------------

    @on(Button.Pressed, "#add-product")
    async def _add_product(self) -> None:
        await self._add_row("product")

    @on(Button.Pressed, "#add-addon")
    async def _add_addon(self) -> None:
        await self._add_row("addon")

    async def _add_row(self, kind: str) -> None:
        row = self._row(kind, None)
        await self.query_one(f"#{kind}-rows", Vertical).mount(row)
        row.query_one(Input).focus()

    @on(Input.Changed, "#home_country, #current_country")
    def _country_changed(self) -> None:
        """A one-zone country fills in its zone; a country with several lists them."""
        if "timezone" not in self._patient_fields:
            return
        typed = self._value("current_country") or self._value("home_country")
        try:
            code = country_code(typed)
        except ValueError:
            self._show_hint("timezone", "")
            return
        only, zones = suggested_zone(code), zones_for_country(code)
        zone = self.query_one("#timezone", Input)
        if only is not None:
            zone.value = only
            self._show_hint("timezone", f"{country_name(code)} has one time zone: {only}")
        elif zones:
            if zone.value not in zones:
                zone.value = ""
            self._show_hint(
                "timezone", f"{country_name(code)} has several; choose one: {', '.join(zones)}"
            )
        else:
            self._show_hint("timezone", "")

    # -- cancelling ----------------------------------------------------------

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.prevent_default()  # not FormModal's own handler: it would not ask
        self.action_cancel()

    def action_cancel(self) -> None:
        """Close without saving; ask first when something was typed."""
        if self._saving:  # the record may be written already: wait for the answer
            return
        if self._typed_now() == self._typed_at_open:
            self.dismiss(None)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(None)

        question = Text("Throw away what you typed? Nothing of this form is saved.")
        self.app.push_screen(ConfirmModal(question), answered)

    def _typed_now(self) -> dict[str, object]:
        """Every field holding something, by id (an empty row added is not typing)."""
        typed: dict[str, object] = {}
        for widget in self.query("Input, Select, Checkbox"):
            value = cast("Any", widget).value
            if widget.id and value not in ("", False, Select.NULL):
                typed[widget.id] = value
        return typed

    # -- saving --------------------------------------------------------------

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Check everything typed and save (Save, or ctrl+s from any field)."""
        if self._saving:
            return
        typed = self._checked()
        if typed is None:
            return
        self._saving = True
        self._say("Saving…", style="bold")
        self.run_worker(
            lambda: self._save_in_thread(typed),
            thread=True,
            group="care-save",
            exit_on_error=False,
        )

    def _save_in_thread(self, typed: Typed) -> None:
        try:
            saved = self._save(typed)
        except RecordRefused as refused:
            self.post_message(self.NotSaved(refused.problems))
        except StaleEdit as stale:
            self.post_message(self.NotSaved(reason=f"Not saved: {stale}"))
        except Refused as refused:
            self.post_message(self.NotSaved(reason=f"Not saved: {refused}"))
        except Exception as exc:  # anything else must not kill the form or lose the typing
            self.post_message(self.NotSaved(reason=f"Could not save ({exc}); nothing was saved."))
        else:
            self.post_message(self.Saved(saved))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        self.dismiss(message.saved)

    @on(NotSaved)
    def _not_saved(self, message: NotSaved) -> None:
        self._saving = False
        if message.problems:
            self._show_problems(self._on_form(message.problems))
        else:
            self._say(message.reason)

    def _checked(self) -> Typed | None:
        """The typed record, or None after showing every problem (or new warnings)."""
        self._clear_problems()
        problems: list[FieldProblem] = []
        patient = self._typed_patient(problems) if self._patient_fields else None
        episode, warnings = self._typed_episode(problems) if self._with_episode else (None, ())
        if problems:
            self._show_problems(problems)
            return None
        warnings = self._on_form(warnings)
        if warnings and warnings != self._warned:
            self._warned = warnings
            self._show_problems(warnings, warning=True)
            return None
        self._warned = warnings
        for shown in warnings:  # confirmed: still said beside the field while saving
            self._show_problem(shown, warning=True)
        return Typed(patient, episode)

    def _typed_patient(self, problems: list[FieldProblem]) -> PatientRecord | None:
        values = patient_text(self._patient)
        for key in self._patient_fields:
            values[key] = self._value(key)
        try:
            typed = patient_from_text(values, now=self._now(), clinic_tz=CLINIC_TZ)
        except RecordRefused as refused:
            problems.extend(self._choose_words(refused.problems))
            return None
        if self._patient is None:
            return typed
        # Fields this form does not show stay as the record holds them.
        hidden = [key for key in PATIENT_FIELDS if key not in self._patient_fields]
        return replace(typed, **{key: getattr(self._patient, key) for key in hidden})

    def _typed_episode(
        self, problems: list[FieldProblem]
    ) -> tuple[EpisodeRecord | None, tuple[FieldProblem, ...]]:
        keys = (
            "procedure_at",
            "protocol",
            "schedule",
            "treating_physician",
            *TEXT_FIELDS,
            *YES_NO_KEYS,
        )
        values = {key: self._value(key) for key in (*keys, "products", "addons")}
        products, self._product_rows = self._filled("product", PRODUCT_FIELDS)
        addons, self._addon_rows = self._filled("addon", ADDON_FIELDS)
        now = self._now()
        unchanged = self._episode is not None and values["procedure_at"] == self._opened_time
        try:
            record, warnings = episode_from_text(
                values,
                products,
                addons,
                clinic_tz=CLINIC_TZ,
                # An old episode keeps its procedure time: judged as of then, not now.
                now=self._episode.procedure_at if unchanged and self._episode else now,
                templates=self._choices.templates,
            )
        except RecordRefused as refused:
            problems.extend(self._choose_words(self._on_form(refused.problems)))
            return None, ()
        if unchanged and self._episode is not None:
            record = replace(record, procedure_at=self._episode.procedure_at)
        return record, warnings

    def _filled(self, kind: str, names: Sequence[str]) -> tuple[list[dict[str, str]], list[int]]:
        """The rows with anything typed, and the form row each one is."""
        rows: list[dict[str, str]] = []
        numbers: list[int] = []
        for n in range(1, self._rows[kind] + 1):
            row = {name: self._value(f"{kind}-{n}-{name}") for name in names}
            if any(value for value in row.values()):
                rows.append(row)
                numbers.append(n)
        return rows, numbers

    def _on_form(self, problems: Iterable[FieldProblem]) -> tuple[FieldProblem, ...]:
        """Problems keyed by the form's rows: the record numbers only the filled ones."""
        placed = []
        for problem in problems:
            kind, _, rest = problem.field.partition("-")
            number, _, name = rest.partition("-")
            rows = {"product": self._product_rows, "addon": self._addon_rows}.get(kind)
            if rows is not None and number.isdigit() and name:
                n = int(number)
                key = f"{kind}-{rows[n - 1]}-{name}" if n <= len(rows) else f"{kind}s"
                problem = FieldProblem(key, problem.problem, problem.warning)
            placed.append(problem)
        return tuple(placed)

    def _choose_words(self, problems: Iterable[FieldProblem]) -> list[FieldProblem]:
        """A required choice left empty is said as such, not as a list of codes."""
        return [
            FieldProblem(p.field, _CHOOSE)
            if p.field in ("protocol", "channel") and not self._value(p.field)
            else p
            for p in problems
        ]

    # -- showing problems ------------------------------------------------------

    def _show_problems(self, problems: Sequence[FieldProblem], *, warning: bool = False) -> None:
        """Each problem beside its field, a summary in the form's order, and the focus
        on the first bad field; for warnings it stays on Save, to press it again."""
        order = [w.id for w in self.query("Input, Select, Checkbox") if w.id]
        problems = sorted(
            problems, key=lambda p: order.index(p.field) if p.field in order else len(order)
        )
        unplaced = [p for p in problems if not self._show_problem(p, warning=warning)]
        fields = list(dict.fromkeys(field_words(p.field) for p in problems))
        if warning:
            said = (
                f"Check {', '.join(fields)}: see the warning beside it. "
                "Press Save again to record as typed."
            )
        else:
            noun = "field needs" if len(fields) == 1 else "fields need"
            said = f"Not saved: {len(fields)} {noun} a change: {', '.join(fields)}."
        if unplaced:
            said += " " + "; ".join(str(p) for p in unplaced) + "."
        self._say(said, style="bold yellow" if warning else "bold red")
        first = next((p.field for p in problems if p.field in order), None)
        if first is None:
            return
        field = self.query_one(f"#{first}")
        if warning:
            self.query_one(f"#{first}-error").scroll_visible(animate=False)
            self.query_one("#save", Button).focus(scroll_visible=False)
        else:
            field.focus()

    def _show_problem(self, problem: FieldProblem, *, warning: bool) -> bool:
        """Say `problem` under its field; False when the form has no such field."""
        shown = self.query(f"#{problem.field}-error")
        if not shown:
            return False
        beside = shown.first(Static)
        beside.update(Text(str(problem)))
        beside.set_class(False, "-empty")
        beside.set_class(warning, "-warning")
        return True

    def _clear_problems(self) -> None:
        for beside in self.query(".field-error").results(Static):
            beside.update("")
            beside.add_class("-empty")
        self._say("")

    def _say(self, words: str, *, style: str = "bold red") -> None:
        summary = self.query_one("#error", Static)
        summary.update(Text(words, style=style))
        summary.set_class(not words, "-empty")

    def _show_hint(self, key: str, words: str) -> None:
        hint = self.query_one(f"#{key}-hint", Static)
        hint.update(Text(words))
        hint.set_class(not words, "-empty")

    # -- reading the widgets ---------------------------------------------------

    def _value(self, key: str) -> str:
        """A field as text: what is typed, the chosen value, "none" for a ticked box."""
        found = self.query(f"#{key}")
        if not found:
            return ""
        widget = found.first()
        if isinstance(widget, Input):
            return widget.value
        if isinstance(widget, Checkbox):
            return NONE_GIVEN if widget.value else ""
        if isinstance(widget, Select):
            value = widget.value
            return "" if value == Select.NULL else str(value)
        return ""

    def _now(self) -> datetime:
        return cast("AftercareApp", self.app).clock.now()
