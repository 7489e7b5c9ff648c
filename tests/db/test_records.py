"""The record of care by hand, on SQLite and PostgreSQL: a patient and an episode
recorded with products, lots and add-ons; corrections version-checked, audited
with before and after, noted on the incidents of the episode, and moving the
follow-up; a refused save changes nothing; the chosen treating physician's tag is
paged by an emergency triage."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from core.clock import FixedClock
from core.commands import NewIncident, TriageEntry
from core.config import Settings
from core.domain import (
    Channel,
    IncidentCategory,
    Protocol,
    Role,
    Seriousness,
    TouchpointResolution,
)
from core.incident_log import EntryKind
from core.records import (
    AddOn,
    EpisodeRecord,
    NewPatient,
    PatientRecord,
    Product,
    RecordRefused,
)
from core.refusals import StaleEdit
from core.triage import assess, parse_triage_input
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import (
    AuditEvent,
    Incident,
    IncidentEntry,
    OutboxNotification,
    Patient,
    ProductGiven,
    Touchpoint,
    TreatmentEpisode,
)
from db.services import Clinic
from tests.factories import add_staff

DAY = timedelta(days=1)
SEOUL = ZoneInfo("Asia/Seoul")


@dataclass
class Desk:
    clinic: Clinic
    engine: Engine
    kim: Actor
    park: Actor
    clock: FixedClock

    def count(self, model: Any) -> int:
        with make_session_factory(self.engine)() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def audit(self, action: str) -> list[AuditEvent]:
        with make_session_factory(self.engine)() as session:
            return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))

    def touchpoints(self, episode_id: int) -> list[Touchpoint]:
        with make_session_factory(self.engine)() as session:
            found = select(Touchpoint).where(Touchpoint.episode_id == episode_id)
            return list(session.scalars(found.order_by(Touchpoint.id)))


@pytest.fixture
def desk(engine: Engine, clock: FixedClock) -> Desk:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        kim = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        park = add_staff(session, "rn.park", Role.COORDINATOR, now)
        add_staff(session, "dr.lee", Role.PHYSICIAN, now).notify_tag = "dr-lee"
        gone = add_staff(session, "dr.gone", Role.PHYSICIAN, now)
        gone.active = False
        actors = [Actor(s.id, s.username, s.display_name) for s in (kim, park)]
    settings = Settings(database_url="sqlite:///unused.db")
    clinic = Clinic(Database(engine, make_session_factory(engine)), settings, clock)
    return Desk(clinic, engine, actors[0], actors[1], clock)


def _patient(code: str = "JP-0042") -> PatientRecord:
    return PatientRecord(
        code=code,
        family_name="Yamamoto",
        given_name="Sakura",
        native_name="山本 さくら",
        home_country="JP",
        language="ja",
        timezone="Asia/Tokyo",
        channel=Channel.LINE,
        channel_handle="sakura.y",
        phone="090 1234 5678",
    )


def _episode(desk: Desk, **changes: Any) -> EpisodeRecord:
    record = EpisodeRecord(
        procedure_at=desk.clock.now() - 3 * DAY,
        protocol=Protocol.MICRONEEDLING,
        schedule=("standard",),
        treating_physician="dr.lee",
        nurse_name="Park Ji-yeon",
        nurse_license_ref="RN-12345",
        products=(
            Product("ASCE+ Exosome", "MFDS-2024-118", "A2611-07", None, True),
            Product("Lidocaine cream", None, "LC-88", None, False),
        ),
        addons=(AddOn("glutathione", 1200.0),),
        departure_date=(desk.clock.now() - DAY).astimezone(SEOUL).date(),
        travel_insurer="Tokio Marine",
        has_allergies=False,
        vasovagal_history=True,
        sensitive_skin=None,
    )
    return replace(record, **changes)


def _recorded(desk: Desk, **changes: Any) -> tuple[int, int]:
    saved = desk.clinic.record_patient(desk.kim, NewPatient(_patient(), _episode(desk, **changes)))
    return saved.patient_id, saved.episode_id


def test_a_patient_recorded_by_hand_keeps_every_field_and_gets_the_follow_up(desk: Desk) -> None:
    saved = desk.clinic.record_patient(desk.kim, NewPatient(_patient(), _episode(desk)))

    assert saved.words().startswith("Recorded patient JP-0042 and their episode; ")
    with make_session_factory(desk.engine)() as session:
        patient = session.get(Patient, saved.patient_id)
        episode = session.get(TreatmentEpisode, saved.episode_id)
        assert patient is not None and episode is not None
        assert (patient.native_name, patient.phone, patient.current_country) == (
            "山本 さくら",
            "+819012345678",  # stored as E.164, read as a Japanese number
            "JP",
        )
        lots = session.scalars(
            select(ProductGiven.lot_number).where(ProductGiven.episode_id == episode.id)
        )
        assert sorted(str(lot) for lot in lots) == ["A2611-07", "LC-88"]
        assert episode.addons == [{"name": "glutathione", "dose": "1200 mg"}]
        assert (episode.products_recorded, episode.addons_recorded) == (True, True)
        assert (episode.has_allergies, episode.vasovagal_history, episode.sensitive_skin) == (
            False,
            True,
            None,
        )
    # The exosome ampoule brings the granuloma watch; 1,200 mg of glutathione the liver panel.
    templates = {t.template for t in desk.touchpoints(saved.episode_id)}
    assert {"standard", "granuloma-watch", "liver-panel"} <= templates
    assert saved.touchpoints_added == len(desk.touchpoints(saved.episode_id))
    assert desk.clinic.episode_record(saved.episode_id) == replace(
        _episode(desk), schedule=("standard", "granuloma-watch")
    )
    assert len(desk.audit("patient.create")) == 1 and len(desk.audit("episode.create")) == 1


def test_a_refused_record_writes_nothing(desk: Desk) -> None:
    _recorded(desk)
    before = [desk.count(m) for m in (Patient, TreatmentEpisode, ProductGiven, Touchpoint)]
    audit = desk.count(AuditEvent)
    for new, field in (
        (NewPatient(_patient(), _episode(desk)), "code"),  # the code is taken
        (
            NewPatient(_patient("JP-2"), _episode(desk, treating_physician="dr.gone")),
            "treating_physician",
        ),
        (
            NewPatient(_patient("JP-3"), _episode(desk, treating_physician="rn.park")),
            "treating_physician",
        ),
        (
            NewPatient(replace(_patient("JP-4"), channel_handle="two words"), _episode(desk)),
            "channel_handle",
        ),
        (NewPatient(_patient("JP-5"), _episode(desk, schedule=("weekly",))), "schedule"),
        (
            NewPatient(
                _patient("JP-6"),
                _episode(desk, procedure_at=desk.clock.now() - 400 * DAY, departure_date=None),
            ),
            "procedure_at",
        ),
        (
            NewPatient(
                _patient("JP-7"), _episode(desk, products=(Product("X", lot_number="a b"),))
            ),
            "product-1-lot_number",
        ),
    ):
        with pytest.raises(RecordRefused) as refused:
            desk.clinic.record_patient(desk.kim, new)
        assert [p.field for p in refused.value.problems] == [field]
        assert "nothing was saved" in str(refused.value)
    assert [desk.count(m) for m in (Patient, TreatmentEpisode, ProductGiven, Touchpoint)] == before
    assert desk.count(AuditEvent) == audit


def test_a_lot_past_its_expiry_is_recorded_and_the_warning_audited(desk: Desk) -> None:
    expired = Product("ASCE+ Exosome", None, "A-1", desk.clock.now().date() - 40 * DAY, True)
    saved = desk.clinic.record_patient(
        desk.kim, NewPatient(_patient(), _episode(desk, products=(expired,)))
    )
    assert len(saved.warnings) == 1 and "Product 1 expiry: expired" in saved.warnings[0]
    (event,) = desk.audit("episode.warnings")
    assert event.after == {"confirmed": list(saved.warnings)}


def test_a_new_episode_for_a_returning_patient(desk: Desk) -> None:
    patient_id, first = _recorded(desk)
    later = _episode(desk, procedure_at=desk.clock.now() - DAY, products=(), addons=None)
    saved = desk.clinic.record_episode(desk.park, patient_id, later)
    assert saved.episode_id != first and saved.created == "a new episode for JP-0042"
    stored = desk.clinic.episode_record(saved.episode_id)
    assert stored is not None and stored.products == () and stored.addons is None


def test_correcting_the_procedure_time_moves_what_is_not_done_and_is_audited(desk: Desk) -> None:
    _, episode_id = _recorded(desk)
    opened = desk.clinic.episode_record(episode_id)
    assert opened is not None
    first = desk.touchpoints(episode_id)[0]
    with transaction(make_session_factory(desk.engine)) as session:
        done = session.get(Touchpoint, first.id)
        assert done is not None
        done.resolution = TouchpointResolution.DONE
    waiting = len(desk.touchpoints(episode_id)) - 1
    earlier = replace(opened, procedure_at=opened.procedure_at - DAY)

    saved = desk.clinic.correct_episode(desk.kim, episode_id, earlier, expected=opened)

    assert saved.touchpoints_moved == waiting
    assert saved.words() == f"Saved Procedure time; {waiting} check-ins moved."
    after = {t.id: t for t in desk.touchpoints(episode_id)}
    assert after[first.id].due_date == first.due_date  # done is history
    (event,) = desk.audit("episode.edit")
    assert event.before == {"procedure_at": opened.procedure_at.isoformat()}
    assert event.after is not None
    assert event.after["procedure_at"] == earlier.procedure_at.isoformat()
    assert event.after["touchpoints_moved"] == waiting


def test_correcting_a_lot_after_an_incident_is_noted_on_its_timeline(desk: Desk) -> None:
    patient_id, episode_id = _recorded(desk)
    incident_id = desk.clinic.open_incident_by_hand(
        desk.kim,
        patient_id,
        NewIncident(IncidentCategory.NODULE, Seriousness.NON_SERIOUS, None, None, "lump"),
    )
    opened = desk.clinic.episode_record(episode_id)
    assert opened is not None and opened.products is not None
    fixed = replace(opened.products[0], lot_number="A2611-08")
    wanted = replace(opened, products=(fixed, opened.products[1]))

    saved = desk.clinic.correct_episode(desk.park, episode_id, wanted, expected=opened)

    assert saved.changed == ("Product 1 lot",) and saved.incidents_noted == (incident_id,)
    with make_session_factory(desk.engine)() as session:
        entries = session.scalars(
            select(IncidentEntry).where(
                IncidentEntry.incident_id == incident_id, IncidentEntry.kind == EntryKind.CORRECTION
            )
        ).all()
        assert len(entries) == 1
        assert "Product 1 lot: A2611-07 -> A2611-08" in entries[0].text
        # The same row is corrected, so an incident naming it as suspect still does.
        lots = session.scalars(
            select(ProductGiven.lot_number).where(ProductGiven.episode_id == episode_id)
        )
        assert sorted(str(lot) for lot in lots) == ["A2611-08", "LC-88"]


def test_a_suspect_product_cannot_be_removed(desk: Desk) -> None:
    patient_id, episode_id = _recorded(desk)
    with transaction(make_session_factory(desk.engine)) as session:
        product = session.scalars(
            select(ProductGiven)
            .where(ProductGiven.episode_id == episode_id)
            .order_by(ProductGiven.id.desc())
        ).first()
        assert product is not None
        incident_id = desk.clinic.open_incident_by_hand(
            desk.kim,
            patient_id,
            NewIncident(IncidentCategory.OTHER, Seriousness.NON_SERIOUS, None, None, "rash"),
        )
        session.get(Incident, incident_id).suspect_product_id = product.id  # type: ignore[union-attr]
    opened = desk.clinic.episode_record(episode_id)
    assert opened is not None and opened.products is not None
    with pytest.raises(RecordRefused) as refused:
        desk.clinic.correct_episode(
            desk.kim, episode_id, replace(opened, products=opened.products[:1]), expected=opened
        )
    assert refused.value.problems[0].field == "product-2-name"
    assert f"suspect product of incident #{incident_id}" in refused.value.problems[0].problem
    assert desk.clinic.episode_record(episode_id) == opened


def test_templates_added_and_removed_plan_and_withdraw_check_ins(desk: Desk) -> None:
    _, episode_id = _recorded(desk, products=(), addons=())  # no granuloma watch, no liver panel
    opened = desk.clinic.episode_record(episode_id)
    assert opened is not None and opened.schedule == ("standard",)
    waiting = [t for t in desk.touchpoints(episode_id) if t.resolution is None]

    saved = desk.clinic.correct_episode(
        desk.kim, episode_id, replace(opened, schedule=("extended",)), expected=opened
    )

    assert saved.touchpoints_withdrawn == len(waiting)
    assert saved.touchpoints_added > 0
    rows = desk.touchpoints(episode_id)
    withdrawn = [t for t in rows if t.template == "standard"]
    assert all(t.resolution is TouchpointResolution.SKIPPED for t in withdrawn)
    assert all(t.note == "withdrawn: standard is no longer followed" for t in withdrawn)
    planned = [t for t in rows if t.template == "extended"]
    assert len(planned) == saved.touchpoints_added
    assert all(t.closes_at > desk.clock.now() for t in planned)  # no check-in born overdue


def test_a_stale_correction_is_refused_naming_who_and_a_claim_does_not_make_it_stale(
    desk: Desk,
) -> None:
    patient_id, episode_id = _recorded(desk)
    opened = desk.clinic.episode_record(episode_id)
    assert opened is not None
    desk.clinic.claim_patient(desk.park, patient_id)  # not a correction
    desk.clinic.correct_episode(
        desk.park, episode_id, replace(opened, nurse_name="Lee Ha-na"), expected=opened
    )
    with pytest.raises(StaleEdit, match=r"Rn\.Park"):
        desk.clinic.correct_episode(
            desk.kim, episode_id, replace(opened, travel_insurer="AIG"), expected=opened
        )
    now = desk.clinic.episode_record(episode_id)
    assert (
        now is not None and now.nurse_name == "Lee Ha-na" and now.travel_insurer == "Tokio Marine"
    )


def test_correcting_who_the_patient_is(desk: Desk) -> None:
    patient_id, _ = _recorded(desk)
    opened = desk.clinic.patient_record(patient_id)
    assert opened is not None
    saved = desk.clinic.correct_patient(
        desk.kim, patient_id, replace(opened, given_name="Sakura M."), expected=opened
    )
    assert saved.changed == ("Given name",)
    (event,) = desk.audit("patient.edit")
    assert (event.before, event.after) == ({"given_name": "Sakura"}, {"given_name": "Sakura M."})
    current = desk.clinic.patient_record(patient_id)
    assert current is not None
    for wanted, field in (
        (replace(current, code="JP-9"), "code"),
        (replace(current, current_country="TH"), "current_country"),
    ):
        with pytest.raises(RecordRefused) as refused:
            desk.clinic.correct_patient(desk.kim, patient_id, wanted, expected=current)
        assert refused.value.problems[0].field == field
    assert desk.clinic.patient_record(patient_id) == current


def test_an_emergency_pages_the_treating_physician_chosen_by_hand(desk: Desk) -> None:
    patient_id, _ = _recorded(desk)
    parsed = parse_triage_input({"day": 3, "symptoms": ["throat_tightness"], "country": "JP"})
    saved = desk.clinic.record_triage(desk.kim, patient_id, TriageEntry(parsed, assess(parsed)))
    assert saved.escalation_id is not None
    with make_session_factory(desk.engine)() as session:
        tags = set(
            session.scalars(
                select(OutboxNotification.target_tag).where(
                    OutboxNotification.escalation_id == saved.escalation_id
                )
            )
        )
    assert "dr-lee" in tags
