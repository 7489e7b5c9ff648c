"""The documentation checklist ticked item by item, on SQLite and PostgreSQL: who
gave which document and when, audited; a stale or unknown tick changes nothing;
the queue marks a patient who left Seoul without every document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from core.clock import FixedClock
from core.config import Settings
from core.domain import Role
from core.dossier import DOCUMENT_ITEMS, documentation_checklist
from core.queue import QueueFilter
from core.refusals import Refused, StaleEdit
from core.schedules import CLINIC_TZ
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, TreatmentEpisode
from db.services import Clinic
from tests.factories import add_patient, add_staff

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Desk:
    clinic: Clinic
    engine: Engine
    park: Actor
    kim: Actor
    patient_id: int
    episode_id: int


@pytest.fixture
def desk(engine: Engine, clock: FixedClock) -> Desk:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        park = add_staff(session, "rn.park", Role.COORDINATOR, now)
        kim = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        patient = add_patient(session, "P-1", procedure_at=now - 2 * DAY, created_at=now)
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient.id)
        ).one()
        actors = [Actor(s.id, s.username, s.display_name) for s in (park, kim)]
        ids = (patient.id, episode.id)
    clinic = Clinic(
        Database(engine, make_session_factory(engine)),
        Settings(database_url="sqlite:///unused.db"),
        clock,
    )
    return Desk(clinic, engine, actors[0], actors[1], *ids)


def _episode(desk: Desk) -> tuple[dict[str, Any], int, int]:
    """The stored checklist, the episode's version and how many audit events exist."""
    with make_session_factory(desk.engine)() as session:
        episode = session.get(TreatmentEpisode, desk.episode_id)
        assert episode is not None
        audits = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        return dict(episode.documentation), episode.version, audits


def _set(desk: Desk, **values: Any) -> None:
    with transaction(make_session_factory(desk.engine)) as session:
        episode = session.get(TreatmentEpisode, desk.episode_id)
        assert episode is not None
        for name, value in values.items():
            setattr(episode, name, value)


def test_a_tick_keeps_who_and_when_and_is_audited(desk: Desk, clock: FixedClock) -> None:
    _, version, _ = _episode(desk)
    desk.clinic.tick_document(
        desk.park, desk.episode_id, "aftercare_card", given=True, expected_version=version
    )

    dossier = desk.clinic.patient_dossier(desk.patient_id)
    assert dossier is not None
    card = next(i for i in dossier.episodes[0].documentation if i.key == "aftercare_card")
    assert (card.given, card.by, card.at) == (True, "rn.park", clock.now())
    when = clock.now().astimezone(CLINIC_TZ).strftime("%d %b %H:%M")
    assert card.words() == f"given by rn.park, {when}"
    assert dossier.episodes[0].version == version + 1

    with make_session_factory(desk.engine)() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "episode.documentation")
        ).one()
    assert (event.actor, event.entity, event.entity_id) == (
        "rn.park",
        "episode",
        str(desk.episode_id),
    )
    assert event.before == {"aftercare_card": None}
    assert event.after == {
        "aftercare_card": {"given": True, "by": "rn.park", "at": clock.now().isoformat()}
    }


def test_a_stale_tick_is_refused_naming_who_and_changes_nothing(
    desk: Desk, clock: FixedClock
) -> None:
    _, version, _ = _episode(desk)
    desk.clinic.tick_document(
        desk.kim, desk.episode_id, "itemised_receipt", given=True, expected_version=version
    )
    before = _episode(desk)

    with pytest.raises(StaleEdit) as refused:
        desk.clinic.tick_document(
            desk.park, desk.episode_id, "aftercare_card", given=True, expected_version=version
        )
    assert "given documentation checklist ticks by Rn.Kim" in str(refused.value)
    assert "nothing was saved" in str(refused.value)
    assert _episode(desk) == before


def test_an_unknown_item_is_refused_naming_it(desk: Desk) -> None:
    documentation, version, audits = _episode(desk)

    with pytest.raises(Refused, match='"boarding_pass" is not an item'):
        desk.clinic.tick_document(
            desk.park, desk.episode_id, "boarding_pass", given=True, expected_version=version
        )

    assert _episode(desk) == (documentation, version, audits)


def test_an_unchanged_item_keeps_its_first_tick(desk: Desk, clock: FixedClock) -> None:
    _, version, _ = _episode(desk)
    version = desk.clinic.tick_document(
        desk.park, desk.episode_id, "aftercare_card", given=True, expected_version=version
    )
    clock.advance(timedelta(hours=1))
    desk.clinic.tick_documents(
        desk.kim,
        desk.episode_id,
        {"aftercare_card": True, "itemised_receipt": True},
        expected_version=version,
    )

    documentation, _, _ = _episode(desk)
    assert documentation["aftercare_card"]["by"] == "rn.park"
    assert documentation["itemised_receipt"]["by"] == "rn.kim"


def test_an_old_plain_true_false_row_still_reads(desk: Desk) -> None:
    _set(desk, documentation={"itemised_receipt": True, "aftercare_card": False})

    dossier = desk.clinic.patient_dossier(desk.patient_id)
    assert dossier is not None
    items = {i.key: i for i in dossier.episodes[0].documentation}
    assert (items["itemised_receipt"].given, items["itemised_receipt"].by) == (True, None)
    assert items["itemised_receipt"].at is None
    assert items["itemised_receipt"].words() == ""
    assert items["aftercare_card"].given is False


def test_a_plain_row_can_be_ticked_over(desk: Desk) -> None:
    _set(desk, documentation={"itemised_receipt": True, "aftercare_card": False})
    _, version, _ = _episode(desk)

    desk.clinic.tick_document(
        desk.park, desk.episode_id, "aftercare_card", given=True, expected_version=version
    )

    documentation, _, _ = _episode(desk)
    assert documentation["itemised_receipt"] is True
    checklist = {i.key: i for i in documentation_checklist(documentation)}
    assert checklist["aftercare_card"].by == "rn.park"


def _queue_mark(desk: Desk) -> bool:
    rows = desk.clinic.queue_page(QueueFilter()).rows
    return next(r for r in rows if r.patient_id == desk.patient_id).documents_missing


def test_the_queue_marks_a_departed_patient_with_a_missing_document(
    desk: Desk, clock: FixedClock
) -> None:
    today = clock.now().astimezone(CLINIC_TZ).date()
    all_but_one = {key: True for key, _ in DOCUMENT_ITEMS[1:]}

    _set(desk, departure_date=today + DAY, documentation=all_but_one)
    assert not _queue_mark(desk)  # still in Seoul: there is time to hand it over

    _set(desk, departure_date=today)
    assert _queue_mark(desk)

    _set(desk, departure_date=today - DAY)
    assert _queue_mark(desk)

    _, version, _ = _episode(desk)
    desk.clinic.tick_document(
        desk.park, desk.episode_id, DOCUMENT_ITEMS[0][0], given=True, expected_version=version
    )
    assert not _queue_mark(desk)


def test_the_queue_does_not_mark_an_unknown_departure(desk: Desk) -> None:
    _set(desk, departure_date=None, documentation={})
    assert not _queue_mark(desk)
