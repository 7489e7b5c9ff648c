"""The record of care typed by hand, keyboard only: a new patient with their first
episode (`N` on the queue), a returning patient's new episode (`E`), a correction
of the latest episode (`R`) and of who the patient is (`P`, patient screen).

The form hands the text over as typed to `core.records.episode_from_text` and
`core.patient_import.patient_from_text`, and shows every problem under its own
field, with a summary line and the focus on the first bad field; what was typed
stays. A warning (a lot expired before the procedure) is shown the same way and
saved only when Save is pressed again.

Unlike the small forms, this one calls the Clinic itself (in a thread worker) and
closes only once the record is saved: a refusal by the database (a code already
taken, a physician no longer active, a colleague's correction meanwhile) then
lands beside its field too, with everything typed still there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from core.contacts import country_code
from core.countries import country_name
from core.domain import Channel, Protocol
from core.dossier import PatientIdentity, channel_label
from core.patient_import import patient_from_text
from core.records import (
    FIELD_WORDS,
    NONE_GIVEN,
    PATIENT_FIELDS,
    SCHEDULE_SEPARATOR,
    AddOn,
    EpisodeRecord,
    FieldProblem,
    NewPatient,
    PatientRecord,
    Product,
    RecordRefused,
    RecordSaved,
    episode_from_text,
    field_words,
)
from core.refusals import NotFound, Refused, StaleEdit
from core.schedules import CLINIC_TZ
from core.triage.course import PROTOCOL_WORDS
from core.zones import suggested_zone, zones_for_country
from tui.keys import bind
from tui.modals import ConfirmModal, FormModal

if TYPE_CHECKING:
    from db.followup import Actor
    from db.services import Clinic
    from tui.actions import FollowUpActions
    from tui.app import AftercareApp

Opened = TypeVar("Opened")

CORRECTABLE_PATIENT_FIELDS: Final = (
    "family_name",
    "given_name",
    "native_name",
    "birth_date",
    "home_country",
    "language",
    "channel",
    "channel_handle",
)
"""Who the patient is; the code stays, and where they are now has its own form (W)."""

NOT_RECORDED: Final = "not recorded"
_TIME_FORMAT: Final = "%Y-%m-%d %H:%M"
_PRODUCT_FIELDS: Final = ("name", "mfds_reference", "lot_number", "expiry_date", "exosome")
_ADDON_FIELDS: Final = ("name", "dose_mg")
_CHOOSE: Final = "not chosen: choose one"
_PLACEHOLDERS: Final = {
    "code": "e.g. JP-0042: letters, digits, '.', '_', '-'",
    "family_name": "as in the passport",
    "given_name": "as in the passport; empty if none",
    "native_name": "in the patient's own script; empty if none",
    "birth_date": "YYYY-MM-DD; empty if not known",
    "home_country": "two letters, e.g. JP",
    "current_country": "empty: at home",
    "language": "e.g. ja, en, zh-Hant",
    "timezone": "filled in when the country has one zone",
    "channel_handle": "the patient's handle on that channel",
    "phone": "+81 90 ...; empty if none",
    "email": "empty if none",
    "procedure_at": "YYYY-MM-DD HH:MM, clinic time",
    "departure_date": "YYYY-MM-DD; empty if not known",
    "allergies": "what the patient is allergic to",
    "product-name": "as on the label",
    "product-lot_number": "as printed on the vial",
    "product-expiry_date": "YYYY-MM or YYYY-MM-DD",
    "addon-name": "e.g. glutathione",
    "addon-dose_mg": "mg, e.g. 1200",
}
_YES_NO_KEYS: Final = ("has_allergies", "vasovagal_history", "sensitive_skin")


@dataclass(frozen=True)
class FormChoices:
    """What the episode fields offer: the active physicians and the schedule templates."""

    physicians: tuple[tuple[str, str], ...]
    """(login, name) of each active physician."""
    templates: tuple[str, ...]

    @classmethod
    def read(cls, clinic: Clinic) -> FormChoices:
        """Read them (a database read: call it off the event loop)."""
        return cls(tuple(clinic.physicians()), tuple(clinic.template_names()))


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
        opened_at = episode.procedure_at if episode else _rounded(now)
        self._opened_time = f"{opened_at.astimezone(CLINIC_TZ):{_TIME_FORMAT}}"
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
                yield from self._patient_widgets()
            if self._with_episode:
                yield Label(Text("Treatment episode"), classes="section")
                yield from self._episode_widgets()

    def _patient_widgets(self) -> Iterator[Widget]:
        shown = _patient_text(self._patient)
        for key in self._patient_fields:
            if key == "channel":
                chosen = self._patient.channel if self._patient else Select.NULL
                widget: Widget = Select(
                    [(channel_label(c), c) for c in Channel],
                    prompt="choose the channel",
                    value=chosen,
                    id=key,
                    compact=True,
                )
            else:
                widget = _input(key, shown.get(key, ""))
            yield from _field(key, widget, hint=key == "timezone")

    def _episode_widgets(self) -> Iterator[Widget]:
        episode = self._episode
        text = _episode_text(episode)
        yield from _field(
            "procedure_at",
            _input("procedure_at", self._opened_time),
            hint=True,
            said="clinic time (KST), YYYY-MM-DD HH:MM",
        )
        protocol = episode.protocol if episode else Select.NULL
        yield from _field(
            "protocol",
            Select(
                [(_capital(PROTOCOL_WORDS[p]), p) for p in Protocol],
                prompt="choose the protocol",
                value=protocol,
                id="protocol",
                compact=True,
            ),
        )
        known = ", ".join(self._choices.templates)
        yield from _field(
            "schedule",
            _input("schedule", text["schedule"] or "standard"),
            hint=True,
            said=f"known: {known}; several: separate with '{SCHEDULE_SEPARATOR}'",
        )
        yield from _field("treating_physician", self._physician_select(episode))
        for key in ("nurse_name", "nurse_license_ref", "departure_date"):
            yield from _field(key, _input(key, text[key]))
        for key in ("travel_insurer", "travel_policy_number", "khidi_cover_ref"):
            yield from _field(key, _input(key, text[key]))
        for key in _YES_NO_KEYS:
            yield from _field(key, _yes_no(key, getattr(episode, key, None)))
            if key == "has_allergies":
                yield from _field("allergies", _input("allergies", text["allergies"]))
        yield from self._list_widgets("product", episode.products if episode else None)
        yield from self._list_widgets("addon", episode.addons if episode else None)

    def _physician_select(self, episode: EpisodeRecord | None) -> Select[str]:
        options = [(f"{name} ({login})", login) for login, name in self._choices.physicians]
        chosen = episode.treating_physician if episode else None
        if chosen and chosen not in {login for login, _ in self._choices.physicians}:
            # Kept as recorded: a correction must not drop a physician who left since.
            options.append((f"{chosen} (no longer an active physician)", chosen))
        return Select(
            options,
            prompt=NOT_RECORDED,
            value=chosen or Select.NULL,
            id="treating_physician",
            compact=True,
        )

    def _list_widgets(
        self, kind: str, given: tuple[Product, ...] | tuple[AddOn, ...] | None
    ) -> Iterator[Widget]:
        key = f"{kind}s"
        yield Label(Text(field_words(key)), classes="section")
        yield Checkbox("None given", value=given == (), id=key, compact=True)
        yield Static("", id=f"{key}-error", classes="field-error -empty")
        rows: list[Product | AddOn | None] = [*(given or ())] or [None]
        yield Vertical(*(self._row(kind, row) for row in rows), id=f"{kind}-rows", classes="rows")
        label = "Add product" if kind == "product" else "Add add-on"
        yield Button(label, id=f"add-{kind}", compact=True)

    def _row(self, kind: str, given: Product | AddOn | None) -> Vertical:
        self._rows[kind] += 1
        n = self._rows[kind]
        title = f"{'Product' if kind == 'product' else 'Add-on'} {n}"
        parts: list[Widget] = [Label(Text(title), classes="row-title")]
        for name in _PRODUCT_FIELDS if kind == "product" else _ADDON_FIELDS:
            key = f"{kind}-{n}-{name}"
            widget: Widget
            if name == "exosome":
                widget = _yes_no(key, given.exosome if isinstance(given, Product) else None)
            else:
                widget = _input(key, _row_text(given, name), placeholder=f"{kind}-{name}")
            parts.extend(_field(key, widget, words=_capital(FIELD_WORDS[name])))
        return Vertical(*parts, id=f"{kind}-row-{n}", classes="row")

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
        values = _patient_text(self._patient)
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
            "nurse_name",
            "nurse_license_ref",
            "departure_date",
            "travel_insurer",
            "travel_policy_number",
            "khidi_cover_ref",
            *_YES_NO_KEYS,
            "allergies",
        )
        values = {key: self._value(key) for key in (*keys, "products", "addons")}
        products, self._product_rows = self._filled("product", _PRODUCT_FIELDS)
        addons, self._addon_rows = self._filled("addon", _ADDON_FIELDS)
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


# -- opening a form from a screen ----------------------------------------------


def open_new_patient(
    screen: FollowUpActions, actor: Actor, saved: Callable[[RecordSaved], None]
) -> None:
    """`N` on the queue: a new patient with their first episode."""
    clinic = screen.aftercare.clinic

    def save(typed: Typed) -> RecordSaved:
        assert typed.patient is not None and typed.episode is not None
        return clinic.record_patient(actor, NewPatient(typed.patient, typed.episode))

    def form_for(choices: FormChoices) -> CareForm:
        heading = "New patient, with their first treatment episode"
        now = screen.aftercare.clock.now()
        return CareForm(heading, choices, save, patient_fields=PATIENT_FIELDS, now=now)

    _open(screen, lambda: FormChoices.read(clinic), form_for, saved)


def open_new_episode(
    screen: FollowUpActions,
    actor: Actor,
    who: PatientIdentity,
    saved: Callable[[RecordSaved], None],
) -> None:
    """`E` on the patient screen: a returning patient's new episode."""
    clinic = screen.aftercare.clinic

    def save(typed: Typed) -> RecordSaved:
        assert typed.episode is not None
        return clinic.record_episode(actor, who.patient_id, typed.episode)

    def form_for(choices: FormChoices) -> CareForm:
        heading = f"New treatment episode: {who.code} {who.display_name}"
        return CareForm(heading, choices, save, now=screen.aftercare.clock.now())

    _open(screen, lambda: FormChoices.read(clinic), form_for, saved)


def open_episode_correction(
    screen: FollowUpActions,
    actor: Actor,
    who: PatientIdentity,
    episode_id: int,
    saved: Callable[[RecordSaved], None],
) -> None:
    """`R` on the patient screen: the episode as stored now, saved against itself."""
    clinic = screen.aftercare.clinic

    def read() -> tuple[FormChoices, EpisodeRecord]:
        opened = clinic.episode_record(episode_id)
        if opened is None:
            raise NotFound("the episode is no longer there; read the patient again (r)")
        return FormChoices.read(clinic), opened

    def form_for(read: tuple[FormChoices, EpisodeRecord]) -> CareForm:
        choices, opened = read

        def save(typed: Typed) -> RecordSaved:
            assert typed.episode is not None
            return clinic.correct_episode(actor, episode_id, typed.episode, expected=opened)

        heading = f"Correct the record of care: {who.code} {who.display_name}"
        now = screen.aftercare.clock.now()
        return CareForm(heading, choices, save, episode=opened, now=now)

    _open(screen, read, form_for, saved)


def open_details_correction(
    screen: FollowUpActions,
    actor: Actor,
    who: PatientIdentity,
    saved: Callable[[RecordSaved], None],
) -> None:
    """`P` on the patient screen: who the patient is, saved against the record as opened."""
    clinic = screen.aftercare.clinic

    def read() -> PatientRecord:
        opened = clinic.patient_record(who.patient_id)
        if opened is None:
            raise NotFound("the patient is no longer there")
        return opened

    def form_for(opened: PatientRecord) -> CareForm:
        def save(typed: Typed) -> RecordSaved:
            assert typed.patient is not None
            return clinic.correct_patient(actor, who.patient_id, typed.patient, expected=opened)

        return CareForm(
            f"Correct the patient's details: {who.code} (where they are now: W)",
            FormChoices((), ()),
            save,
            patient_fields=CORRECTABLE_PATIENT_FIELDS,
            patient=opened,
            with_episode=False,
            now=screen.aftercare.clock.now(),
        )

    _open(screen, read, form_for, saved)


def _open(
    screen: FollowUpActions,
    read: Callable[[], Opened],
    form_for: Callable[[Opened], CareForm],
    saved: Callable[[RecordSaved], None],
) -> None:
    """Read what the form needs off the event loop (`read`), open the form made of it,
    and hand a saved record to `saved`; a refusal to read is a toast."""
    app = screen.aftercare

    def opened(what: Opened) -> None:
        def closed(record: RecordSaved | None) -> None:
            if record is not None:
                saved(record)

        app.push_screen(form_for(what), closed)

    def run() -> None:
        try:
            what = read()
        except Refused as exc:
            failed = str(exc)
        except Exception as exc:  # the database gone for a moment must not kill the screen
            failed = f"could not open the form ({exc})"
        else:
            with suppress(RuntimeError):  # the app is closing
                app.call_from_thread(opened, what)
            return
        with suppress(RuntimeError):
            app.call_from_thread(
                app.notify, failed, title="Not opened", severity="error", markup=False
            )

    screen.run_worker(run, thread=True, group="care-open", exit_on_error=False)


def saved_words(saved: RecordSaved) -> str:
    """The toast after a save: what it did, and the warnings confirmed."""
    words = saved.words()
    if saved.warnings:
        words += " Recorded as typed despite: " + "; ".join(saved.warnings) + "."
    return words


# -- building the fields ----------------------------------------------------------


def _field(
    key: str, widget: Widget, *, words: str = "", hint: bool = False, said: str = ""
) -> list[Widget]:
    """A field: its words and widget on one line, a hint under it, its problem under that."""
    parts: list[Widget] = [
        Horizontal(Label(Text(words or field_words(key))), widget, classes="field")
    ]
    if hint:
        parts.append(
            Static(Text(said), id=f"{key}-hint", classes="hint" + ("" if said else " -empty"))
        )
    parts.append(Static("", id=f"{key}-error", classes="field-error -empty"))
    return parts


class FieldInput(Input):
    """An input of a long form: Enter moves on to the next field at once.

    Input's own Enter posts a Submitted message, handled after the keys already
    typed behind it: text typed (or pasted) fast after Enter would land in the
    same field. Moving the focus inside the key's own handling keeps every
    keystroke in the field it was typed for."""

    async def action_submit(self) -> None:
        self.screen.focus_next()


def _input(key: str, value: str, *, placeholder: str = "") -> Input:
    return FieldInput(
        value=value,
        placeholder=_PLACEHOLDERS.get(placeholder or key, ""),
        id=key,
        compact=True,
    )


def _yes_no(key: str, value: bool | None) -> Select[str]:
    chosen = Select.NULL if value is None else ("yes" if value else "no")
    return Select(
        [("yes", "yes"), ("no", "no")], prompt=NOT_RECORDED, value=chosen, id=key, compact=True
    )


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


def _rounded(now: datetime) -> datetime:
    """Now, down to the five minutes: a time a person would write."""
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value == int(value) else f"{value:g}"
    return str(value)


def _patient_text(patient: PatientRecord | None) -> dict[str, str]:
    """The patient's fields as a form shows them (all empty for a new patient)."""
    if patient is None:
        return {}
    return {key: _shown(getattr(patient, key)) for key in PATIENT_FIELDS}


def _episode_text(episode: EpisodeRecord | None) -> dict[str, str]:
    keys = (
        "nurse_name",
        "nurse_license_ref",
        "departure_date",
        "travel_insurer",
        "travel_policy_number",
        "khidi_cover_ref",
        "allergies",
    )
    text = {key: _shown(getattr(episode, key, None)) for key in keys}
    text["schedule"] = SCHEDULE_SEPARATOR.join(episode.schedule) if episode else ""
    return text


def _row_text(given: Product | AddOn | None, name: str) -> str:
    return _shown(getattr(given, name, None)) if given is not None else ""
