"""The triage form: symptoms by body system, temperature, trend, with a live outcome.

Every change re-runs the pure rules (`core.triage.assess`) and shows the
disposition and each rule that fired; an emergency shows a banner with the
local emergency number and a short script to read to the patient. Saving
returns a typed result; the patient screen writes it in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from core.domain import Disposition, Trend
from core.triage import (
    SYMPTOMS,
    WHO_DECIDES,
    Findings,
    TriageInputError,
    TriageOutcome,
    assess,
    parse_triage_input,
)
from core.triage.groups import BODY_SYSTEMS
from tui.queue_cells import DISPOSITION_STYLE


@dataclass(frozen=True)
class TriageContext:
    """What the form knows about the patient before anything is ticked."""

    patient_label: str
    day: int
    country: str
    protocol: str | None
    addons: tuple[str, ...]


@dataclass(frozen=True)
class TriageFormResult:
    """A completed form: the findings, their outcome, and the coordinator's choice."""

    findings: Findings
    outcome: TriageOutcome
    chosen: Disposition | None
    override_reason: str
    note: str


class TriageModal(ModalScreen[TriageFormResult | None]):
    """Record a triage for one patient."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save triage"),
    ]

    def __init__(self, context: TriageContext) -> None:
        super().__init__()
        self._triage = context
        self.outcome: TriageOutcome | None = None
        """The live outcome of what is on the form (None while the form has an error)."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form triage"):
            yield Label(Text(f"Triage: {self._triage.patient_label}", style="bold"))
            yield Static("", id="triage-banner")
            yield Static("", id="triage-preview")
            yield Static(Text(WHO_DECIDES, style="italic"), id="who-decides")
            with Horizontal(classes="triage-numbers"):
                yield Input(str(self._triage.day), placeholder="day", id="day")
                yield Input(placeholder="temperature °C", id="temperature")
                yield Select([(t.value, t) for t in Trend], prompt="trend", id="trend")
            for heading, codes in BODY_SYSTEMS:
                yield Label(Text(heading, style="bold underline"), classes="group")
                for code in codes:
                    yield Checkbox(SYMPTOMS[code], id=f"symptom-{code}")
            yield Input(placeholder="Note (what the patient said)", id="note")
            yield Select(
                [(d.value, d) for d in Disposition],
                prompt="keep the computed outcome",
                id="override",
            )
            yield Input(placeholder="Reason for choosing another outcome", id="override-reason")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save triage", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._update()

    @on(Checkbox.Changed)
    @on(Input.Changed, "#day, #temperature")
    @on(Select.Changed, "#trend")
    def _changed(self) -> None:
        self._update()

    def _raw(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "symptoms": [
                code for code in SYMPTOMS if self.query_one(f"#symptom-{code}", Checkbox).value
            ],
            "country": self._triage.country,
            "addons": list(self._triage.addons),
        }
        if self._triage.protocol:
            raw["protocol"] = self._triage.protocol
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
            self.query_one("#error", Static).update(Text(f"Fix: {exc}"))
            return None
        self.query_one("#error", Static).update("")
        outcome = assess(findings)
        self.outcome = outcome
        return findings, outcome

    def _update(self) -> None:
        assessed = self._assess()
        preview = self.query_one("#triage-preview", Static)
        banner = self.query_one("#triage-banner", Static)
        if assessed is None:
            preview.update(Text("Outcome: — (the form has an error)", style="dim"))
            banner.update("")
            banner.remove_class("emergency")
            return
        _, outcome = assessed
        text = Text("Outcome: ", style="bold")
        text.append(outcome.disposition.value.upper(), style=DISPOSITION_STYLE[outcome.disposition])
        text.append(f"  {outcome.action}\n")
        for reason in outcome.reasons:
            text.append(f" • {reason.text}\n")
        for lab in outcome.labs:
            text.append(f" ◦ Lab suggestion: {lab.text}\n", style="cyan")
        preview.update(text)
        if outcome.disposition is Disposition.EMERGENCY:
            contact = outcome.emergency
            script = Text(
                f"EMERGENCY: the patient must call {contact.numbers_text} now", style="bold"
            )
            script.append(f" ({contact.country_name})\n" if contact.known else "\n")
            if contact.warning:
                script.append(f"{contact.warning}\n")
            script.append(
                'Read to the patient: "Please hang up and call '
                f"{contact.number} now. Tell them you had a treatment in Seoul and what you "
                'feel. Keep your phone with you; our doctor will call you."'
            )
            banner.update(script)
            banner.add_class("emergency")
        else:
            banner.update("")
            banner.remove_class("emergency")

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Save, unless the form has an error or an override lacks its reason."""
        assessed = self._assess()
        if assessed is None:
            return
        findings, outcome = assessed
        chosen_value = self.query_one("#override", Select).value
        chosen = chosen_value if isinstance(chosen_value, Disposition) else None
        reason = self.query_one("#override-reason", Input).value.strip()
        if chosen is not None and chosen is not outcome.disposition and not reason:
            self.query_one("#error", Static).update(
                Text(
                    f"Choosing {chosen.value} instead of {outcome.disposition.value} "
                    "needs a written reason."
                )
            )
            return
        self.dismiss(
            TriageFormResult(
                findings=findings,
                outcome=outcome,
                chosen=chosen if chosen is not outcome.disposition else None,
                override_reason=reason,
                note=self.query_one("#note", Input).value,
            )
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)
