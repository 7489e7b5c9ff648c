"""Escalation policies and alert wording (who is paged, in which order, saying what).

Defaults follow the escalation work's brief (PagerDuty-style steps): an
emergency pages the on-call and the treating physician, then the senior
physician, then every physician, five minutes apart, repeating up to three
times; urgent does the same at fifteen-minute steps; review sends one email
to the treating physician and pages nobody. `treating` stands for the
treating physician's own tag, resolved when the escalation is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.domain import Disposition

TREATING = "treating"
"""Placeholder target: the treating physician's tag (`treating:<staff>`)."""


@dataclass(frozen=True)
class EscalationStep:
    """One step: who is notified, and how long to wait for an acknowledgement."""

    targets: tuple[str, ...]
    wait_minutes: int


@dataclass(frozen=True)
class EscalationPolicy:
    """Ordered steps and how many times the whole chain repeats."""

    steps: tuple[EscalationStep, ...]
    repeat: int
    pages: bool = True


def _chain(wait: int) -> tuple[EscalationStep, ...]:
    return (
        EscalationStep(("oncall", TREATING), wait),
        EscalationStep(("senior",), wait),
        EscalationStep(("physicians",), wait),
    )


DEFAULT_POLICIES: dict[Disposition, EscalationPolicy] = {
    Disposition.EMERGENCY: EscalationPolicy(_chain(5), repeat=3),
    Disposition.URGENT: EscalationPolicy(_chain(15), repeat=3),
    Disposition.REVIEW: EscalationPolicy((EscalationStep((TREATING,), 0),), repeat=1, pages=False),
}


def resolve_targets(step: EscalationStep, treating_tag: str | None) -> tuple[str, ...]:
    """Concrete tags for a step; without a treating physician, the on-call covers."""
    resolved = []
    for target in step.targets:
        tag = (treating_tag or "oncall") if target == TREATING else target
        if tag not in resolved:
            resolved.append(tag)
    return tuple(resolved)


def alert_title(escalation_id: int, step: int, disposition: Disposition) -> str:
    """Short title, e.g. '[E-123 step 2] URGENT'."""
    return f"[E-{escalation_id} step {step}] {disposition.value.upper()}"


def alert_body(
    *,
    escalation_id: int,
    step: int,
    patient_code: str,
    disposition: Disposition,
    day: int,
    top_reason: str,
    patient_name: str | None = None,
) -> str:
    """Minimal patient information by default; the name only when configured."""
    who = f"{patient_code} ({patient_name})" if patient_name else patient_code
    return (
        f"{disposition.value.upper()} triage for patient {who}, day {day} after the procedure.\n"
        f"Top reason: {top_reason}\n"
        f"Escalation E-{escalation_id}, step {step}.\n"
        f"Acknowledge: aftercare ack E-{escalation_id} --by <your login>, "
        "or in the aftercare alerts screen."
    )


def build_policies(
    overrides: Mapping[str, Any] | None,
) -> dict[Disposition, EscalationPolicy]:
    """The defaults, with any disposition the clinic configured replaced whole.

    `overrides` maps 'review' / 'urgent' / 'emergency' to objects with `steps`
    (each with `targets` and `wait_minutes`) and `repeat`, as validated by
    core.config; `treating` in targets means the treating physician's tag.
    """
    policies = dict(DEFAULT_POLICIES)
    for name, policy in (overrides or {}).items():
        disposition = Disposition(name)
        policies[disposition] = EscalationPolicy(
            steps=tuple(
                EscalationStep(tuple(step.targets), int(step.wait_minutes)) for step in policy.steps
            ),
            repeat=int(policy.repeat),
            pages=disposition.pages_physician,
        )
    return policies
