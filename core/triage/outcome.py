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
from core.domain import Disposition, IncidentCategory, Protocol, Trend
from core.triage.findings import Findings
from core.triage.rules import LabRule, RuleTable, TriageRule, rule_table
from core.triage.vocabulary import describe_symptoms, in_vocabulary_order

WHO_DECIDES: Final = (
    "Decision support only: the treating physician decides, or local emergency services."
)
"""Shown where no outcome is known yet; an outcome says it for itself (`decided_by`)."""

DECIDED_BY: Final[Mapping[Disposition, str]] = MappingProxyType(
    {
        Disposition.EXPECTED: (
            "Decision support only: the treating physician decides whether anything more is "
            "needed; the coordinator reassures and follows the schedule."
        ),
        Disposition.MONITOR: (
            "Decision support only: the treating physician decides whether this needs more "
            "than the 48-hour re-check."
        ),
        Disposition.REVIEW: (
            "Decision support only: the treating physician reviews the suspected adverse event "
            "within one business day and decides."
        ),
        Disposition.URGENT: (
            "Decision support only: the treating physician or the on-call physician decides today."
        ),
        Disposition.EMERGENCY: (
            "Local emergency services decide, where the patient is now; the on-call physician "
            "is paged. This is decision support, not a diagnosis."
        ),
    }
)
"""Who decides, for each disposition: every outcome shown anywhere says it."""

TREND_NOT_RECORDED: Final = "trend_not_recorded"
PROTOCOL_NOT_RECORDED: Final = "protocol_not_recorded"
"""Reason ids for a missing input that could raise the outcome (not rule rows)."""

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
"""What the coordinator does for each disposition (docs/clinical-rules.md)."""


@dataclass(frozen=True)
class Reason:
    """One rule that fired, in words a nurse can read back to a physician."""

    rule: str
    """The rule row's id, stored with the triage."""
    disposition: Disposition
    """What this rule alone reaches."""
    text: str
    matched: tuple[str, ...] = ()
    """The symptom codes that made it fire (both of a pair), in vocabulary order."""
    category: IncidentCategory | None = None
    """The incident category the row points to, if any."""


@dataclass(frozen=True)
class LabSuggestion:
    """A lab the home physician may request (guide G1): a suggestion, not an order."""

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
    needs: tuple[str, ...] = ()
    """Inputs that were not given and could raise the outcome ("trend", "protocol"),
    each also explained by a reason; a form does not save until they are given."""

    @property
    def decided_by(self) -> str:
        """Who decides, in one sentence (the treating physician, or local emergency services)."""
        return DECIDED_BY[self.disposition]

    @property
    def category(self) -> IncidentCategory:
        """The incident category the rules point to: that of the most severe reason
        naming one (table order among equals), `other` when none does."""
        for reason in self.reasons:
            if reason.category is not None:
                return reason.category
        return IncidentCategory.OTHER

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
        """The triage contract's output object (docs/clinical-rules.md), plus additive keys.

        `emergency_number` is always present (the contract requires it for
        `emergency`); `emergency_warning` appears only when the country is unknown;
        `needs` is always present, empty when nothing missing could raise the outcome.
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
        result["needs"] = list(self.needs)
        result["decided_by"] = self.decided_by
        result["rules_version"] = self.rules_version
        return result


def assess(findings: Findings, rules: RuleTable | None = None) -> TriageOutcome:
    """Triage `findings` against `rules` (the shipped table by default).

    The disposition is the highest any rule reaches; every rule that fired is
    a reason, most severe first, then in table order. When nothing fires the
    `nothing_reported` rule does, so there is always at least one reason.

    A missing trend reads as not worsening and a missing protocol as not an
    infusion alone, so old inputs keep their outcome; but when the missing
    input could raise the outcome, a reason says so in words and `needs`
    names it.
    """
    table = rules if rules is not None else rule_table()
    fired = _fired(table, findings)
    disposition = Disposition.highest([reason.disposition for reason in fired])
    needs: list[str] = []
    notes: list[Reason] = []
    if findings.trend is None:
        worse = _worst(table, findings, [{"trend": Trend.WORSENING}])
        if worse.severity > disposition.severity:
            needs.append("trend")
            notes.append(_missing(TREND_NOT_RECORDED, disposition, _trend_note(worse)))
    if findings.protocol is None:
        worse = _worst(table, findings, [{"protocol": p} for p in Protocol])
        if worse.severity > disposition.severity:
            needs.append("protocol")
            notes.append(_missing(PROTOCOL_NOT_RECORDED, disposition, _protocol_note(worse)))
    reasons = (*notes, *fired) if notes else tuple(fired)
    return TriageOutcome(
        disposition=disposition,
        reasons=reasons,
        labs=tuple(
            lab for row in table.labs if (lab := _suggest(row, findings, fired)) is not None
        ),
        emergency=_emergency(findings.country),
        rules_version=table.version,
        needs=tuple(needs),
    )


def _fired(table: RuleTable, findings: Findings) -> list[Reason]:
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
    return fired


def _worst(table: RuleTable, findings: Findings, fillings: list[dict[str, Any]]) -> Disposition:
    """The highest disposition the findings reach with a missing input filled in
    each way it could be."""
    return Disposition.highest(
        [
            reason.disposition
            for filling in fillings
            for reason in _fired(table, findings.model_copy(update=filling))
        ]
    )


def _missing(rule: str, disposition: Disposition, text: str) -> Reason:
    # Listed with the outcome it explains; it never raises the outcome itself.
    return Reason(rule=rule, disposition=disposition, text=text)


def _trend_note(worse: Disposition) -> str:
    return (
        "Trend not recorded: read as not worsening; if worsening this is "
        f"{worse.value}. Ask whether it is improving, stable or getting worse."
    )


def _protocol_note(worse: Disposition) -> str:
    return (
        "Protocol not recorded: read as not an infusion alone; after another protocol this "
        f"would be {worse.value}. Check what the patient was treated with."
    )


def _fire(rule: TriageRule, findings: Findings) -> Reason | None:
    if rule.temperature is not None:
        in_band = findings.temperature_c is not None and rule.temperature.contains(
            findings.temperature_c
        )
        return _reason(rule, findings, []) if in_band else None
    matched = rule.matching_symptoms(
        findings.symptoms, findings.day, findings.trend, findings.protocol
    )
    if not matched or not rule.needs_a_partner:
        return _reason(rule, findings, matched) if matched else None
    partners, warm = rule.partners(findings.symptoms, findings.temperature_c)
    if not partners and not warm:
        return None
    return _reason(rule, findings, in_vocabulary_order({*matched, *partners}), with_fever=warm)


def _reason(
    rule: TriageRule, findings: Findings, matched: list[str], *, with_fever: bool = False
) -> Reason:
    named = describe_symptoms(matched)
    if with_fever:
        named += f" with a temperature of {_temperature(findings.temperature_c)} °C"
    text = rule.text.format_map(
        {
            "symptoms": named,
            "day": findings.day,
            "temperature": _temperature(findings.temperature_c),
        }
    )
    return Reason(
        rule=rule.id,
        disposition=rule.disposition,
        text=_capitalised(text),
        matched=tuple(matched),
        category=rule.category,
    )


def _suggest(lab: LabRule, findings: Findings, fired: list[Reason]) -> LabSuggestion | None:
    if not lab.applies_on(findings.day):
        return None
    triggers: list[str] = []
    by_rules = {code for reason in fired if reason.rule in lab.rules for code in reason.matched}
    symptoms = (lab.symptoms & findings.symptoms) | by_rules
    if symptoms:
        triggers.append(describe_symptoms(symptoms))
    threshold = lab.temperature_at_least_c
    temperature = findings.temperature_c
    if threshold is not None and temperature is not None and temperature >= threshold:
        triggers.append(f"temperature {_temperature(temperature)} °C")
    addons = sorted(lab.addons.intersection(findings.addons))
    triggers.extend(_ADDON_WORDS.get(code, code.replace("_", " ")) for code in addons)
    if not triggers:
        return None
    text = lab.text.format_map({"findings": "; ".join(triggers)})
    return LabSuggestion(lab=lab.id, text=_capitalised(text))


_ADDON_WORDS: Final[Mapping[str, str]] = MappingProxyType(
    {"glutathione_high_dose": "high-dose glutathione", "b_complex": "vitamin B complex"}
)
"""Add-on codes in words, for lab texts (no code reaches a person)."""


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
