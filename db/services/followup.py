"""Follow-up on the queue and the patient screen: contacts, touchpoints, claims,
messages, triage, the queue page and the patient's record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core.commands import NewIncident, TriageEntry
from core.domain import (
    Channel,
    ContactOutcome,
    TouchpointResolution,
)
from core.dossier import PatientDossier
from core.escalation import build_policies
from core.messages import RenderedMessage, language_name
from core.queue import QueueCounts, QueueFilter, QueueRow
from db import followup, incidents, triage
from db.alerts import FailedSummary, failed_deliveries
from db.dossier import load_dossier
from db.followup import Actor, ContactLogged
from db.queue import change_counter, count_queue, read_queue
from db.services.base import ServiceBase
from db.triage import SavedTriage


@dataclass(frozen=True)
class QueueRead:
    """One read of the follow-up queue: the top rows, the band counts, and the
    physician alert deliveries that failed and nobody has looked at yet."""

    rows: list[QueueRow]
    counts: QueueCounts
    failed: FailedSummary
    read_at: datetime


@dataclass(frozen=True)
class MessageSent:
    """The aftercare message copied for the patient, and the attempt it was logged as."""

    message: RenderedMessage
    logged: ContactLogged

    @property
    def language_words(self) -> str:
        """The message's language in words ('Japanese')."""
        return language_name(self.message.language)


class FollowUpServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""

    # -- reads ---------------------------------------------------------------

    def change_marker(self) -> int:
        """The change marker every write bumps: a one-row read that says whether to re-read."""
        return self._read(change_counter)

    def queue_page(self, wanted: QueueFilter, now: datetime | None = None) -> QueueRead:
        """The top of the queue for `wanted` (the clinic's page size), its band counts
        and the failed physician alert deliveries, read together at `now` (default: the clock)."""
        at = now or self.clock.now()
        limit = self.settings.queue_page_size

        def read(session: Session) -> QueueRead:
            rows = read_queue(session, at, wanted, limit=limit)
            counts = count_queue(session, at, wanted)
            return QueueRead(rows, counts, failed_deliveries(session), at)

        return self._read(read)

    def patient_dossier(self, patient_id: int) -> PatientDossier | None:
        """Everything the clinic knows about one patient now; None if there is no such patient."""
        return self._read(load_dossier, patient_id, self.clock.now())

    def aftercare_message(self, actor: Actor, touchpoint_id: int) -> RenderedMessage:
        """The aftercare message for a touchpoint, read but not logged (the coordinator
        may still decline a message in English)."""
        return self._read(
            followup.aftercare_message,
            self.clock.now(),
            actor,
            touchpoint_id,
            clinic_name=self.settings.clinic_name,
        )

    # -- writes --------------------------------------------------------------

    def log_contact_attempt(
        self,
        actor: Actor,
        touchpoint_id: int,
        *,
        channel: Channel,
        outcome: ContactOutcome,
        note: str | None,
    ) -> ContactLogged:
        """Log one contact attempt; it may close the touchpoint as unreachable (the
        clinic's `unreachable_after_attempts` and `reply_window_hours`)."""
        return self._apply(
            followup.record_contact_attempt,
            actor,
            touchpoint_id,
            channel=channel,
            outcome=outcome,
            note=note,
            unreachable_after=self.settings.unreachable_after_attempts,
            reply_window=self._reply_window(),
        )

    def resolve_touchpoint(
        self,
        actor: Actor,
        touchpoint_id: int,
        resolution: TouchpointResolution,
        note: str | None,
    ) -> None:
        """Mark a touchpoint done (note optional) or skipped (reason required)."""
        self._apply(
            followup.resolve_touchpoint, actor, touchpoint_id, resolution=resolution, note=note
        )

    def claim_patient(self, actor: Actor, patient_id: int) -> None:
        """Take the patient, only if nobody holds them."""
        self._apply(followup.claim_patient, actor, patient_id)

    def release_patient(self, actor: Actor, patient_id: int) -> None:
        """Give the patient back to the unassigned pool, only if the actor holds them."""
        self._apply(followup.release_patient, actor, patient_id)

    def send_aftercare_message(
        self, actor: Actor, touchpoint_id: int, channel: Channel
    ) -> MessageSent:
        """Render the aftercare message and log it as sent, in one transaction.

        A message is a failed attempt only when the patient has not replied
        within the reply window, so logging it never closes a touchpoint early.
        """
        now = self.clock.now()

        def send(session: Session) -> MessageSent:
            message = followup.aftercare_message(
                session, now, actor, touchpoint_id, clinic_name=self.settings.clinic_name
            )
            logged = followup.record_contact_attempt(
                session,
                now,
                actor,
                touchpoint_id,
                channel=channel,
                outcome=ContactOutcome.MESSAGE_SENT,
                note=f"aftercare message in {language_name(message.language)}",
                unreachable_after=self.settings.unreachable_after_attempts,
                reply_window=self._reply_window(),
            )
            return MessageSent(message, logged)

        return self._write(send)

    def record_triage(self, actor: Actor, patient_id: int, entry: TriageEntry) -> SavedTriage:
        """Save a triage and everything its outcome requires (incident, physician
        alert, re-check), under the clinic's escalation and reporting policies."""
        settings = self.settings
        return self._apply(
            triage.record_triage,
            actor,
            patient_id,
            entry,
            include_patient_name=settings.alert_include_patient_name,
            policies=build_policies(settings.escalation_policies),
            reporting=settings.reporting_policy(),
        )

    def open_incident_by_hand(self, actor: Actor, patient_id: int, incident: NewIncident) -> int:
        """Open an incident not raised by a triage (a home physician's call, a letter);
        returns its number. `incident.learned_on` is day 0 of the reporting clock."""
        return self._apply(
            incidents.open_by_hand,
            actor,
            patient_id,
            incident,
            reporting=self.settings.reporting_policy(),
        )

    def _reply_window(self) -> timedelta:
        return timedelta(hours=self.settings.reply_window_hours)
