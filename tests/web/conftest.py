"""A clinic with an open emergency alert, the link keys, and what "nothing changed" means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from core.alert_links import LinkClaim, LinkKeys, new_nonce
from core.clock import FixedClock
from core.commands import TriageEntry
from core.config import Settings
from core.domain import Role
from core.triage import assess, parse_triage_input
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import (
    AlertLinkUse,
    AuditEvent,
    ChangeMarker,
    Escalation,
    OutboxNotification,
    TreatmentEpisode,
)
from db.services import Clinic
from tests.factories import add_patient, add_staff

KEYS = LinkKeys(bytes.fromhex("5a" * 32))
EMERGENCY = {
    "day": 2,
    "symptoms": ["throat_tightness", "hives", "dizziness"],
    "country": "JP",
}
NOTE = "At her hotel in Osaka, husband with her & calling 119 <speaks in full sentences>."


@dataclass
class Ward:
    """One coordinator, three physicians (two with their own tag, one disabled), and one
    patient whose emergency triage, saved through the clinic, paged oncall and dr-lee."""

    engine: Engine
    database: Database
    clock: FixedClock
    clinic: Clinic
    nurse: Actor
    lee: Actor
    kim: Actor
    escalation_id: int
    patient_id: int

    def link(self, tag: str = "dr-lee", step: int = 1, escalation_id: int | None = None) -> str:
        """A token as the dispatcher would sign it for one page."""
        claim = LinkClaim(escalation_id or self.escalation_id, step, 1, tag, new_nonce())
        return KEYS.sign(claim)

    def state(self) -> tuple[Any, ...]:
        """Everything an action could change: compared before and after a refusal."""
        with self.database.sessions() as session:
            escalation = session.get_one(Escalation, self.escalation_id)
            return (
                escalation.status,
                escalation.version,
                escalation.acknowledged_by_id,
                escalation.resolved_at,
                tuple(
                    session.execute(
                        select(OutboxNotification.id, OutboxNotification.status).order_by(
                            OutboxNotification.id
                        )
                    ).all()
                ),
                session.scalar(select(func.count()).select_from(AuditEvent)),
                session.scalar(select(func.count()).select_from(AlertLinkUse)),
                session.scalar(select(ChangeMarker.counter)),
            )


def make_ward(engine: Engine, clock: FixedClock, **settings: Any) -> Ward:
    """The ward on `engine`; `settings` are config fields."""
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        lee = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        lee.display_name, lee.notify_tag = "Dr Lee Ji-ho", "dr-lee"
        kim = add_staff(session, "dr.kim", Role.PHYSICIAN, now)
        kim.display_name, kim.notify_tag = "Dr Kim Min-jun", "dr-kim"
        gone = add_staff(session, "dr.gone", Role.PHYSICIAN, now)
        gone.notify_tag, gone.active = "dr-gone", False
        patient = add_patient(
            session,
            "P-7",
            procedure_at=now - timedelta(days=2),
            created_at=now,
            family_name="Sato",
            given_name="Yui",
        )
        patient.current_country, patient.timezone = "JP", "Asia/Tokyo"
        nurse_, lee_, kim_ = (
            Actor(s.id, s.username, s.display_name, s.role) for s in (nurse, lee, kim)
        )
        patient_id = patient.id
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient_id)
        ).one()
        episode.treating_physician_id = lee.id
    database = Database(engine, make_session_factory(engine))
    clinic = Clinic(database, Settings(database_url="sqlite:///unused.db", **settings), clock)
    findings = parse_triage_input(EMERGENCY)
    saved = clinic.record_triage(
        nurse_, patient_id, TriageEntry(findings, assess(findings), note=NOTE)
    )
    assert saved.escalation_id is not None
    return Ward(
        engine, database, clock, clinic, nurse_, lee_, kim_, saved.escalation_id, patient_id
    )


@pytest.fixture
def ward(engine: Engine, clock: FixedClock) -> Ward:
    return make_ward(engine, clock)
