"""The incident log: open, classify, report, close, correct, and the one incident read model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core.commands import Closing, DateCorrection, DatedReference
from core.incident_log import EntryKind, IncidentDetail, IncidentFilter, IncidentLine
from core.incidents import clinic_today
from core.refusals import NotFound
from db import incidents as store
from db.followup import Actor
from db.services.base import ServiceBase

LIST_LIMIT = store.LIST_LIMIT
"""Past this many lines the log says to narrow the filter."""


@dataclass(frozen=True)
class IncidentLogRead:
    """One read of the log: the lines `wanted` selects and one incident's detail."""

    lines: list[IncidentLine]
    detail: IncidentDetail | None
    """The incident asked for when it is listed, else the first line's; None when empty."""
    read_at: datetime


class IncidentServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""

    # -- reads ---------------------------------------------------------------

    def incident_log(
        self, wanted: IncidentFilter, highlighted: int | None = None, now: datetime | None = None
    ) -> IncidentLogRead:
        """The lines `wanted` selects, most urgent report first, and the detail and
        timeline of `highlighted` (or of the first line when it is not listed)."""
        at = now or self.clock.now()

        def read(session: Session) -> IncidentLogRead:
            lines = store.list_incidents(session, wanted, clinic_today(at))
            ids = [line.incident_id for line in lines]
            target = highlighted if highlighted in ids else (ids[0] if ids else None)
            detail = store.load_incident(session, target) if target is not None else None
            return IncidentLogRead(lines, detail, at)

        return self._read(read)

    def incident(self, incident_id: int) -> IncidentDetail:
        """One incident with its timeline; `NotFound` when there is no such incident."""
        detail = self._read(store.load_incident, incident_id)
        if detail is None:
            raise NotFound(f"incident #{incident_id} no longer exists")
        return detail

    def suspect_product_choices(self, incident_id: int) -> list[tuple[int | str, str]]:
        """What the classify form offers as suspect product (`db.incidents.episode_products`)."""
        return self._read(store.episode_products, incident_id)

    # -- changes ---------------------------------------------------------------

    def add_incident_entry(
        self, actor: Actor, incident_id: int, kind: EntryKind, text: str
    ) -> None:
        """Append a note, a contact or a correction to the incident's timeline."""
        self._apply(store.add_entry, actor, incident_id, kind=kind, text=text)

    def classify_incident(
        self,
        actor: Actor,
        incident_id: int,
        classification: store.Classification,
        *,
        expected_version: int,
    ) -> None:
        """A physician's classification; `StaleEdit` names who changed it since it was read."""
        self._apply(
            store.classify,
            actor,
            incident_id,
            expected_version=expected_version,
            classification=classification,
            reporting=self.settings.reporting_policy(),
        )

    def correct_incident_dates(
        self, actor: Actor, incident_id: int, correction: DateCorrection, *, expected_version: int
    ) -> None:
        """Correct the onset date and day 0, with a reason; the clock follows day 0."""
        self._apply(
            store.correct_dates,
            actor,
            incident_id,
            correction,
            expected_version=expected_version,
            reporting=self.settings.reporting_policy(),
        )

    def record_mfds_report(
        self, actor: Actor, incident_id: int, report: DatedReference, *, expected_version: int
    ) -> None:
        """Record the MFDS report as submitted; the reporting clock stops."""
        self._apply(
            store.record_report, actor, incident_id, report, expected_version=expected_version
        )

    def record_khidi_escalation(
        self, actor: Actor, incident_id: int, escalation: DatedReference, *, expected_version: int
    ) -> None:
        """Record that the case went to KHIDI."""
        self._apply(
            store.record_khidi, actor, incident_id, escalation, expected_version=expected_version
        )

    def close_incident(
        self, actor: Actor, incident_id: int, closing: Closing, *, expected_version: int
    ) -> None:
        """Close with an outcome; an unsubmitted report stays owed."""
        self._apply(store.close, actor, incident_id, closing, expected_version=expected_version)

    def reopen_incident(
        self, actor: Actor, incident_id: int, reason: str, *, expected_version: int
    ) -> None:
        """Reopen a closed incident, with a reason."""
        self._apply(
            store.reopen, actor, incident_id, expected_version=expected_version, reason=reason
        )
