"""The escalation state machine in the database: claims, deliveries, steps, acknowledgement.

Timers are rows, not sleeps: an escalation's `next_step_at` says when its
current step's wait runs out, and an outbox row's `next_attempt_at` when to
try it again. Every transition is a compare-and-set UPDATE (a WHERE clause on
the state it expects), so two dispatchers, or a dispatcher and a physician
acknowledging, can race without sending twice or losing a step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ColumnElement, CursorResult, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from core.domain import Disposition, EscalationStatus, NotificationStatus
from core.escalation import (
    DEFAULT_POLICIES,
    FAILED_AFTER_ATTEMPTS,
    RETRY_CAP_SECONDS,
    RETRY_WAITS_SECONDS,
    TREATING,
    EscalationPolicy,
    TreatingPhysician,
    TreatingTarget,
    alert_title,
    pages_treating,
    resolve_targets,
    retry_wait_seconds,
    treating_target,
)
from core.oncall import ONCALL
from core.permissions import Action
from core.plain_text import shown
from core.service_urls import mask_secrets_in, mask_service_url
from db import audit
from db.conflicts import last_change, staff_name, when
from db.followup import Actor, FollowUpConflict, mark_changed, require
from db.models import (
    DispatcherLease,
    Escalation,
    OutboxNotification,
    Patient,
    Staff,
    TreatmentEpisode,
    TriageAssessment,
    UtcDateTime,
)

BACKOFF_SECONDS = RETRY_WAITS_SECONDS
"""Waits between attempts (core.escalation says how they repeat and are capped)."""
MAX_ATTEMPTS = FAILED_AFTER_ATTEMPTS
"""Attempts after which a row shows as failed; it is still retried while its step is
the current one of an open escalation (see `claim_due`)."""
OUTBOX_LEASE = "outbox"
ROUTING = "alert routing"
"""The audit actor of a routing decision no person made (a step the dispatcher queued)."""


def _rows(result: object) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


@dataclass(frozen=True)
class SentWith:
    """The Apprise file a dispatcher sends with, as the lease and each page record it."""

    path: str
    owner: str
    sha256: str

    def words(self) -> str:
        """How a screen names it: the path and the start of the content's hash."""
        return f"{self.path} ({self.sha256[:12]})"


@dataclass(frozen=True)
class DispatcherHolder:
    """Who holds the live dispatcher lease, and with which Apprise file they send."""

    owner: str
    sent_with: SentWith | None
    """None for a dispatcher that did not say (one of an earlier version)."""


def acquire_dispatcher(
    session: Session,
    *,
    owner: str,
    now: datetime,
    ttl: timedelta,
    sent_with: SentWith | None = None,
) -> bool:
    """Take or renew the single dispatcher lease; False while another holds it. The
    lease names the configuration its holder sends with (`sent_with`)."""
    named = {
        "config_path": sent_with.path if sent_with else None,
        "config_owner": sent_with.owner if sent_with else None,
        "config_sha256": sent_with.sha256 if sent_with else None,
    }
    renewed = session.execute(
        update(DispatcherLease)
        .where(
            DispatcherLease.name == OUTBOX_LEASE,
            or_(DispatcherLease.owner == owner, DispatcherLease.expires_at <= now),
        )
        .values(owner=owner, expires_at=now + ttl, renewed_at=now, **named)
    )
    if _rows(renewed):
        return True
    if session.get(DispatcherLease, OUTBOX_LEASE) is not None:
        return False
    # First dispatcher ever: create the row; a racing creator hits the primary key.
    try:
        with session.begin_nested():
            session.add(
                DispatcherLease(
                    name=OUTBOX_LEASE, owner=owner, expires_at=now + ttl, renewed_at=now, **named
                )
            )
    except Exception:
        return False
    return True


def release_dispatcher(session: Session, *, owner: str, now: datetime) -> None:
    """Give the lease up at once (clean shutdown), so another dispatcher need not wait."""
    session.execute(
        update(DispatcherLease)
        .where(DispatcherLease.name == OUTBOX_LEASE, DispatcherLease.owner == owner)
        .values(expires_at=now)
    )


def dispatcher_active(session: Session, now: datetime) -> str | None:
    """The owner of a live dispatcher lease, if any (the TUI runs its own when None)."""
    lease = session.get(DispatcherLease, OUTBOX_LEASE)
    return lease.owner if lease is not None and lease.expires_at > now else None


def dispatcher_holder(session: Session, now: datetime) -> DispatcherHolder | None:
    """The live dispatcher lease's holder and the configuration it sends with."""
    lease = session.get(DispatcherLease, OUTBOX_LEASE, populate_existing=True)
    if lease is None or lease.expires_at <= now:
        return None
    sent_with = (
        SentWith(lease.config_path, lease.config_owner or "", lease.config_sha256)
        if lease.config_path and lease.config_sha256
        else None
    )
    return DispatcherHolder(lease.owner, sent_with)


@dataclass(frozen=True)
class ClaimedDelivery:
    """An outbox row leased to one dispatcher: what to send and its history so far."""

    outbox_id: int
    escalation_id: int
    step: int
    cycle: int
    target_tag: str
    title: str
    body: str
    attempts: int
    results: list[Any]
    next_attempt_at: datetime


def claim_due(
    session: Session, *, owner: str, now: datetime, lease: timedelta, limit: int = 50
) -> list[ClaimedDelivery]:
    """Lease due outbox rows to `owner`; rows whose earlier lease expired are due again.

    A failed row is tried again, on its capped backoff, for as long as it is a page of
    its escalation's current step and cycle and the escalation is open: an outage
    does not end the trying, and an acknowledgement or resolution does. A failed row
    of a step the chain has left is not sent late: the current step's people are
    paged instead, and their page says how long delivery was impossible.
    """
    current_step = (
        select(Escalation.id)
        .where(
            Escalation.id == OutboxNotification.escalation_id,
            Escalation.status == EscalationStatus.OPEN,
            Escalation.current_step == OutboxNotification.step,
            Escalation.cycle == OutboxNotification.cycle,
        )
        .exists()
    )
    due = or_(
        and_(
            OutboxNotification.status == NotificationStatus.PENDING,
            OutboxNotification.next_attempt_at <= now,
        ),
        and_(
            OutboxNotification.status == NotificationStatus.FAILED,
            OutboxNotification.next_attempt_at <= now,
            current_step,
        ),
        # A dispatcher died mid-send: its lease ran out, the row is retried.
        and_(
            OutboxNotification.status == NotificationStatus.SENDING,
            OutboxNotification.lease_expires_at <= now,
        ),
    )
    candidates = session.scalars(
        select(OutboxNotification.id)
        .where(due)
        .order_by(OutboxNotification.next_attempt_at, OutboxNotification.id)
        .limit(limit)
    ).all()
    if not candidates:
        return []
    # One compare-and-set for the whole set: each row is taken only if it is still due,
    # so a racing dispatcher gets the others and never the same row. The lease expiry
    # doubles as this claim's token when reading back what was won.
    token = now + lease
    session.execute(
        update(OutboxNotification)
        .where(OutboxNotification.id.in_(candidates), due)
        .values(status=NotificationStatus.SENDING, lease_owner=owner, lease_expires_at=token)
        .execution_options(synchronize_session=False)
    )
    # What was won, read as plain columns: loading ORM objects cost more than the claim.
    won = session.execute(
        select(
            OutboxNotification.id,
            OutboxNotification.escalation_id,
            OutboxNotification.step,
            OutboxNotification.cycle,
            OutboxNotification.target_tag,
            OutboxNotification.title,
            OutboxNotification.body,
            OutboxNotification.attempts,
            OutboxNotification.results,
            OutboxNotification.next_attempt_at,
        )
        .where(
            OutboxNotification.id.in_(candidates),
            OutboxNotification.lease_owner == owner,
            OutboxNotification.lease_expires_at == token,
            OutboxNotification.status == NotificationStatus.SENDING,
        )
        .order_by(OutboxNotification.next_attempt_at, OutboxNotification.id)
    )
    return [
        ClaimedDelivery(
            r.id,
            r.escalation_id,
            r.step,
            r.cycle,
            r.target_tag,
            r.title,
            r.body,
            r.attempts,
            list(r.results or []),
            r.next_attempt_at,
        )
        for r in won
    ]


_FINISH = (
    update(OutboxNotification)
    .where(
        OutboxNotification.id == bindparam("oid"),
        OutboxNotification.lease_owner == bindparam("owner_"),
        OutboxNotification.status == NotificationStatus.SENDING,
    )
    .values(
        attempts=bindparam("attempts_"),
        results=bindparam("results_", type_=JSON()),
        last_error=bindparam("error_"),
        status=bindparam("status_", type_=OutboxNotification.__table__.c.status.type),
        sent_at=bindparam("sent_at_", type_=UtcDateTime()),
        next_attempt_at=bindparam("next_at_", type_=UtcDateTime()),
        config_path=bindparam("config_path_"),
        config_sha256=bindparam("config_sha256_"),
        lease_owner=None,
        lease_expires_at=None,
    )
)


def finish_delivery(
    session: Session,
    *,
    claim: ClaimedDelivery,
    owner: str,
    delivered: bool,
    results: Sequence[Mapping[str, Any]],
    error: str | None,
    now: datetime,
    routing: Mapping[str, Any] | None = None,
    same_as: Sequence[str] = (),
    retry_cap_seconds: int = RETRY_CAP_SECONDS,
    sent_with: SentWith | None = None,
) -> bool:
    """Record one attempt's outcome; False when the lease was lost (someone else owns it).

    One conditional UPDATE: while our lease holds nobody else changes the row, so
    the attempt count and history read at claim time are still current.
    `routing` (core.oncall.PageRoute.record) says whom an `oncall` row reached; its
    note, when the static on-call tag had to stand in, also goes to `last_error`
    so the alerts screen shows it, as does the note of an on-call row standing in
    for the treating physician (kept from `queue_step`).
    `same_as` names the rows of the same step whose message already reached this
    row's services (one message per person per step): the row is delivered, its
    history says so (`same_person_note`), and `last_error` stays clear, since
    nothing failed.
    `sent_with` names the Apprise file the attempt went out with (the row and its
    history keep it). Service URLs and errors are masked here, before anything is
    stored, whoever produced them (`core.service_urls`).
    """
    attempts = claim.attempts + 1
    error = mask_secrets_in(error) if error else error
    history = [
        *claim.results,
        {
            "attempt": attempts,
            "at": now.isoformat(),
            "delivered": delivered,
            "error": error,
            "services": [_masked(service) for service in results],
            **(
                {"config": {"path": sent_with.path, "sha256": sent_with.sha256}}
                if sent_with is not None
                else {}
            ),
            **({"oncall": dict(routing)} if routing is not None else {}),
            **({"same_as": list(same_as), "note": same_person_note(same_as)} if same_as else {}),
        },
    ]
    notes = [str(n) for n in (_covering_note(claim.results), _routing_note(routing)) if n]
    if notes:
        note = "; ".join(notes)
        error = f"{error} ({note})" if error else note
    if delivered:
        status, next_at = NotificationStatus.SENT, claim.next_attempt_at
    else:
        # Failed or not, the row keeps a next try: `claim_due` decides whether it is made.
        failed = attempts >= MAX_ATTEMPTS
        status = NotificationStatus.FAILED if failed else NotificationStatus.PENDING
        next_at = now + timedelta(seconds=retry_wait_seconds(attempts, retry_cap_seconds))
    # A prepared statement on the session's connection: this runs once per alert
    # sent, and building an ORM update each time cost more than the update itself.
    recorded = session.connection().execute(
        _FINISH,
        {
            "oid": claim.outbox_id,
            "owner_": owner,
            "attempts_": attempts,
            "results_": history,
            "error_": error,
            "status_": status,
            "sent_at_": now if delivered else None,
            "next_at_": next_at,
            "config_path_": sent_with.path if sent_with else None,
            "config_sha256_": sent_with.sha256 if sent_with else None,
        },
    )
    if not _rows(recorded):
        return False
    if status is NotificationStatus.FAILED and attempts == MAX_ATTEMPTS and not _reached(history):
        # Nobody at this step can be reached: do not wait out the step, climb now (once).
        # (A pager that delivered while the mail server fails did reach the person.)
        session.execute(
            update(Escalation)
            .where(
                Escalation.id == claim.escalation_id,
                Escalation.status == EscalationStatus.OPEN,
                Escalation.current_step == claim.step,
                Escalation.cycle == claim.cycle,
            )
            .values(next_step_at=now)
            .execution_options(synchronize_session=False)
        )
    return True


def _masked(service: Mapping[str, Any]) -> dict[str, Any]:
    """One service's result as it may be stored: its URL and error masked."""
    stored = dict(service)
    if isinstance(stored.get("masked_url"), str):
        stored["masked_url"] = mask_service_url(stored["masked_url"])
    if isinstance(stored.get("error"), str):
        stored["error"] = mask_secrets_in(stored["error"])
    return stored


def _reached(history: Sequence[Any]) -> bool:
    """Whether any service delivered any attempt of a row."""
    return any(
        isinstance(service, dict) and service.get("ok")
        for entry in history
        if isinstance(entry, dict)
        for service in entry.get("services") or []
    )


def same_person_note(tags: Sequence[str]) -> str:
    """Why a row was recorded as delivered without a message of its own."""
    return f"same person as {' and '.join(tags)}, not sent twice"


@dataclass(frozen=True)
class SentPage:
    """A row of a step already delivered in an earlier round: where its message went."""

    escalation_id: int
    step: int
    cycle: int
    target_tag: str
    sent_to: str
    """The tag the message was delivered to (for `oncall` rows, whom it was routed to)."""
    services: list[Any]
    """The masked outcome of each service of that delivery."""


def sent_in_steps(session: Session, claimed: Sequence[ClaimedDelivery]) -> list[SentPage]:
    """The rows already delivered, with a message of their own, in the steps (escalation,
    step, cycle) of `claimed`, so a row claimed in a later round is not sent to the same
    person twice. Rows recorded as the same person as another are left out: their
    message is the other row's."""
    steps = {(c.escalation_id, c.step, c.cycle) for c in claimed}
    if not steps:
        return []
    rows = session.execute(
        select(
            OutboxNotification.escalation_id,
            OutboxNotification.step,
            OutboxNotification.cycle,
            OutboxNotification.target_tag,
            OutboxNotification.results,
        ).where(
            OutboxNotification.escalation_id.in_({e for e, _, _ in steps}),
            OutboxNotification.status == NotificationStatus.SENT,
            OutboxNotification.id.not_in([c.outbox_id for c in claimed]),
        )
    ).all()
    sent = []
    for escalation_id, step, cycle, target_tag, results in rows:
        last = results[-1] if results and isinstance(results[-1], dict) else {}
        if (escalation_id, step, cycle) not in steps or last.get("same_as"):
            continue
        routed = last.get("oncall")
        sent_to = routed.get("tag") if isinstance(routed, dict) else None
        services = last.get("services")
        sent.append(
            SentPage(
                escalation_id,
                step,
                cycle,
                target_tag,
                str(sent_to or target_tag),
                list(services) if isinstance(services, list) else [],
            )
        )
    return sent


def release_claims(session: Session, *, owner: str, outbox_ids: Sequence[int]) -> None:
    """Hand back rows claimed but not attempted (the dispatcher is stopping): due again
    at once for the next dispatcher, instead of when their lease runs out."""
    if not outbox_ids:
        return
    session.execute(
        update(OutboxNotification)
        .where(
            OutboxNotification.id.in_(list(outbox_ids)),
            OutboxNotification.lease_owner == owner,
            OutboxNotification.status == NotificationStatus.SENDING,
        )
        .values(status=NotificationStatus.PENDING, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Undeliverable:
    """How long an escalation's pages could not be delivered, up to a row's next try."""

    since: datetime
    error: str | None


def undeliverable_since(
    session: Session, claimed: Sequence[ClaimedDelivery]
) -> dict[int, Undeliverable]:
    """For each claimed row that failed before: since when its escalation's pages could
    not be delivered (the first failure after the last delivery that preceded this row's
    own first failure), and the row's last error; rows that never failed are left out.

    Measured per row, so every person paged after an outage learns of it once, even when
    the first page through, in an earlier round, already ended the outage."""
    failed_before = [c for c in claimed if _attempt_times(c.results, delivered=False)]
    if not failed_before:
        return {}
    histories = session.execute(
        select(OutboxNotification.escalation_id, OutboxNotification.results).where(
            OutboxNotification.escalation_id.in_({c.escalation_id for c in failed_before})
        )
    ).all()
    failures: dict[int, list[datetime]] = {}
    deliveries: dict[int, list[datetime]] = {}
    for escalation_id, results in histories:
        failures.setdefault(escalation_id, []).extend(_attempt_times(results, delivered=False))
        deliveries.setdefault(escalation_id, []).extend(_attempt_times(results, delivered=True))
    found = {}
    for claim in failed_before:
        first = min(_attempt_times(claim.results, delivered=False))
        before = [at for at in deliveries.get(claim.escalation_id, []) if at < first]
        after = max(before) if before else None
        since = min(
            at for at in failures.get(claim.escalation_id, [first]) if after is None or at > after
        )
        last = claim.results[-1] if isinstance(claim.results[-1], dict) else {}
        found[claim.outbox_id] = Undeliverable(since, last.get("error"))
    return found


def _attempt_times(results: Any, *, delivered: bool) -> list[datetime]:
    """When a row's attempts with this outcome were made (its history in `results`)."""
    times = []
    for entry in results or []:
        if isinstance(entry, dict) and "attempt" in entry and entry.get("delivered") is delivered:
            times.append(datetime.fromisoformat(str(entry["at"])))
    return times


def probe_one(session: Session, *, now: datetime) -> int | None:
    """Make the undelivered row next in line for a try due now, and return its id (None
    when nothing waits): called every half minute or so, it finds a service's recovery
    without waiting out a backoff of up to five minutes, and the service's other pages
    then follow at once (`retry_now`)."""
    retried = or_(
        OutboxNotification.status == NotificationStatus.PENDING,
        select(Escalation.id)
        .where(
            Escalation.id == OutboxNotification.escalation_id,
            Escalation.status == EscalationStatus.OPEN,
            Escalation.current_step == OutboxNotification.step,
            Escalation.cycle == OutboxNotification.cycle,
        )
        .exists(),
    )
    waiting = session.scalars(
        select(OutboxNotification.id)
        .where(
            OutboxNotification.status.in_((NotificationStatus.PENDING, NotificationStatus.FAILED)),
            OutboxNotification.attempts > 0,
            OutboxNotification.next_attempt_at > now,
            retried,
        )
        .order_by(OutboxNotification.next_attempt_at, OutboxNotification.id)
        .limit(1)
    ).first()
    if waiting is None:
        return None
    session.execute(
        update(OutboxNotification)
        .where(OutboxNotification.id == waiting, OutboxNotification.next_attempt_at > now)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return waiting


def retry_now(session: Session, *, recovered: Sequence[str], now: datetime) -> int:
    """Bring forward every undelivered row whose last attempt failed on a service that
    has just delivered again (`recovered`: service destinations), so pages waiting out
    a long backoff go out within a round of the recovery; how many."""
    if not recovered:
        return 0
    wanted = set(recovered)
    waiting = session.execute(
        select(OutboxNotification.id, OutboxNotification.results)
        .join(Escalation, Escalation.id == OutboxNotification.escalation_id)
        .where(
            Escalation.status == EscalationStatus.OPEN,
            OutboxNotification.status.in_((NotificationStatus.PENDING, NotificationStatus.FAILED)),
            OutboxNotification.attempts > 0,
            OutboxNotification.next_attempt_at > now,
        )
    ).all()
    due = []
    for outbox_id, results in waiting:
        last = results[-1] if results and isinstance(results[-1], dict) else {}
        services = last.get("services") or []
        if any(
            isinstance(s, dict) and not s.get("ok") and s.get("destination") in wanted
            for s in services
        ):
            due.append(outbox_id)
    if due:
        session.execute(
            update(OutboxNotification)
            .where(OutboxNotification.id.in_(due), OutboxNotification.next_attempt_at > now)
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(due)


def _covering_note(results: Sequence[Any]) -> str | None:
    """Why this row pages the on-call in the treating physician's place, if it does
    (the first history entry `queue_step` wrote)."""
    first = results[0] if results else None
    covering = first.get(TREATING) if isinstance(first, dict) else None
    note = covering.get("note") if isinstance(covering, dict) else None
    return str(note) if note else None


def _routing_note(routing: Mapping[str, Any] | None) -> str | None:
    note = routing.get("note") if routing is not None else None
    return str(note) if note else None


def advance_escalations(
    session: Session,
    *,
    now: datetime,
    policies: Mapping[Disposition, EscalationPolicy] | None = None,
    include_patient_name: bool = False,
) -> list[int]:
    """Move every open escalation whose wait ran out to its next step (or next cycle)."""
    chosen = policies or DEFAULT_POLICIES
    moved = []
    due = session.scalars(
        select(Escalation).where(
            Escalation.status == EscalationStatus.OPEN,
            Escalation.next_step_at.is_not(None),
            Escalation.next_step_at <= now,
        )
    ).all()
    for escalation in due:
        policy = chosen[escalation.disposition]
        step, cycle = escalation.current_step + 1, escalation.cycle
        if step > len(policy.steps):
            step, cycle = 1, cycle + 1
        if cycle > policy.repeat:
            # Every cycle ran: stop paging, keep the alert open and visible on every queue.
            session.execute(
                update(Escalation)
                .where(Escalation.id == escalation.id, Escalation.version == escalation.version)
                .values(next_step_at=None, version=Escalation.version + 1)
                .execution_options(synchronize_session=False)
            )
            continue
        wait = timedelta(minutes=policy.steps[step - 1].wait_minutes)
        won = session.execute(
            update(Escalation)
            .where(
                Escalation.id == escalation.id,
                Escalation.version == escalation.version,
                Escalation.status == EscalationStatus.OPEN,
            )
            .values(
                current_step=step,
                cycle=cycle,
                next_step_at=now + wait,
                version=Escalation.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if not _rows(won):
            continue  # another dispatcher, or an acknowledgement, got there first
        queue_step(
            session,
            escalation_id=escalation.id,
            step=step,
            cycle=cycle,
            now=now,
            policy=policy,
            include_patient_name=include_patient_name,
        )
        moved.append(escalation.id)
    if moved:
        mark_changed(session, now)
    return moved


def queue_step(
    session: Session,
    *,
    escalation_id: int,
    step: int,
    cycle: int,
    now: datetime,
    policy: EscalationPolicy,
    include_patient_name: bool = False,
) -> int:
    """Write one outbox row per target of a step; returns how many.

    When the step pages the treating physician but the one chosen on the episode
    cannot be paged (disabled, not a physician, no notify tag), the on-call covers
    and says so: in the message, on the on-call row (its note and history), and
    once per escalation in the audit trail (as the alert routing, not a person).
    """
    escalation = session.get_one(Escalation, escalation_id)
    patient = session.get_one(Patient, escalation.patient_id)
    triage = session.get(TriageAssessment, escalation.triage_id) if escalation.triage_id else None
    current = policy.steps[step - 1]
    treating = _treating(session, triage) if pages_treating(current) else TreatingTarget(None)
    title = alert_title(escalation.id, step, escalation.disposition)
    body = alert_text(
        escalation.id,
        step,
        escalation.disposition,
        patient_code=patient.code,
        patient_name=patient.display_name if include_patient_name else None,
        day=triage.day if triage is not None else None,
        reasons=[str(r.get("text", "")) for r in (triage.reasons if triage else []) if r],
        treating_note=treating.note,
    )
    targets = resolve_targets(current, treating.tag)
    for tag in targets:
        # The on-call row stands in for the treating physician: it carries why.
        covering = treating.note if tag == ONCALL else None
        session.add(
            OutboxNotification(
                escalation_id=escalation.id,
                step=step,
                cycle=cycle,
                target_tag=tag,
                idempotency_key=f"E-{escalation.id}-c{cycle}-s{step}-{tag}",
                title=title,
                body=body,
                status=NotificationStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
                last_error=covering,
                results=(
                    [{TREATING: {"physician": treating.physician, "note": covering}}]
                    if covering
                    else []
                ),
            )
        )
    session.flush()
    if treating.note and cycle == 1 and not any(map(pages_treating, policy.steps[: step - 1])):
        # Once per escalation: later steps and cycles repeat the same decision.
        mark_changed(session, now)
        covered = {"treating_physician": treating.physician, "paged": "on-call", "step": step}
        audit.log(
            session,
            now,
            ROUTING,
            "escalation.treating_covered",
            escalation,
            after={**covered, "why": treating.note},
        )
    return len(targets)


def alert_text(
    escalation_id: int,
    step: int,
    disposition: Disposition,
    *,
    patient_code: str,
    patient_name: str | None,
    day: int | None,
    reasons: Sequence[str],
    treating_note: str | None = None,
) -> str:
    """The plain text of an alert, one fact per line, every reason the triage gave.

    Minimal patient information: the code, the name only when the clinic allows
    it. The alert service puts the signed link to the phone page in at sending
    time (notifiers.dispatcher), as the second line; the last line says how to
    acknowledge on the clinic server, as the physician's own login.
    """
    who = f"{patient_code} ({patient_name})" if patient_name else patient_code
    lines = [f"{disposition.value.upper()} triage for patient {who}"]
    if day is not None:
        lines.append(f"Day {day} after the procedure")
    lines += [f"Reason: {reason}" for reason in reasons if reason.strip()]
    if treating_note:
        lines.append(f"Note: {treating_note}.")
    lines.append(f"Escalation E-{escalation_id}, step {step}")
    lines.append(
        f"On the clinic server, signed in as yourself: aftercare ack E-{escalation_id} "
        "(or the alerts screen, key !)"
    )
    # Patient and staff names are shown on a phone or a terminal: never as control.
    return shown("\n".join(lines), notes=True)


def _treating(session: Session, triage: TriageAssessment | None) -> TreatingTarget:
    """Where the triage's episode sends its `treating` pages (core.escalation's rule)."""
    if triage is None:
        return treating_target(None)
    row = session.execute(
        select(Staff.username, Staff.role, Staff.active, Staff.notify_tag)
        .join(TreatmentEpisode, TreatmentEpisode.treating_physician_id == Staff.id)
        .where(TreatmentEpisode.id == triage.episode_id)
    ).first()
    chosen = None if row is None else TreatingPhysician(row[0], row[1], row[2], row[3])
    return treating_target(chosen)


def acknowledge(session: Session, now: datetime, actor: Actor, escalation_id: int) -> None:
    """Stop every further step and delivery of an escalation, in one transaction."""
    require(session, actor, Action.ACKNOWLEDGE_ALERT)
    mark_changed(session, now)
    cancelled = _stop(
        session,
        escalation_id,
        Escalation.status == EscalationStatus.OPEN,
        status=EscalationStatus.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by_id=actor.staff_id,
    )
    after = {"status": "acknowledged", "cancelled_notifications": cancelled}
    about = ("escalation", escalation_id)
    audit.log(
        session, now, actor, "escalation.acknowledge", about, before={"status": "open"}, after=after
    )


def resolve(session: Session, now: datetime, actor: Actor, escalation_id: int) -> None:
    """Close an escalation (acknowledged or still open)."""
    require(session, actor, Action.RESOLVE_ALERT)
    mark_changed(session, now)
    _stop(
        session,
        escalation_id,
        Escalation.status != EscalationStatus.RESOLVED,
        status=EscalationStatus.RESOLVED,
        resolved_at=now,
    )
    resolved = {"status": "resolved"}
    audit.log(
        session, now, actor, "escalation.resolve", ("escalation", escalation_id), after=resolved
    )


def _stop(session: Session, escalation_id: int, still: ColumnElement[bool], **values: Any) -> int:
    """Set `values` on the escalation while `still` holds, and cancel its pending
    deliveries so no further step pages anyone; the number cancelled. When the
    escalation had moved on already, the refusal names who got there first."""
    stopped = session.execute(
        update(Escalation)
        .where(Escalation.id == escalation_id, still)
        .values(**values, next_step_at=None, version=Escalation.version + 1)
        .execution_options(synchronize_session=False)
    )
    if not _rows(stopped):
        raise _already_closed(session, escalation_id)
    cancelled = session.execute(
        update(OutboxNotification)
        .where(
            OutboxNotification.escalation_id == escalation_id,
            OutboxNotification.status == NotificationStatus.PENDING,
        )
        .values(status=NotificationStatus.CANCELLED, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return _rows(cancelled)


def _already_closed(session: Session, escalation_id: int) -> FollowUpConflict:
    """Why an acknowledgement or resolution found nothing to change: who got there first."""
    row = session.execute(
        select(Escalation.status, Escalation.acknowledged_by_id, Escalation.acknowledged_at).where(
            Escalation.id == escalation_id
        )
    ).first()
    if row is None:
        return FollowUpConflict(f"there is no escalation E-{escalation_id}")
    if row.status is EscalationStatus.ACKNOWLEDGED:
        at = f" at {when(row.acknowledged_at)}" if row.acknowledged_at else ""
        return FollowUpConflict(
            f"E-{escalation_id} was already acknowledged by "
            f"{staff_name(session, row.acknowledged_by_id)}{at}: its pages had stopped then; "
            "nothing was saved"
        )
    change = last_change(session, "escalation", escalation_id, ["escalation.resolve"])
    return FollowUpConflict(
        f"E-{escalation_id} was already {change.words if change else row.status.value}; "
        "nothing was saved"
    )
