"""What the one-tap alert page reads and writes (the `aftercare web` service).

The link itself is checked by its signature before anything here runs
(core.alert_links); these functions take the verified claim. They add what a
signature cannot know: whether the escalation still exists and is open
(a closed one's links act no more), whether this link was already used for
this action (single use, recorded in `alert_link_use`), and who acts.

Who acts follows the tag the link was sent to. A tag that is one physician's
own notify tag acts as that physician. A tag several physicians share, or a
role tag no physician holds as their own (`oncall`, `senior`, `physicians`),
reached several people: the page asks which of them is acting. A tag that
belongs to someone who may not acknowledge (disabled, not a physician) acts
for nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.alert_links import LinkAction, LinkClaim, LinkClient, LinkProblem, LinkRefused
from core.countries import country_name, emergency_contact
from core.domain import Disposition, EscalationStatus, NotificationStatus, Role
from core.dossier import clinic_time_label, patient_zone
from core.oncall import ONCALL
from core.refusals import Refused
from core.triage.outcome import DECIDED_BY
from db import audit, escalations
from db.conflicts import last_change, login_name, staff_name
from db.followup import Actor, mark_changed
from db.models import (
    AlertLinkUse,
    Escalation,
    OutboxNotification,
    Patient,
    Staff,
    TriageAssessment,
)
from db.oncall import on_call_physician

_STATUS_WORDS = {
    NotificationStatus.PENDING: "waiting to be sent",
    NotificationStatus.SENDING: "being sent",
    NotificationStatus.SENT: "sent",
    NotificationStatus.FAILED: "could not be delivered",
    NotificationStatus.CANCELLED: "not sent (the alert was taken)",
}
_NOTHING_CHANGED = "Nothing was changed."


@dataclass(frozen=True)
class Physician:
    """A physician who may act through a link."""

    login: str
    name: str
    on_call: bool = False


@dataclass(frozen=True)
class Paged:
    """One page of the escalation: who it went to at which step, and what became of it."""

    step: int
    cycle: int
    to: str
    """Words: 'Dr Lee (dr-lee)', 'the on-call physician, Dr Kim', 'senior'."""
    status: str
    at: str
    """When it was sent, or queued when not sent, in clinic time."""
    this_link: bool
    """The page this link came with."""


@dataclass(frozen=True)
class LinkUse:
    """An action this very link already did."""

    action: LinkAction
    who: str
    at: str


@dataclass(frozen=True)
class LinkedAlert:
    """Everything the page shows a physician deciding what to do, for one link."""

    escalation_id: int
    status: EscalationStatus
    disposition: Disposition
    decided_by: str
    patient_code: str
    patient_name: str | None
    """Only when the clinic allows names in alerts (`alert_include_patient_name`)."""
    day: int | None
    reasons: tuple[str, ...]
    country: str
    """Where the patient is now, in words ('Japan')."""
    local_time: str
    """The patient's own clock now: 'Sun 22 Nov 15:00 (Asia/Tokyo)'."""
    emergency_number: str
    """The number the coordinator gave the patient: '119 (Japan)'."""
    note: str | None
    """The coordinator's note on the triage."""
    triaged_at: str | None
    paged: tuple[Paged, ...]
    acknowledged: str | None
    """'Dr Lee at 22 Nov 15:02 KST' once someone acknowledged."""
    step: int
    target_tag: str
    acting: Physician | None
    """The physician this link acts as, when its tag is one physician's own."""
    choices: tuple[Physician, ...]
    """When the tag reached several physicians: who may say they are acting."""
    used: tuple[LinkUse, ...]
    refusal: str | None = None
    """Why nobody can act through this link, when that is so (its tag's owner may not)."""

    def may(self, action: LinkAction) -> bool:
        """Whether the page offers `action`: not used yet through this link, and the
        alert in a state it applies to."""
        if self.refusal or any(use.action is action for use in self.used):
            return False
        if action is LinkAction.ACKNOWLEDGE:
            return self.status is EscalationStatus.OPEN
        return self.status is not EscalationStatus.RESOLVED


@dataclass(frozen=True)
class LinkActed:
    """What a link did: the sentence the page shows."""

    escalation_id: int
    action: LinkAction
    physician: str
    at: datetime

    def words(self) -> str:
        """'E-3 acknowledged by Dr Lee at 22 Nov 15:02 KST: every further page stops.'"""
        done = f"E-{self.escalation_id} {self.action.value}d by {self.physician}"
        done += f" at {clinic_time_label(self.at)}"
        if self.action is LinkAction.ACKNOWLEDGE:
            return f"{done}: every further page has stopped."
        return f"{done}: the alert is closed."


def _escalation(session: Session, claim: LinkClaim) -> Escalation:
    """The link's escalation while it is not closed; refusals say what is wrong."""
    escalation = session.get(Escalation, claim.escalation_id)
    if escalation is None:
        raise LinkRefused(
            LinkProblem.UNKNOWN,
            f"There is no alert E-{claim.escalation_id} any more. {_NOTHING_CHANGED}",
        )
    if escalation.status is EscalationStatus.RESOLVED:
        change = last_change(session, "escalation", escalation.id, ["escalation.resolve"])
        how = f" ({change.words})" if change else ""
        raise LinkRefused(
            LinkProblem.EXPIRED,
            f"Alert E-{escalation.id} is closed{how}: its links no longer act. {_NOTHING_CHANGED}",
        )
    return escalation


def _physicians(session: Session, tag: str | None = None) -> list[Staff]:
    query = select(Staff).where(Staff.role == Role.PHYSICIAN, Staff.active.is_(True))
    if tag is not None:
        query = query.where(Staff.notify_tag == tag)
    return list(session.scalars(query.order_by(Staff.display_name, Staff.username)))


def _who_acts(
    session: Session, now: datetime, tag: str
) -> tuple[Physician | None, tuple[Physician, ...], str | None]:
    """(the physician the tag names, the physicians to choose from, why nobody may act)."""
    own = _physicians(session, tag)
    if len(own) == 1:
        return Physician(own[0].username, own[0].display_name), (), None
    if own:
        return None, tuple(Physician(s.username, s.display_name) for s in own), None
    owner = session.scalars(select(Staff).where(Staff.notify_tag == tag).limit(1)).first()
    if owner is not None:
        why = "whose account is disabled" if not owner.active else f"a {owner.role.value}"
        return (
            None,
            (),
            f"This link was sent to {owner.display_name} ({tag}), {why}, who may not "
            f"acknowledge alerts. {_NOTHING_CHANGED}",
        )
    # A role tag: it reached several people, any physician of the clinic may be acting.
    on_call = on_call_physician(session, now) if tag == ONCALL else None
    everyone = [
        Physician(s.username, s.display_name, on_call is not None and s.username == on_call.login)
        for s in _physicians(session)
    ]
    everyone.sort(key=lambda p: not p.on_call)  # whoever is on call now first
    return None, tuple(everyone), None


def _uses(session: Session, claim: LinkClaim) -> tuple[LinkUse, ...]:
    rows = session.execute(
        select(AlertLinkUse.action, AlertLinkUse.used_at, Staff.display_name)
        .join(Staff, Staff.id == AlertLinkUse.staff_id)
        .where(AlertLinkUse.nonce == claim.nonce)
        .order_by(AlertLinkUse.id)
    ).all()
    return tuple(LinkUse(LinkAction(a), name, clinic_time_label(at)) for a, at, name in rows)


def _paged(session: Session, escalation_id: int, claim: LinkClaim) -> tuple[Paged, ...]:
    names = {
        tag: f"{name} ({tag})"
        for tag, name in session.execute(
            select(Staff.notify_tag, Staff.display_name).where(Staff.notify_tag.is_not(None))
        )
        if tag
    }
    pages = []
    for row in session.scalars(
        select(OutboxNotification)
        .where(OutboxNotification.escalation_id == escalation_id)
        .order_by(OutboxNotification.cycle, OutboxNotification.step, OutboxNotification.id)
    ):
        to = names.get(row.target_tag, row.target_tag)
        reached = _on_call_reached(row.results)
        if row.target_tag == ONCALL:
            person = login_name(session, reached) if reached else None
            to = f"the on-call physician, {person}" if person else "the on-call group (oncall)"
        at = row.sent_at if row.sent_at is not None else row.created_at
        pages.append(
            Paged(
                row.step,
                row.cycle,
                to,
                _STATUS_WORDS[row.status],
                clinic_time_label(at),
                (row.step, row.cycle) == (claim.step, claim.cycle)
                and claim.target_tag in (row.target_tag, *_routed_tags(row.results)),
            )
        )
    return tuple(pages)


def _on_call_reached(results: list[Any]) -> str | None:
    """The login of the on-call physician an `oncall` row reached (its last attempt)."""
    for attempt in reversed(results or []):
        routed = attempt.get("oncall") if isinstance(attempt, dict) else None
        if isinstance(routed, dict) and routed.get("physician"):
            return str(routed["physician"])
    return None


def _routed_tags(results: list[Any]) -> list[str]:
    tags = []
    for attempt in results or []:
        routed = attempt.get("oncall") if isinstance(attempt, dict) else None
        if isinstance(routed, dict):
            tags += [str(routed[k]) for k in ("tag", "first_tag") if routed.get(k)]
    return tags


def alert_for_link(
    session: Session, now: datetime, claim: LinkClaim, *, include_patient_name: bool = False
) -> LinkedAlert:
    """What the page shows for a verified link; refused (LinkRefused) when its alert is
    gone or closed. Reads only."""
    escalation = _escalation(session, claim)
    patient = session.get_one(Patient, escalation.patient_id)
    triage = session.get(TriageAssessment, escalation.triage_id) if escalation.triage_id else None
    zone = patient_zone(patient.timezone)
    local = f"{now.astimezone(zone):%a %d %b %H:%M} ({patient.timezone})" if zone else "unknown"
    given = emergency_contact(triage.current_country if triage else patient.current_country)
    acting, choices, refusal = _who_acts(session, now, claim.target_tag)
    acknowledged = None
    if escalation.acknowledged_at is not None:
        who = staff_name(session, escalation.acknowledged_by_id)
        acknowledged = f"{who} at {clinic_time_label(escalation.acknowledged_at)}"
    return LinkedAlert(
        escalation_id=escalation.id,
        status=escalation.status,
        disposition=escalation.disposition,
        decided_by=DECIDED_BY[escalation.disposition],
        patient_code=patient.code,
        patient_name=patient.display_name if include_patient_name else None,
        day=triage.day if triage else None,
        reasons=tuple(
            str(r.get("text")) for r in (triage.reasons if triage else []) if r.get("text")
        ),
        country=country_name(patient.current_country),
        local_time=local,
        emergency_number=f"{given.numbers_text} ({given.country_name})",
        note=triage.note if triage else None,
        triaged_at=clinic_time_label(triage.assessed_at) if triage else None,
        paged=_paged(session, escalation.id, claim),
        acknowledged=acknowledged,
        step=claim.step,
        target_tag=claim.target_tag,
        acting=acting,
        choices=choices,
        used=_uses(session, claim),
        refusal=refusal,
    )


def act_through_link(
    session: Session,
    now: datetime,
    claim: LinkClaim,
    action: LinkAction,
    *,
    acting_login: str | None,
    client: LinkClient,
) -> LinkActed:
    """Acknowledge or resolve through a verified link, as the physician it names (or the
    one chosen on the page), once per link and action; nothing changes on a refusal.

    The acknowledgement itself is db.escalations' (every further page stops, its
    audit event); this adds the link's use and a second audit event saying how:
    the link's step and tag, the client address and the browser.
    """
    # First, as every write does: it also orders two taps of the same link.
    mark_changed(session, now)
    escalation = _escalation(session, claim)
    used = session.execute(
        select(AlertLinkUse.used_at, Staff.display_name)
        .join(Staff, Staff.id == AlertLinkUse.staff_id)
        .where(AlertLinkUse.nonce == claim.nonce, AlertLinkUse.action == action.value)
    ).first()
    if used is not None:
        raise LinkRefused(
            LinkProblem.REPLAYED,
            f"This link was already used to {action.value} E-{escalation.id}, by "
            f"{used.display_name} at {clinic_time_label(used.used_at)}; a link acts once. "
            f"{_NOTHING_CHANGED}",
        )
    acting, choices, refusal = _who_acts(session, now, claim.target_tag)
    if refusal:
        raise Refused(refusal)
    if acting is None:
        chosen = [p for p in choices if p.login == acting_login]
        if not chosen:
            raise Refused(f"Choose which physician you are from the list. {_NOTHING_CHANGED}")
        acting = chosen[0]
    staff = session.scalars(select(Staff).where(Staff.username == acting.login)).one()
    actor = Actor(staff.id, staff.username, staff.display_name, staff.role)
    if action is LinkAction.ACKNOWLEDGE:
        escalations.acknowledge(session, now, actor, escalation.id)
    else:
        escalations.resolve(session, now, actor, escalation.id)
    session.add(
        AlertLinkUse(
            nonce=claim.nonce,
            action=action.value,
            escalation_id=escalation.id,
            step=claim.step,
            cycle=claim.cycle,
            target_tag=claim.target_tag,
            staff_id=staff.id,
            used_at=now,
            client_address=(client.address or "")[:64] or None,
            user_agent=(client.user_agent or "")[:300] or None,
        )
    )
    session.flush()
    details = {
        "action": action.value,
        "physician": staff.username,
        "step": claim.step,
        "cycle": claim.cycle,
        "target_tag": claim.target_tag,
        "client_address": client.address,
        "user_agent": client.user_agent,
    }
    audit.log(session, now, actor, "escalation.link_used", escalation, after=details)
    return LinkActed(escalation.id, action, staff.display_name, now)
