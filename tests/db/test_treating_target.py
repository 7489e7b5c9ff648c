"""The treating physician chosen on the episode receives the `treating` pages of its
escalations; when they cannot be paged (no notify tag, account disabled, not a physician)
the on-call physician is paged in their place and the alert, its delivery and the audit
trail say why in words. With nobody chosen, the on-call covers as before, silently.

Through the real triage (db.triage.record_triage), the real dispatcher and the real
escalation steps on both backends; only the transport is a recorder of what was sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.clock import FixedClock
from core.domain import Disposition, NotificationStatus, Role, TouchpointResolution
from core.escalation import (
    DEFAULT_POLICIES,
    TreatingPhysician,
    TreatingTarget,
    treating_target,
)
from db.alerts import open_alerts, untagged_treating_physicians
from db.database import Database
from db.engine import make_session_factory, transaction
from db.escalations import ROUTING, advance_escalations
from db.followup import Actor
from db.models import (
    AuditEvent,
    OutboxNotification,
    Patient,
    Staff,
    Touchpoint,
    TreatmentEpisode,
)
from notifiers.dispatcher import DeliveryReport, Dispatcher
from tests.factories import add_patient, add_staff, add_triaged_patient
from tests.tui.test_cli import run_cli

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
INSTEAD = "the on-call physician is paged in their place"
WHY = {
    "dr.notag": "treating physician dr.notag has no notify tag",
    "dr.gone": "treating physician dr.gone's account is disabled",
    "rn.park": "treating physician rn.park is on the staff list as coordinator, not as a physician",
}


# --- the rule itself (pure) ---------------------------------------------------------


def test_a_paged_physician_needs_an_active_physician_account_with_a_tag() -> None:
    lee = TreatingPhysician("dr.lee", Role.PHYSICIAN, True, "dr-lee")
    assert treating_target(lee) == TreatingTarget("dr-lee", "dr.lee")
    assert treating_target(None) == TreatingTarget(None)  # nobody chosen: on-call, no note
    for chosen, why in (
        (TreatingPhysician("dr.notag", Role.PHYSICIAN, True, None), WHY["dr.notag"]),
        (TreatingPhysician("dr.notag", Role.PHYSICIAN, True, "  "), WHY["dr.notag"]),
        (TreatingPhysician("dr.gone", Role.PHYSICIAN, False, "dr-gone"), WHY["dr.gone"]),
        (TreatingPhysician("rn.park", Role.COORDINATOR, True, "rn-park"), WHY["rn.park"]),
    ):
        assert treating_target(chosen) == TreatingTarget(None, chosen.login, f"{why}: {INSTEAD}")


# --- through triage, dispatcher and steps, on both backends --------------------------


@dataclass
class Sent:
    """The transport: records (tag, body) of every send and says it was delivered."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, tag: str, title: str, body: str) -> DeliveryReport:
        self.calls.append((tag, body))
        return DeliveryReport(True, [{"service": "json", "ok": True}])


@dataclass
class Clinic:
    engine: Engine
    clock: FixedClock
    nurse: Actor
    staff: dict[str, int]
    sent: Sent
    dispatcher: Dispatcher

    def emergency(self, treating: str | None) -> int:
        """An emergency triage for a patient whose episode names `treating` (a login)."""
        with transaction(make_session_factory(self.engine)) as session:
            saved = add_triaged_patient(
                session,
                "P-1",
                now=self.clock.now(),
                actor=self.nurse,
                findings=EMERGENCY,
                treating_id=self.staff[treating] if treating else None,
            )
        assert saved.escalation_id is not None
        return saved.escalation_id

    def rows(self, step: int = 1, cycle: int = 1) -> dict[str, OutboxNotification]:
        with make_session_factory(self.engine)() as session:
            found = session.scalars(
                select(OutboxNotification).where(
                    OutboxNotification.step == step, OutboxNotification.cycle == cycle
                )
            )
            return {row.target_tag: row for row in found}

    def covered_events(self) -> list[AuditEvent]:
        with make_session_factory(self.engine)() as session:
            return list(
                session.scalars(
                    select(AuditEvent).where(AuditEvent.action == "escalation.treating_covered")
                )
            )


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        add_staff(session, "rn.park", Role.COORDINATOR, now).notify_tag = "rn-park"
        add_staff(session, "dr.lee", Role.PHYSICIAN, now).notify_tag = "dr-lee"
        add_staff(session, "dr.notag", Role.PHYSICIAN, now)
        gone = add_staff(session, "dr.gone", Role.PHYSICIAN, now)
        gone.notify_tag, gone.active = "dr-gone", False
        staff = {s.username: s.id for s in session.scalars(select(Staff))}
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
    sent = Sent()
    database = Database(engine, make_session_factory(engine))
    return Clinic(engine, clock, actor, staff, sent, Dispatcher(database, sent, clock))


def test_the_chosen_physician_with_a_tag_is_paged_on_their_own_tag(clinic: Clinic) -> None:
    clinic.emergency("dr.lee")

    rows = clinic.rows()
    assert set(rows) == {"oncall", "dr-lee"}
    assert all(r.last_error is None and "Note:" not in r.body for r in rows.values())
    assert clinic.dispatcher.run_once().sent == 2
    assert sorted(tag for tag, _ in clinic.sent.calls) == ["dr-lee", "oncall"]
    assert clinic.rows()["dr-lee"].status is NotificationStatus.SENT
    assert clinic.covered_events() == []


@pytest.mark.parametrize("chosen", ["dr.notag", "dr.gone", "rn.park"])
def test_a_chosen_physician_who_cannot_be_paged_is_covered_by_the_on_call_who_is_told_why(
    clinic: Clinic, chosen: str
) -> None:
    escalation_id = clinic.emergency(chosen)
    note = f"{WHY[chosen]}: {INSTEAD}"

    rows = clinic.rows()
    assert set(rows) == {"oncall"}  # never a page to a tag nobody reads
    oncall = rows["oncall"]
    assert oncall.last_error == note
    assert oncall.results == [{"treating": {"physician": chosen, "note": note}}]
    assert f"Note: {note}." in oncall.body  # what the on-call physician reads

    # Sent: the note stays on the delivery, next to the on-call routing's own.
    assert clinic.dispatcher.run_once().sent == 1
    ((tag, body),) = clinic.sent.calls
    assert tag == "oncall" and f"Note: {note}." in body
    delivered = clinic.rows()["oncall"]
    assert delivered.status is NotificationStatus.SENT
    assert delivered.last_error is not None and delivered.last_error.startswith(note + "; ")
    assert "nobody on call in the schedule" in delivered.last_error
    assert delivered.results[0] == {"treating": {"physician": chosen, "note": note}}
    assert delivered.results[-1]["delivered"] is True

    # The alerts screen shows it, and it is not counted as a failed delivery.
    with make_session_factory(clinic.engine)() as session:
        (alert,) = open_alerts(session, clinic.clock.now())
    (shown,) = alert.current
    assert shown.last_error == delivered.last_error and not shown.failing

    (event,) = clinic.covered_events()
    assert (event.actor, event.entity, event.entity_id) == (
        ROUTING,
        "escalation",
        str(escalation_id),
    )
    assert event.after == {
        "treating_physician": chosen,
        "paged": "on-call",
        "step": 1,
        "why": note,
    }


def test_the_next_cycle_says_so_again_but_is_audited_once(clinic: Clinic) -> None:
    clinic.emergency("dr.notag")
    with transaction(make_session_factory(clinic.engine)) as session:
        for _ in range(3):  # senior, every physician, then the first step again
            clinic.clock.advance(timedelta(minutes=30))
            assert advance_escalations(session, now=clinic.clock.now())
    assert DEFAULT_POLICIES[Disposition.EMERGENCY].repeat >= 2
    again = clinic.rows(step=1, cycle=2)
    assert set(again) == {"oncall"}
    assert again["oncall"].last_error == f"{WHY['dr.notag']}: {INSTEAD}"
    assert all(r.last_error is None for r in clinic.rows(step=2).values())  # senior: no note
    assert len(clinic.covered_events()) == 1


def test_nobody_chosen_pages_the_on_call_as_before_without_a_note(clinic: Clinic) -> None:
    clinic.emergency(None)

    rows = clinic.rows()
    assert set(rows) == {"oncall"}
    assert rows["oncall"].last_error is None and rows["oncall"].results == []
    assert "Note:" not in rows["oncall"].body
    assert clinic.covered_events() == []


# --- who to warn about before an emergency --------------------------------------------


def _followed_by(session: Session, code: str, physician_id: int, now: datetime) -> None:
    patient = add_patient(session, code, procedure_at=now - timedelta(days=1), created_at=now)
    episode = session.scalars(
        select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient.id)
    ).one()
    episode.treating_physician_id = physician_id


def test_untagged_treating_physicians_of_patients_still_followed_are_listed(
    clinic: Clinic,
) -> None:
    now = clinic.clock.now()
    with transaction(make_session_factory(clinic.engine)) as session:
        done = add_staff(session, "dr.done", Role.PHYSICIAN, now)
        for code, login in (("P-1", "dr.notag"), ("P-2", "dr.notag"), ("P-3", "dr.lee")):
            _followed_by(session, code, clinic.staff[login], now)
        _followed_by(session, "P-4", clinic.staff["dr.gone"], now)  # disabled: not warned
        _followed_by(session, "P-5", done.id, now)  # every touchpoint resolved
        finished = _patient_id(session, "P-5")
        for touchpoint in session.scalars(select(Touchpoint)):
            if touchpoint.patient_id == finished:
                touchpoint.resolution = TouchpointResolution.DONE
    with make_session_factory(clinic.engine)() as session:
        found = untagged_treating_physicians(session)
    assert [(u.login, u.patients) for u in found] == [("dr.notag", 2)]
    assert found[0].warning() == (
        "physician dr.notag has no notify tag but is the treating physician of 2 patients "
        "still being followed up: their alerts page the on-call physician instead"
    )


def _patient_id(session: Session, code: str) -> int:
    return session.scalars(select(Patient.id).where(Patient.code == code)).one()


def test_notify_check_warns_about_untagged_treating_physicians(
    clinic: Clinic, db_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    with transaction(make_session_factory(clinic.engine)) as session:
        _followed_by(session, "P-1", clinic.staff["dr.notag"], now)
    apprise = tmp_path / "apprise.yml"
    apprise.write_text(
        "version: 1\nurls:\n  - json://127.0.0.1:9/alerts:\n      tag: oncall, dr-lee\n"
    )
    apprise.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        AFTERCARE_APPRISE_CONFIG=str(apprise),
        AFTERCARE_DATABASE_URL=db_url,
    )

    result = run_cli("notify", "check", env=env)

    assert result.returncode == 0, result.stderr  # a warning, not a failure
    assert result.stderr.splitlines() == [
        "aftercare: warning: physician dr.notag has no notify tag but is the treating "
        "physician of 1 patient still being followed up: their alerts page the on-call "
        "physician instead"
    ]
