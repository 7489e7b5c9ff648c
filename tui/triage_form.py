"""The triage form: symptoms by body system, temperature, trend, with a live outcome.

At the top, before anything is ticked: what is normal on the day it is now
for this patient's protocol (`core.triage.course`). Where the terminal is too
short for that text and the first fields together (80x24), it opens folded to
its heading, so the form opens on its fields; ctrl+o unfolds it. Every change re-runs the
pure rules (`core.triage.assess`) and shows the disposition, each rule that
fired and who decides; an emergency shows a banner with the local emergency
number and a short script to read to the patient. A missing input that could
raise the outcome (the trend, the protocol) is asked for in words and Save
waits for it; choosing a lower outcome says beforehand what is still written.
Each field keeps its name once filled ("Day" over 98, "Trend: stable"), and
what is wrong is said under the field it is about, named in the outcome line
at the top, and gone once it is put right. Escape asks before throwing away a
triage in progress. Saving returns a typed result; the patient screen writes it
in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Collapsible, Input, Label, Select, Static

from core.commands import TriageEntry
from core.domain import Disposition, Protocol, Trend
from core.labels import disposition_word
from core.messages import emergency_script, fallback_notice, language_name
from core.triage import (
    SYMPTOMS,
    WHO_DECIDES,
    Findings,
    TriageInputError,
    TriageOutcome,
    assess,
    parse_triage_input,
)
from core.triage.course import PROTOCOL_WORDS, NormalCourse, normal_course
from core.triage.groups import BODY_SYSTEMS
from core.triage.outcome import PROTOCOL_NOT_RECORDED, TREND_NOT_RECORDED
from tui.keys import bind
from tui.modals import FormModal
from tui.styles import STYLE_CLASSES, ClinicStyles

_ASKED_FOR_BELOW = frozenset({TREND_NOT_RECORDED, PROTOCOL_NOT_RECORDED})

FIELD_NAMES = {"day": "Day", "temperature_c": "Temperature"}
"""The name on screen of each input the rules read, by the rules' own field name."""
_ERROR_UNDER = {"day": "numbers-error", "temperature_c": "numbers-error"}
"""Where a field's problem is said: the line under its row."""


@dataclass(frozen=True)
class TriageContext:
    """What the form knows about the patient before anything is ticked."""

    patient_label: str
    day: int
    """The day it is now (0 = procedure day)."""
    country: str
    protocol: Protocol | None
    """The episode's protocol; None when not recorded (the form then asks for it)."""
    addons: tuple[str, ...]
    """Add-on codes as the rules read them (`core.addons.triage_addon_codes`)."""
    language: str = "en"
    """The patient's language tag: an emergency script is shown in it and in English."""


class TriageModal(ClinicStyles, FormModal[TriageEntry]):
    """Record a triage for one patient."""

    DEFAULT_CSS = """
    TriageModal #normal-course {
        border-left: thick $success;
        padding: 0 1;
    }
    TriageModal #normal-course-fold {
        border: none;
        padding: 0;
        margin: 0;
    }
    TriageModal #normal-course-fold CollapsibleTitle {
        padding: 0;
        width: 1fr;
    }
    TriageModal #normal-course-fold Contents {
        padding: 0;
    }
    TriageModal #triage-needs {
        color: $warning;
        text-style: bold;
    }
    TriageModal #override-warning {
        color: $warning;
    }
    TriageModal .field-error {
        color: $error;
        text-style: bold;
        height: auto;
    }
    """

    COMPONENT_CLASSES = STYLE_CLASSES
    # escape cancels, as in every form (FormModal), asking first once anything is entered.
    BINDINGS = [
        bind("triage.save", "ctrl+s", "save", "Save triage", "Save the triage"),
        bind(
            "triage.normal-course",
            "ctrl+o",
            "toggle_course",
            "What is normal",
            "Show or fold what is normal on this day",
        ),
    ]
    ASK_BEFORE_DISCARD = True
    # The first field gets the focus without scrolling: the outcome stays in view.
    AUTO_FOCUS = None

    def __init__(self, context: TriageContext) -> None:
        super().__init__()
        self._triage = context
        self._problem = ""
        """What is wrong with a field now, in words ("Temperature: ..."), or ""."""
        self.outcome: TriageOutcome | None = None
        """The live outcome of what is on the form (None while the form has an error)."""
        self.course: NormalCourse = normal_course(
            context.protocol, context.day, country=context.country or None
        )
        """What is normal on the day it is now, shown before anything is ticked."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form triage"):
            yield Label(Text(f"Triage: {self._triage.patient_label}", style="bold"))
            with Collapsible(
                title=f"{self.course.heading} (ctrl+o)", collapsed=False, id="normal-course-fold"
            ):
                yield Static(course_text(self.course, heading=False), id="normal-course")
            yield Static("", id="triage-banner")
            yield Static("", id="triage-preview")
            yield Static("", id="triage-needs")
            with Horizontal(classes="triage-numbers"):
                yield _named(Input(str(self._triage.day), placeholder="day", id="day"), "Day")
                yield _named(
                    Input(placeholder="temperature °C", id="temperature"), "Temperature °C"
                )
                # The option says which field it is, so a chosen trend keeps its name.
                yield Select(
                    [(f"Trend: {t.value}", t) for t in Trend], prompt="Trend: choose", id="trend"
                )
            yield Static("", id="numbers-error", classes="field-error")
            # Only when the episode has no protocol: the rules read an infusion alone
            # differently, so the form asks rather than assumes.
            yield Select(
                [(f"Protocol: {words}", protocol) for protocol, words in PROTOCOL_WORDS.items()],
                prompt="Protocol (not recorded): choose",
                id="protocol",
            )
            yield Static("", id="protocol-error", classes="field-error")
            for heading, codes in BODY_SYSTEMS:
                yield Label(Text(heading, style="bold underline"), classes="group")
                for code in codes:
                    yield Checkbox(SYMPTOMS[code], id=f"symptom-{code}")
            yield _named(Input(placeholder="what the patient said", id="note"), "Note")
            # Who decides sits with the choice of another outcome it is about, so the
            # outcome and the first fields share the top of a 24-line terminal.
            yield Static(Text(WHO_DECIDES, style="italic"), id="who-decides")
            yield Select(
                [(f"Outcome instead: {disposition_word(d)}", d) for d in Disposition],
                prompt="Outcome: keep the computed one",
                id="override",
            )
            yield _named(
                Input(placeholder="why another outcome", id="override-reason"),
                "Reason for choosing another outcome",
            )
            yield Static("", id="reason-error", classes="field-error")
            yield Static("", id="override-warning")
            yield from self.buttons("Save triage")

    def on_mount(self) -> None:
        self.query_one("#protocol", Select).display = self._triage.protocol is None
        for line in self.query(".field-error").results(Static):
            line.display = False
        self._update()
        self.query_one("#day", Input).focus(scroll_visible=False)
        self.remember_as_opened()
        self.call_after_refresh(self._fold_course_if_fields_hidden)

    def _fold_course_if_fields_hidden(self) -> None:
        """Fold what is normal to its heading when, unfolded, it pushes the day and
        temperature below the form's bottom edge: the nurse starts on the fields."""
        form = self.query_one(VerticalScroll)
        numbers = self.query_one(".triage-numbers")
        if numbers.virtual_region.bottom > form.scrollable_content_region.height:
            self.query_one("#normal-course-fold", Collapsible).collapsed = True

    def action_toggle_course(self) -> None:
        """Unfold (or fold) what is normal on this day; unfolded, it is scrolled to."""
        fold = self.query_one("#normal-course-fold", Collapsible)
        fold.collapsed = not fold.collapsed
        if not fold.collapsed:
            self.call_after_refresh(fold.scroll_visible, top=True)

    def discard_question(self) -> str:
        if self.outcome is not None and self.outcome.disposition is Disposition.EMERGENCY:
            return (
                "Throw away this EMERGENCY triage? Nothing of it is saved and no physician "
                "is paged."
            )
        return "Throw away this triage? Nothing of it is saved."

    @on(Checkbox.Changed)
    @on(Input.Changed, "#day, #temperature, #override-reason")
    @on(Select.Changed, "#trend, #protocol, #override")
    def _changed(self) -> None:
        self._update()

    def _protocol(self) -> Protocol | None:
        if self._triage.protocol is not None:
            return self._triage.protocol
        chosen = self.query_one("#protocol", Select).value
        return chosen if isinstance(chosen, Protocol) else None

    def _raw(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "symptoms": [
                code for code in SYMPTOMS if self.query_one(f"#symptom-{code}", Checkbox).value
            ],
            "country": self._triage.country,
            "addons": list(self._triage.addons),
        }
        protocol = self._protocol()
        if protocol is not None:
            raw["protocol"] = protocol.value
        day = self.query_one("#day", Input).value.strip()
        raw["day"] = int(day) if day.isdigit() else day
        temperature = self.query_one("#temperature", Input).value.strip().replace(",", ".")
        if temperature:
            try:
                raw["temperature_c"] = float(temperature)
            except ValueError:
                raw["temperature_c"] = temperature
        trend = self.query_one("#trend", Select).value
        if isinstance(trend, Trend):
            raw["trend"] = trend.value
        return raw

    def _assess(self) -> tuple[Findings, TriageOutcome] | None:
        try:
            findings = parse_triage_input(self._raw())
        except TriageInputError as exc:
            self.outcome = None
            name = FIELD_NAMES.get(exc.field, exc.field)
            self._problem = f"{name}: {exc.message}"
            under = _ERROR_UNDER.get(exc.field)
            if under is None:  # not a field of its own: said above the buttons
                self.query_one("#error", Static).update(Text(self._problem))
            else:
                _show(self.query_one(f"#{under}", Static), f"⚠ {self._problem}")
            return None
        if self._problem:
            self._problem = ""
            self.query_one("#error", Static).update("")
            _show(self.query_one("#numbers-error", Static), None)
        outcome = assess(findings)
        self.outcome = outcome
        return findings, outcome

    def _clear_stale(self, outcome: TriageOutcome) -> None:
        """A refusal said at Save goes once it no longer holds: the trend or the
        protocol chosen, the reason written or no other outcome chosen."""
        numbers = self.query_one("#numbers-error", Static)
        if numbers.display and not self._problem and "trend" not in outcome.needs:
            _show(numbers, None)
        if "protocol" not in outcome.needs:
            _show(self.query_one("#protocol-error", Static), None)
        if not self._needs_reason(outcome):
            _show(self.query_one("#reason-error", Static), None)

    def _needs_reason(self, outcome: TriageOutcome) -> bool:
        chosen = self._chosen()
        reason = self.query_one("#override-reason", Input).value.strip()
        return chosen is not None and chosen is not outcome.disposition and not reason

    def _chosen(self) -> Disposition | None:
        value = self.query_one("#override", Select).value
        return value if isinstance(value, Disposition) else None

    def _update(self) -> None:
        assessed = self._assess()
        preview = self.query_one("#triage-preview", Static)
        banner = self.query_one("#triage-banner", Static)
        needs = self.query_one("#triage-needs", Static)
        who = self.query_one("#who-decides", Static)
        warning = self.query_one("#override-warning", Static)
        if assessed is None:
            preview.update(Text(f"Outcome: — fix first: {self._problem}", style="bold red"))
            banner.update("")
            banner.remove_class("emergency")
            banner.display = False
            _show(needs, None)
            _show(warning, None)
            who.update(Text(WHO_DECIDES, style="italic"))
            return
        findings, outcome = assessed
        self._clear_stale(outcome)
        text = Text("Outcome: ", style="bold")
        text.append(
            outcome.disposition.value.upper(), style=self.palette.disposition(outcome.disposition)
        )
        text.append(f"  {outcome.action}\n")
        for reason in outcome.reasons:
            # A missing input is said once, in the line that asks for it (below).
            if reason.rule not in _ASKED_FOR_BELOW:
                text.append(f" • {reason.text}\n")
        for lab in outcome.labs:
            text.append(f" ◦ Lab suggestion: {lab.text}\n", style="cyan")
        text.rstrip()
        preview.update(text)
        _show(needs, missing_inputs(findings, outcome))
        who.update(Text(outcome.decided_by, style="italic"))
        _show(warning, downgrade_warning(outcome.disposition, self._chosen()))
        emergency = outcome.disposition is Disposition.EMERGENCY
        became = emergency and not banner.display
        banner.display = emergency
        if emergency:
            banner.update(_emergency_banner(outcome, self._triage.language))
            banner.add_class("emergency")
            if became:
                # The tick that made it an emergency may be far down the form.
                self.call_after_refresh(banner.scroll_visible, top=True)
        else:
            banner.update("")
            banner.remove_class("emergency")

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Save, unless the form has an error, lacks an input the outcome needs,
        or an override lacks its reason."""
        assessed = self._assess()
        if assessed is None:
            return
        findings, outcome = assessed
        if "trend" in outcome.needs:
            self._refuse(
                "Not saved: choose the trend (improving, stable or worsening) first; "
                "without it a worsening finding would be read as not worsening.",
                self.query_one("#trend", Select),
                "numbers-error",
            )
            return
        if "protocol" in outcome.needs:
            protocol = self.query_one("#protocol", Select)
            protocol.display = True
            self._refuse(
                "Not saved: choose the protocol first; the outcome depends on whether "
                "the patient had an infusion alone.",
                protocol,
                "protocol-error",
            )
            return
        chosen = self._chosen()
        reason = self.query_one("#override-reason", Input).value.strip()
        if chosen is not None and self._needs_reason(outcome):
            self._refuse(
                f"Not saved: choosing {disposition_word(chosen)} instead of "
                f"{disposition_word(outcome.disposition)} needs a written reason.",
                self.query_one("#override-reason", Input),
                "reason-error",
            )
            return
        self.dismiss(
            TriageEntry(
                findings=findings,
                outcome=outcome,
                chosen=chosen if chosen is not outcome.disposition else None,
                override_reason=reason,
                note=self.query_one("#note", Input).value,
            )
        )

    def _refuse(self, message: str, field: Widget, under: str) -> None:
        # Said under the field it is about and as a toast, since the coordinator
        # may be anywhere in a long form; the field gets the focus (and comes into view).
        _show(self.query_one(f"#{under}", Static), f"⚠ {message}")
        self.notify(message, severity="warning", markup=False)
        field.focus()


def missing_inputs(findings: Findings, outcome: TriageOutcome) -> str | None:
    """Why the form waits for the trend or the protocol, in words; None when nothing is missing.

    What the outcome would be is computed, not guessed: the same rules run
    with the missing input filled in each way it could be.
    """
    lines: list[str] = []
    if "trend" in outcome.needs:
        worse = assess(findings.model_copy(update={"trend": Trend.WORSENING}))
        lines.append(
            f"Trend not recorded: if worsening this would be {worse.disposition.value}. "
            "Choose improving, stable or worsening."
        )
    if "protocol" in outcome.needs:
        worst = Disposition.highest(
            [assess(findings.model_copy(update={"protocol": p})).disposition for p in Protocol]
        )
        lines.append(
            f"Protocol not recorded: after an infusion alone this could be {worst.value}. "
            "Choose the protocol the patient had."
        )
    return "\n".join(lines) or None


def downgrade_warning(computed: Disposition, chosen: Disposition | None) -> str | None:
    """What is still written when the coordinator chooses a lower outcome; None otherwise.

    From `review` up the suspected adverse event stays documented, and from
    `urgent` up the treating physician is told once: only a physician's
    decision drops it.
    """
    if chosen is None or chosen.severity >= computed.severity or not computed.opens_incident:
        return None
    text = (
        f"Choosing {chosen.value} below the computed {computed.value}: the suspected adverse "
        "event is still documented (incident opens, marked downgraded)"
    )
    if computed.pages_physician:
        text += ", and the treating physician is still told once, with your reason"
    return text + ". Only a physician's decision drops it."


def course_text(course: NormalCourse, *, heading: bool = True) -> Text:
    """What is normal on day N as one block: heading (unless a fold's title already
    says it), course, and the emergency line in red."""
    text = Text(course.heading, style="bold") if heading else Text()
    for line in course.lines:
        text.append(f"\n{line}" if text else line)
    text.append(f"\n{course.emergency}", style="bold red")
    return text


def _emergency_banner(outcome: TriageOutcome, language: str) -> Text:
    """The number to call now and the message to send, in the patient's language and English.

    The script is one messenger bubble the coordinator can paste into the
    conversation; the English copy says what the other one says.
    """
    contact = outcome.emergency
    banner = Text(f"EMERGENCY: the patient must call {contact.numbers_text} now", style="bold")
    banner.append(f" ({contact.country_name})\n" if contact.known else "\n")
    if contact.warning:
        banner.append(f"{contact.warning}\n")
    try:
        script = emergency_script(language, contact)
    except ValueError:
        # A broken message catalogue must not take the emergency banner with it.
        banner.append(
            "Send now: Please call the local emergency number, "
            f"{contact.number}, now. Tell them your symptoms and that you had a treatment in "
            "Seoul recently. Do not wait for our reply."
        )
        return banner
    notice = fallback_notice(language)
    if notice is not None:
        banner.append(f"{notice}\n")
    if script.text == script.english:
        banner.append("Send now (English):\n", style="bold")
        banner.append(script.english)
        return banner
    name = language_name(script.language)
    if script.language == "zh-Hant":
        name += ", traditional characters"
    banner.append(f"Send now ({name}):\n", style="bold")
    banner.append(f"{script.text}\n")
    banner.append("The same in English:\n", style="bold")
    banner.append(script.english)
    return banner


def _named(field: Input, name: str) -> Input:
    """The field's name stays on its frame once a value replaces the placeholder."""
    field.border_title = name
    return field


def _show(widget: Static, text: str | None) -> None:
    # An empty line would still take its margin; hide the widget instead.
    widget.display = text is not None
    widget.update(Text(text or ""))
