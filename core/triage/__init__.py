"""Triage decision support (docs/clinical-rules.md): findings in, disposition and reasons out.

- `vocabulary`: the symptom codes of the triage contract and their labels;
- `rules`: the rule table (`core/data/triage_rules.toml`), checked when loaded;
- `findings`: `Findings` and `parse_triage_input`, validation at the edge;
- `outcome`: the one pure function, `assess(findings) -> TriageOutcome`.

Decision support for coordinators only: it never diagnoses, and every
outcome names who decides.
"""

from __future__ import annotations

from core.triage.findings import (
    TEMPERATURE_RANGE_C,
    Findings,
    TriageInputError,
    parse_triage_input,
)
from core.triage.outcome import (
    ACTIONS,
    DECIDED_BY,
    WHO_DECIDES,
    LabSuggestion,
    Reason,
    TriageOutcome,
    assess,
)
from core.triage.rules import RULES_VERSION, RuleTable, parse_rule_table, rule_table
from core.triage.vocabulary import SYMPTOM_CODES, SYMPTOMS

__all__ = [
    "ACTIONS",
    "DECIDED_BY",
    "RULES_VERSION",
    "SYMPTOMS",
    "SYMPTOM_CODES",
    "TEMPERATURE_RANGE_C",
    "WHO_DECIDES",
    "Findings",
    "LabSuggestion",
    "Reason",
    "RuleTable",
    "TriageInputError",
    "TriageOutcome",
    "assess",
    "parse_rule_table",
    "parse_triage_input",
    "rule_table",
]
