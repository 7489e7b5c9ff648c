"""The triage rule: the highest disposition any finding reaches, with every reason.

`assess` is a pure function of the findings and the rule table. It never
diagnoses: the outcome says what the coordinator does next and names who
decides (the treating physician, or local emergency services).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from core.countries import FALLBACK_NUMBER, EmergencyContact, emergency_contact
from core.domain import Disposition
from core.triage.findings import Findings
from core.triage.rules import LabRule, RuleTable, TriageRule, rule_table
from core.triage.vocabulary import describe_symptoms

WHO_DECIDES: Final = (
    "Decision support only: the treating physician decides, or local emergency services."
)
"""Shown with every outcome (DOMAIN.md: every triage screen names who decides)."""

ACTIONS: Final[Mapping[Disposition, str]] = MappingProxyType(
    {
        Disposition.EXPECTED: "Reassure the patient and continue the schedule.",
        Disposition.MONITOR: "Give conservative-care advice and add a check in 48 hours.",
        Disposition.REVIEW: ("Open an incident; physician review within one business day."),
        Disposition.URGENT: "Page the on-call and treating physician now.",
        Disposition.EMERGENCY: (
            "Tell the patient to call the local emergency number now; page the on-call physician."
        ),
    }
)
"""What the coordinator does for each disposition (DOMAIN.md section 4)."""


@dataclass(frozen=True)
class Reason:
    """One rule that fired, in words a nurse can read back to a physician."""

    rule: str
    """The rule row's id, stored with the triage."""
    disposition: Disposition
    """What this rule alone reaches."""
    text: str


@dataclass(frozen=True)
class LabSuggestion:
    """A lab the home physician may request (seed 000): a suggestion, not an order."""

    lab: str
    """The lab row's id, e.g. 'crp_esr'."""
    text: str


@dataclass(frozen=True)
class TriageOutcome:
    """The computed disposition and everything the coordinator needs to act on it."""

    disposition: Disposition
    """The highest disposition any rule reached."""
    reasons: tuple[Reason, ...]
    """Every rule that fired, most severe first; never empty."""
    labs: tuple[LabSuggestion, ...]
    emergency: EmergencyContact
    """Where the patient is now: the number to call, with a warning when unknown."""
    rules_version: str

    @property
    def incident(self) -> bool:
        """An incident is opened from `review` up."""
        return self.disposition.opens_incident

    @property
    def emergency_number(self) -> str:
        """The local emergency number to dial first (112 fallback when the country is unknown)."""
        return self.emergency.number

    @property
    def action(self) -> str:
        """What the coordinator does now, with the actual number for an emergency."""
        if self.disposition is not Disposition.EMERGENCY:
            return ACTIONS[self.disposition]
        contact = self.emergency
        where = (
            contact.country_name if contact.known else "mobile fallback; confirm the local number"
        )
        return (
            f"Tell the patient to call {contact.numbers_text} ({where}) now; "
            "page the on-call physician."
        )

    def to_json(self) -> dict[str, Any]:
        """The triage contract's output object (DOMAIN.md section 4), plus additive keys.

        `emergency_number` is always present (the contract requires it for
        `emergency`); `emergency_warning` appears only when the country is unknown.
        """
        result: dict[str, Any] = {
            "disposition": self.disposition.value,
            "action": self.action,
            "reasons": [
                {"rule": r.rule, "disposition": r.disposition.value, "text": r.text}
                for r in self.reasons
            ],
            "labs": [{"lab": lab.lab, "text": lab.text} for lab in self.labs],
            "emergency_number": self.emergency.number,
            "emergency_alternatives": list(self.emergency.alternatives),
        }
        if self.emergency.warning:
            result["emergency_warning"] = self.emergency.warning
        result["incident"] = self.incident
        result["rules_version"] = self.rules_version
        return result


def assess(findings: Findings, rules: RuleTable | None = None) -> TriageOutcome:
    """Triage `findings` against `rules` (the shipped table by default).

    The disposition is the highest any rule reaches; every rule that fired is
    a reason, most severe first, then in table order. When nothing fires the
    `nothing_reported` rule does, so there is always at least one reason.
    """
    table = rules if rules is not None else rule_table()
    fired = [
        reason
        for rule in table.rules
        if not rule.nothing_reported
        if (reason := _fire(rule, findings)) is not None
    ]
    if not fired:
        fired = [_reason(rule, findings, []) for rule in table.rules if rule.nothing_reported]
    # sorted() is stable: equal severities keep table order.
    fired.sort(key=lambda reason: -reason.disposition.severity)
    return TriageOutcome(
        disposition=Disposition.highest([reason.disposition for reason in fired]),
        reasons=tuple(fired),
        labs=tuple(lab for row in table.labs if (lab := _suggest(row, findings)) is not None),
        emergency=_emergency(findings.country),
        rules_version=table.version,
    )


def _fire(rule: TriageRule, findings: Findings) -> Reason | None:
    if rule.temperature is not None:
        fever = findings.temperature_c is not None and rule.temperature.contains(
            findings.temperature_c
        )
        return _reason(rule, findings, []) if fever else None
    matched = rule.matching_symptoms(findings.symptoms, findings.day, findings.trend)
    return _reason(rule, findings, matched) if matched else None


def _reason(rule: TriageRule, findings: Findings, matched: list[str]) -> Reason:
    text = rule.text.format_map(
        {
            "symptoms": describe_symptoms(matched),
            "day": findings.day,
            "temperature": _temperature(findings.temperature_c),
        }
    )
    return Reason(rule=rule.id, disposition=rule.disposition, text=_capitalised(text))


def _suggest(lab: LabRule, findings: Findings) -> LabSuggestion | None:
    triggers: list[str] = []
    symptoms = lab.symptoms & findings.symptoms
    if symptoms:
        triggers.append(describe_symptoms(symptoms))
    threshold = lab.temperature_at_least_c
    temperature = findings.temperature_c
    if threshold is not None and temperature is not None and temperature >= threshold:
        triggers.append(f"temperature {_temperature(temperature)} °C")
    addons = sorted(lab.addons.intersection(findings.addons))
    triggers.extend(addons)
    if not triggers:
        return None
    text = lab.text.format_map({"findings": "; ".join(triggers)})
    return LabSuggestion(lab=lab.id, text=_capitalised(text))


def _emergency(country: str | None) -> EmergencyContact:
    if country is not None:
        return emergency_contact(country)
    return dataclasses.replace(
        emergency_contact(""),
        warning=(
            "No country recorded for where the patient is now. "
            f"{FALLBACK_NUMBER} is shown as the mobile-phone fallback; "
            "ask where the patient is and confirm the local emergency number."
        ),
    )


def _temperature(temperature_c: float | None) -> str:
    # str(float) keeps what was typed (38.0, 38.55) instead of rounding a
    # value across a threshold, as a fixed number of decimals could.
    return "not measured" if temperature_c is None else str(temperature_c)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
