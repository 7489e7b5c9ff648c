"""Episodes generate touchpoints; moving the procedure moves the open ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from core.clock import FixedClock
from core.domain import Channel, Protocol, Role, TouchpointResolution
from core.schedules import builtin_templates
from db.engine import make_session_factory, transaction
from db.episodes import create_episode, move_procedure
from db.followup import Actor, FollowUpConflict, resolve_touchpoint
from db.models import AuditEvent, Patient, ProductGiven, Touchpoint, TreatmentEpisode
from tests.factories import add_staff

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def setup(engine: Engine, clock: FixedClock) -> tuple[Actor, int]:
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        patient = Patient(
            code="P-1",
            given_name="Emily",
            family_name="Smith",
            home_country="US",
            current_country="US",
            language="en",
            timezone="America/Chicago",
            channel=Channel.WHATSAPP,
            channel_handle="wa:emily",
            created_at=clock.now(),
        )
        session.add(patient)
        session.flush()
        return Actor(nurse.id, nurse.username, nurse.display_name), patient.id


def test_exosome_episode_gets_its_schedules(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    actor, patient_id = setup
    procedure = datetime(2026, 11, 20, 10, 0, tzinfo=SEOUL)
    with transaction(make_session_factory(engine)) as session:
        episode = create_episode(
            session,
            patient_id=patient_id,
            procedure_at=procedure,
            protocol=Protocol.EXOSOME_IV,
            schedule=["standard"],
            templates=builtin_templates(),
            actor=actor,
            now=clock.now(),
            details={"nurse_name": "Kim RN"},
        )
        assert episode.schedule_templates == ["standard", "granuloma-watch"]
    with make_session_factory(engine)() as session:
        days = session.execute(
            select(Touchpoint.template, Touchpoint.day).order_by(Touchpoint.closes_at)
        ).all()
        assert [d for _, d in days] == [1, 3, 7, 21, 30, 60, 90]
        patient = session.get_one(Patient, patient_id)
        first = session.scalar(select(Touchpoint).where(Touchpoint.day == 1))
        assert first is not None and patient.next_touchpoint_id == first.id
        assert patient.next_closes_at == first.closes_at
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_unknown_template_is_refused(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    actor, patient_id = setup
    with (
        pytest.raises(FollowUpConflict, match="unknown schedule template weekly"),
        transaction(make_session_factory(engine)) as session,
    ):
        create_episode(
            session,
            patient_id=patient_id,
            procedure_at=clock.now(),
            protocol=Protocol.PRP,
            schedule=["weekly"],
            templates=builtin_templates(),
            actor=actor,
            now=clock.now(),
        )
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Touchpoint)) == 0


def test_moving_the_procedure_moves_only_open_touchpoints(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    actor, patient_id = setup
    procedure = datetime(2026, 11, 1, 10, 0, tzinfo=SEOUL)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        episode = create_episode(
            session,
            patient_id=patient_id,
            procedure_at=procedure,
            protocol=Protocol.MICRONEEDLING,
            schedule=["standard"],
            templates=builtin_templates(),
            actor=actor,
            now=clock.now(),
        )
        episode_id = episode.id
        day1 = session.scalar(select(Touchpoint).where(Touchpoint.day == 1))
        assert day1 is not None
        resolve_touchpoint(
            session,
            touchpoint_id=day1.id,
            resolution=TouchpointResolution.DONE,
            note=None,
            actor=actor,
            now=clock.now(),
        )
    with factory() as session:
        before = {
            t.day: (t.due_date, t.opens_at, t.closes_at)
            for t in session.scalars(select(Touchpoint))
        }
    with transaction(factory) as session:
        # Across the US end of daylight saving (1 November 2026): windows stay local midnights.
        moved = move_procedure(
            session,
            episode_id=episode_id,
            procedure_at=procedure + timedelta(days=3),
            actor=actor,
            now=clock.now(),
        )
    assert moved == 3
    chicago = ZoneInfo("America/Chicago")
    with factory() as session:
        after = {
            t.day: (t.due_date, t.opens_at, t.closes_at)
            for t in session.scalars(select(Touchpoint))
        }
        patient = session.get_one(Patient, patient_id)
        day3 = session.scalar(select(Touchpoint).where(Touchpoint.day == 3))
        assert day3 is not None and patient.next_touchpoint_id == day3.id
    assert after[1] == before[1]
    for day in (3, 7, 21):
        assert after[day][0] == before[day][0] + timedelta(days=3)
        opens_local = after[day][1].astimezone(chicago)
        assert (opens_local.hour, opens_local.minute) == (0, 0)
        assert after[day][1].tzinfo is not None and after[day][1].utcoffset() == timedelta(0)
    assert after[3][2] - after[3][1] == before[3][2] - before[3][1]
    # Day 3 of a 4 November procedure: local midnight of 7 November in Chicago (CST).
    assert after[3][1] == datetime(2026, 11, 7, 6, tzinfo=UTC)


AMPOULE = {
    "name": "DermExo ampoule 5 mL",
    "mfds_reference": "MFDS-TEST-2",
    "lot_number": "DXA-1",
    "expiry_date": date(2027, 5, 1),
    "dose": "1 ampoule with microneedling",
    "exosome": True,
}
NUMBING = {"name": "Lidocaine 9.6% cream", "lot_number": "LDC-1", "exosome": False}


def _create(
    engine: Engine,
    clock: FixedClock,
    setup: tuple[Actor, int],
    protocol: Protocol,
    products: list[dict[str, Any]],
    addons: list[Any] | None = None,
    **kwargs: Any,
) -> int:
    actor, patient_id = setup
    with transaction(make_session_factory(engine)) as session:
        episode = create_episode(
            session,
            patient_id=patient_id,
            procedure_at=datetime(2026, 11, 20, 10, 0, tzinfo=SEOUL),
            protocol=protocol,
            schedule=["standard"],
            templates=builtin_templates(),
            actor=actor,
            now=clock.now(),
            details={"addons": addons or []},
            products=products,
            **kwargs,
        )
        return episode.id


def _touchpoints(engine: Engine, episode_id: int) -> dict[str, list[Touchpoint]]:
    found: dict[str, list[Touchpoint]] = {}
    with make_session_factory(engine)() as session:
        for touchpoint in session.scalars(
            select(Touchpoint).where(Touchpoint.episode_id == episode_id).order_by(Touchpoint.day)
        ):
            found.setdefault(touchpoint.template, []).append(touchpoint)
    return found


def test_microneedling_with_an_exosome_ampoule_gets_the_granuloma_watch(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    episode_id = _create(engine, clock, setup, Protocol.MICRONEEDLING, [AMPOULE, NUMBING])
    touchpoints = _touchpoints(engine, episode_id)
    assert [t.day for t in touchpoints["granuloma-watch"]] == [30, 60, 90]
    assert all("lump" in t.ask for t in touchpoints["granuloma-watch"])
    with make_session_factory(engine)() as session:
        episode = session.get_one(TreatmentEpisode, episode_id)
        assert episode.schedule_templates == ["standard", "granuloma-watch"]
        products = session.scalars(
            select(ProductGiven).where(ProductGiven.episode_id == episode_id)
        ).all()
        assert {(p.name, p.exosome, p.lot_number) for p in products} == {
            ("DermExo ampoule 5 mL", True, "DXA-1"),
            ("Lidocaine 9.6% cream", False, "LDC-1"),
        }


def test_microneedling_without_an_exosome_product_gets_no_watch(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    episode_id = _create(engine, clock, setup, Protocol.MICRONEEDLING, [NUMBING])
    assert set(_touchpoints(engine, episode_id)) == {"standard"}


def test_a_product_must_name_itself_and_known_fields(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    with pytest.raises(FollowUpConflict, match="not colour"):
        _create(engine, clock, setup, Protocol.PRP, [{"name": "Kit", "colour": "red"}])
    with pytest.raises(FollowUpConflict, match="needs a name"):
        _create(engine, clock, setup, Protocol.PRP, [{"lot_number": "L-1"}])
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(TreatmentEpisode)) == 0


@pytest.mark.parametrize(
    ("addons", "reminder"),
    [
        # Plain glutathione at 1,200 mg is high by its dose.
        (["b_complex", {"name": "glutathione", "dose": "1,200 mg"}], True),
        (["glutathione_high_dose"], True),
        # Coded high but given at 600 mg: the dose wins.
        ([{"name": "glutathione_high_dose", "dose": "600 mg"}], False),
        ([{"name": "glutathione", "dose": "600 mg"}], False),
        (["b_complex"], False),
    ],
)
def test_high_dose_glutathione_adds_the_week_4_liver_panel_reminder(
    engine: Engine,
    clock: FixedClock,
    setup: tuple[Actor, int],
    addons: list[Any],
    reminder: bool,
) -> None:
    episode_id = _create(engine, clock, setup, Protocol.EXOSOME_IV, [], addons)
    touchpoints = _touchpoints(engine, episode_id)
    if not reminder:
        assert "liver-panel" not in touchpoints
        return
    (liver,) = touchpoints["liver-panel"]
    chicago = ZoneInfo("America/Chicago")
    assert liver.day == 28 and liver.due_date == date(2026, 12, 18)
    assert liver.opens_at == datetime(2026, 12, 18, tzinfo=chicago)
    assert liver.closes_at == datetime(2026, 12, 20, tzinfo=chicago)
    assert "home physician" in liver.ask and "liver function" in liver.ask
    assert not liver.photos_wanted
    with make_session_factory(engine)() as session:
        episode = session.get_one(TreatmentEpisode, episode_id)
        # A reminder added by an event, not a schedule the coordinator chose.
        assert "liver-panel" not in episode.schedule_templates
        audit = session.scalars(select(AuditEvent)).one()
        assert audit.after is not None and audit.after["added"] == ["liver-panel"]


def test_the_clinic_threshold_decides_high_dose(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    addons = [{"name": "glutathione", "dose": "1200 mg"}]
    higher = _create(engine, clock, setup, Protocol.PRP, [], addons, high_dose_glutathione_mg=1500)
    assert "liver-panel" not in _touchpoints(engine, higher)
    lower = _create(engine, clock, setup, Protocol.PRP, [], addons, high_dose_glutathione_mg=1000)
    assert "liver-panel" in _touchpoints(engine, lower)


def test_moving_the_procedure_moves_the_liver_panel_reminder(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    actor, _ = setup
    episode_id = _create(engine, clock, setup, Protocol.PRP, [], ["glutathione_high_dose"])
    with transaction(make_session_factory(engine)) as session:
        move_procedure(
            session,
            episode_id=episode_id,
            procedure_at=datetime(2026, 11, 22, 10, 0, tzinfo=SEOUL),
            actor=actor,
            now=clock.now(),
        )
    (liver,) = _touchpoints(engine, episode_id)["liver-panel"]
    assert liver.due_date == date(2026, 12, 20)
