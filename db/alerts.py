"""Read side of physician alerts: what the alerts screen and the queue banner show.

`open_alerts` lists every escalation nobody has closed yet (open, or acknowledged
but not resolved) with each of its outbox rows, in a fixed number of queries
whatever the number of alerts: one for the escalations (joined to the patient
and to whoever acknowledged), one for all their notifications.

`failed_deliveries` feeds the red banner on every coordinator's queue. A
delivery counts as failed when its outbox row gave up (`failed`), or when it is
still being retried after an attempt that failed (`pending` or `sending` with
attempts and a last error; `sending` is included so the banner does not flicker
off while a retry is in flight). There is no separate "seen" table: a failure
is *looked at* once its escalation is acknowledged or resolved, because a
person then owns the alert and the banner's job, getting someone to look, is
done. Until then the banner stays on every queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from core.domain import Disposition, EscalationStatus, NotificationStatus, Role
from core.service_urls import mask_secrets_in, mask_service_url
from db.escalations import SentWith
from db.models import (
    Escalation,
    OutboxNotification,
    Patient,
    Staff,
    Touchpoint,
    TreatmentEpisode,
)

# Alerts a person still has to deal with; resolved ones leave the screen.
_UNRESOLVED = (EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED)
_SEVERITY = {d: d.severity for d in Disposition}


@dataclass(frozen=True)
class NotificationView:
    """One outbox row of an alert: who (tag) at which step, and how delivery went."""

    id: int
    step: int
    cycle: int
    target_tag: str
    status: NotificationStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    services: tuple[str, ...]
    """Masked URLs of the services tried for this tag, in first-seen order."""
    sent_with: SentWith | None = None
    """The Apprise file its latest attempt went out with (None: not tried yet, or
    sent by a dispatcher of an earlier version)."""

    @property
    def failing(self) -> bool:
        """Given up, or being retried after a failed attempt (the banner's rule)."""
        if self.status is NotificationStatus.FAILED:
            return True
        retrying = self.status in (NotificationStatus.PENDING, NotificationStatus.SENDING)
        return retrying and self.attempts > 0 and self.last_error is not None


@dataclass(frozen=True)
class AlertView:
    """One unresolved escalation with its patient, its state and every notification."""

    id: int
    patient_id: int
    patient_code: str
    patient_name: str
    disposition: Disposition
    status: EscalationStatus
    current_step: int
    cycle: int
    next_step_at: datetime | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    notifications: tuple[NotificationView, ...]
    """Oldest first (step and cycle order), as they were queued."""

    @property
    def failing(self) -> int:
        """How many of its deliveries failed or are being retried after a failure."""
        return sum(1 for n in self.notifications if n.failing)

    @property
    def current(self) -> tuple[NotificationView, ...]:
        """The notifications of the step the alert is on now."""
        return tuple(
            n for n in self.notifications if (n.step, n.cycle) == (self.current_step, self.cycle)
        )


@dataclass(frozen=True)
class FailedSummary:
    """Failed deliveries nobody has looked at yet, for the queue banner."""

    count: int
    newest_at: datetime | None = None
    """When the newest such row was queued (None when there are none)."""
    newest_escalation_id: int | None = None


def _failing_rows() -> ColumnElement[bool]:
    return or_(
        OutboxNotification.status == NotificationStatus.FAILED,
        and_(
            OutboxNotification.status.in_((NotificationStatus.PENDING, NotificationStatus.SENDING)),
            OutboxNotification.attempts > 0,
            OutboxNotification.last_error.is_not(None),
        ),
    )


def open_alerts(session: Session, now: datetime) -> list[AlertView]:
    """Unresolved escalations, most severe first, then newest first; two queries in all.

    `now` does not change which rows are selected (an alert stays open whatever
    the time); it is taken so callers read alerts and the time they show together.
    """
    acknowledger = aliased(Staff)
    rows = session.execute(
        select(
            Escalation,
            Patient.code,
            Patient.family_name,
            Patient.given_name,
            acknowledger.display_name,
        )
        .join(Patient, Patient.id == Escalation.patient_id)
        .outerjoin(acknowledger, acknowledger.id == Escalation.acknowledged_by_id)
        .where(Escalation.status.in_(_UNRESOLVED))
    ).all()
    ids = [row[0].id for row in rows]
    by_escalation: dict[int, list[NotificationView]] = {i: [] for i in ids}
    if ids:
        for outbox in session.scalars(
            select(OutboxNotification)
            .where(OutboxNotification.escalation_id.in_(ids))
            .order_by(OutboxNotification.cycle, OutboxNotification.step, OutboxNotification.id)
        ):
            by_escalation[outbox.escalation_id].append(_notification(outbox))
    alerts = [
        AlertView(
            id=escalation.id,
            patient_id=escalation.patient_id,
            patient_code=code,
            patient_name=f"{family} {given}",
            disposition=escalation.disposition,
            status=escalation.status,
            current_step=escalation.current_step,
            cycle=escalation.cycle,
            next_step_at=escalation.next_step_at,
            created_at=escalation.created_at,
            acknowledged_at=escalation.acknowledged_at,
            acknowledged_by=acknowledged_by,
            notifications=tuple(by_escalation[escalation.id]),
        )
        for escalation, code, family, given, acknowledged_by in rows
    ]
    # Open before acknowledged (someone already owns those), then most severe, newest.
    alerts.sort(
        key=lambda a: (
            a.status is not EscalationStatus.OPEN,
            -_SEVERITY[a.disposition],
            -a.created_at.timestamp(),
            -a.id,
        )
    )
    return alerts


def _notification(outbox: OutboxNotification) -> NotificationView:
    return NotificationView(
        id=outbox.id,
        step=outbox.step,
        cycle=outbox.cycle,
        target_tag=outbox.target_tag,
        status=outbox.status,
        attempts=outbox.attempts,
        created_at=outbox.created_at,
        next_attempt_at=outbox.next_attempt_at,
        sent_at=outbox.sent_at,
        # Masked again on the way out: a row written before masking covered webhook
        # paths and topics must not show them either.
        last_error=mask_secrets_in(outbox.last_error) if outbox.last_error else None,
        services=_services(outbox.results),
        sent_with=(
            SentWith(outbox.config_path, "", outbox.config_sha256)
            if outbox.config_path and outbox.config_sha256
            else None
        ),
    )


def _services(results: list[Any]) -> tuple[str, ...]:
    """Masked service URLs named in the attempt history, each once.

    The dispatcher stores them masked already; masking again costs nothing and
    keeps a password off the screen even if a row was written some other way.
    """
    seen: list[str] = []
    for attempt in results or []:
        if not isinstance(attempt, dict):
            continue
        for service in attempt.get("services") or []:
            url = service.get("masked_url") if isinstance(service, dict) else None
            if isinstance(url, str) and url and mask_service_url(url) not in seen:
                seen.append(mask_service_url(url))
    return tuple(seen)


def failed_deliveries(session: Session) -> FailedSummary:
    """Count failing deliveries of open escalations; two small indexed queries.

    Acknowledged or resolved escalations are left out: that is what "looked at"
    means here (see the module docstring).
    """
    condition = and_(_failing_rows(), Escalation.status == EscalationStatus.OPEN)
    joined = (
        select(func.count())
        .select_from(OutboxNotification)
        .join(Escalation, Escalation.id == OutboxNotification.escalation_id)
    )
    count = session.scalar(joined.where(condition)) or 0
    if not count:
        return FailedSummary(0)
    newest = session.execute(
        select(OutboxNotification.created_at, OutboxNotification.escalation_id)
        .join(Escalation, Escalation.id == OutboxNotification.escalation_id)
        .where(condition)
        .order_by(OutboxNotification.created_at.desc(), OutboxNotification.id.desc())
        .limit(1)
    ).first()
    if newest is None:  # closed between the two reads
        return FailedSummary(0)
    return FailedSummary(count, newest[0], newest[1])


@dataclass(frozen=True)
class UntaggedTreating:
    """An active physician without a notify tag who treats patients still followed up."""

    login: str
    patients: int
    """How many patients with an open touchpoint have them as treating physician."""

    def warning(self) -> str:
        """One line in words, for `aftercare notify check`."""
        who = "1 patient" if self.patients == 1 else f"{self.patients} patients"
        return (
            f"physician {self.login} has no notify tag but is the treating physician of {who} "
            "still being followed up: their alerts page the on-call physician instead"
        )


def untagged_treating_physicians(session: Session) -> list[UntaggedTreating]:
    """Active physicians with no notify tag chosen as treating physician on an episode
    that still has an open touchpoint, in login order; one query."""
    untagged = or_(Staff.notify_tag.is_(None), func.trim(Staff.notify_tag) == "")
    rows = session.execute(
        select(Staff.username, func.count(func.distinct(TreatmentEpisode.patient_id)))
        .join(TreatmentEpisode, TreatmentEpisode.treating_physician_id == Staff.id)
        .join(Touchpoint, Touchpoint.episode_id == TreatmentEpisode.id)
        .where(
            Staff.active.is_(True),
            Staff.role == Role.PHYSICIAN,
            untagged,
            Touchpoint.resolution.is_(None),
        )
        .group_by(Staff.username)
        .order_by(Staff.username)
    ).all()
    return [UntaggedTreating(login, count) for login, count in rows]
