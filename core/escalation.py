"""Escalation policies and alert wording (who is paged, in which order, saying what).

Defaults follow the escalation work's brief (PagerDuty-style steps): an
emergency pages the on-call and the treating physician, then the senior
physician, then every physician, five minutes apart, repeating up to three
times; urgent does the same at fifteen-minute steps; review sends one email
to the treating physician and pages nobody. `treating` stands for the
treating physician's own tag, resolved when each step is queued: the
physician chosen on the episode, or the on-call physician in their place
(see `treating_target`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.domain import Disposition, Role
from core.oncall import ONCALL

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


@dataclass(frozen=True)
class TreatingPhysician:
    """The staff member chosen as treating physician on the episode, as paging needs them."""

    login: str
    role: Role
    active: bool
    notify_tag: str | None


@dataclass(frozen=True)
class TreatingTarget:
    """Where the `treating` target of an escalation goes, and why when not to the physician."""

    tag: str | None
    """The physician's own notify tag; None when the on-call physician covers."""
    physician: str | None = None
    """The login of the physician chosen on the episode, if any."""
    note: str | None = None
    """Why a chosen physician is not paged, in words; None when they are, or when the
    episode names nobody (then the on-call physician covers by design)."""


def treating_target(chosen: TreatingPhysician | None) -> TreatingTarget:
    """The treating physician's tag when they can be paged, else the on-call covers.

    A physician chosen on the episode is paged only while their account is active,
    they are a physician and they have a notify tag; otherwise the note says which
    of these failed, so the alert and the audit trail can say so.
    """
    if chosen is None:
        return TreatingTarget(None)
    tag = (chosen.notify_tag or "").strip()
    instead = "the on-call physician is paged in their place"
    if not chosen.active:
        why = f"treating physician {chosen.login}'s account is disabled"
    elif chosen.role is not Role.PHYSICIAN:
        why = f"treating physician {chosen.login} is on the staff list as {chosen.role.value}"
        why += ", not as a physician"
    elif not tag:
        why = f"treating physician {chosen.login} has no notify tag"
    else:
        return TreatingTarget(tag, chosen.login)
    return TreatingTarget(None, chosen.login, f"{why}: {instead}")


def pages_treating(step: EscalationStep) -> bool:
    """Whether this step's targets include the treating physician."""
    return TREATING in step.targets


def resolve_targets(step: EscalationStep, treating_tag: str | None) -> tuple[str, ...]:
    """Concrete tags for a step; without a treating physician's tag, the on-call covers
    (`treating_target` says why, when a physician was chosen)."""
    resolved = []
    for target in step.targets:
        tag = (treating_tag or ONCALL) if target == TREATING else target
        if tag not in resolved:
            resolved.append(tag)
    return tuple(resolved)


def alert_title(escalation_id: int, step: int, disposition: Disposition) -> str:
    """Short title, e.g. '[E-123 step 2] URGENT'."""
    return f"[E-{escalation_id} step {step}] {disposition.value.upper()}"


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


RETRY_WAITS_SECONDS: tuple[int, ...] = (30, 60, 120, 300, 600)
"""Waits between a page's attempts, the last one repeating; each is capped by the
clinic's `alert_retry_max_seconds` (default `RETRY_CAP_SECONDS`)."""
RETRY_CAP_SECONDS = 300
"""The longest wait between two tries of an undelivered page, unless the clinic sets
another: five minutes, so a page waits at most that long after a service recovers
(and a recovered service brings its waiting pages forward at once anyway)."""
FAILED_AFTER_ATTEMPTS = len(RETRY_WAITS_SECONDS) + 1
"""Attempts after which an undelivered page shows as failed (the red banner) and its
escalation climbs without waiting out the step; it is still tried while it is the
current step's page of an open escalation."""


def retry_wait_seconds(attempts: int, cap_seconds: int = RETRY_CAP_SECONDS) -> int:
    """Seconds before the next try of a page that failed `attempts` times (1 or more)."""
    wait = RETRY_WAITS_SECONDS[min(max(attempts, 1), len(RETRY_WAITS_SECONDS)) - 1]
    return max(1, min(wait, cap_seconds))
