"""Domain vocabulary shared by every layer: dispositions, states, channels, roles.

Values are the strings stored in the database and shown in exports, so they
never change once released; labels are what a coordinator reads.
"""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    """Triage outcome, ordered from the normal course to an emergency."""

    EXPECTED = "expected"
    MONITOR = "monitor"
    REVIEW = "review"
    URGENT = "urgent"
    EMERGENCY = "emergency"

    @property
    def severity(self) -> int:
        """Rank for comparisons: a higher number is more dangerous."""
        return _DISPOSITION_ORDER.index(self)

    @property
    def opens_incident(self) -> bool:
        """An incident is due from `review` up (clinical rules, docs/clinical-rules.md)."""
        return self.severity >= Disposition.REVIEW.severity

    @property
    def pages_physician(self) -> bool:
        """`urgent` and `emergency` page a physician now."""
        return self.severity >= Disposition.URGENT.severity

    @classmethod
    def highest(cls, dispositions: list[Disposition]) -> Disposition:
        """The most severe of several; `expected` when there are none."""
        return max(dispositions, key=lambda d: d.severity, default=cls.EXPECTED)


_DISPOSITION_ORDER: tuple[Disposition, ...] = tuple(Disposition)


class TouchpointState(StrEnum):
    """Where a planned contact stands. Only the resolutions are stored;
    scheduled, due and overdue are computed from the window and the clock."""

    SCHEDULED = "scheduled"
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    SKIPPED = "skipped"
    UNREACHABLE = "unreachable"


class TouchpointResolution(StrEnum):
    """The stored, final states of a touchpoint."""

    DONE = "done"
    SKIPPED = "skipped"
    UNREACHABLE = "unreachable"


class Channel(StrEnum):
    """Messenger or medium the clinic uses to reach a patient."""

    LINE = "line"
    WECHAT = "wechat"
    WHATSAPP = "whatsapp"
    KAKAOTALK = "kakaotalk"
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"


class ContactOutcome(StrEnum):
    """What happened on one contact attempt."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    MESSAGE_SENT = "message_sent"
    PHOTO_RECEIVED = "photo_received"
    CALL_LATER = "call_later"

    @property
    def heard_from_patient(self) -> bool:
        """True when the patient themselves replied (for the quiet-channel flag and
        for counting failed attempts). Asking to be called later is a reply."""
        return self in (
            ContactOutcome.REACHED,
            ContactOutcome.PHOTO_RECEIVED,
            ContactOutcome.CALL_LATER,
        )


class Role(StrEnum):
    """What a staff member may do."""

    COORDINATOR = "coordinator"
    PHYSICIAN = "physician"
    ADMIN = "admin"


class Protocol(StrEnum):
    """Treatment protocol recorded on an episode."""

    EXOSOME_IV = "exosome_iv"
    MICRONEEDLING = "microneedling"
    EXOSOME_IV_MICRONEEDLING = "exosome_iv+microneedling"
    PRP = "prp"

    @property
    def involves_exosomes(self) -> bool:
        """The protocol itself is an exosome infusion; then the episode gets the granuloma
        watch whatever its products say. Microneedling may use an exosome ampoule too,
        so the watch follows the products given (`core.schedules.gets_granuloma_watch`)."""
        return self in (Protocol.EXOSOME_IV, Protocol.EXOSOME_IV_MICRONEEDLING)


class Trend(StrEnum):
    """How a reported symptom is changing."""

    IMPROVING = "improving"
    STABLE = "stable"
    WORSENING = "worsening"


class IncidentCategory(StrEnum):
    """Kind of adverse event (clinical rules, docs/clinical-rules.md)."""

    ALLERGIC = "allergic_anaphylaxis"
    IV_SITE = "iv_infiltration_phlebitis"
    VASOVAGAL = "vasovagal"
    PROLONGED_ERYTHEMA = "prolonged_erythema"
    INFECTION = "infection"
    NODULE = "nodule_granuloma"
    SYSTEMIC = "systemic"
    OTHER = "other"


class Seriousness(StrEnum):
    """ICH E2A seriousness criteria, kept apart from severity grade.

    `NOT_ASSESSED` is where an incident opened from a triage starts: a triage is
    not a physician's assessment, so it is neither serious nor non-serious yet.
    """

    NOT_ASSESSED = "not_assessed"
    NON_SERIOUS = "non_serious"
    DEATH = "death"
    LIFE_THREATENING = "life_threatening"
    HOSPITALISATION = "hospitalisation"
    DISABILITY = "disability"
    CONGENITAL_ANOMALY = "congenital_anomaly"
    MEDICALLY_IMPORTANT = "medically_important"


class IncidentOutcome(StrEnum):
    """Outcome of an adverse event."""

    RECOVERING = "recovering"
    RESOLVED = "resolved"
    RESOLVED_WITH_SEQUELAE = "resolved_with_sequelae"
    NOT_RESOLVED = "not_resolved"
    FATAL = "fatal"
    UNKNOWN = "unknown"


class IncidentStatus(StrEnum):
    """Whether an incident is still being worked."""

    OPEN = "open"
    CLOSED = "closed"


class EscalationStatus(StrEnum):
    """Lifecycle of a physician escalation."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class NotificationStatus(StrEnum):
    """Lifecycle of one outbox row (one step, one target)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
