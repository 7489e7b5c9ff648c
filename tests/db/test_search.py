"""Finding any patient by code or name, finished follow-ups included, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from core.clock import FixedClock
from core.config import Settings
from core.domain import Disposition, Protocol, TouchpointResolution
from core.queue import QueueFilter
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import refresh_next_touchpoint
from db.models import Patient, Touchpoint, TreatmentEpisode
from db.queue import read_queue
from db.search import find_patients
from db.services import Clinic
from tests.factories import add_patient


def finished_patient(session: Session, code: str, now: datetime, **names: Any) -> Patient:
    """A patient treated half a year ago whose every touchpoint was done: no open
    touchpoint, so not on the queue (like the demo's finished patients)."""
    patient = add_patient(
        session,
        code,
        procedure_at=now - timedelta(days=180),
        created_at=now - timedelta(days=181),
        disposition=Disposition.MONITOR,
        **names,
    )
    session.execute(
        update(Touchpoint)
        .where(Touchpoint.patient_id == patient.id)
        .values(resolution=TouchpointResolution.DONE, resolved_at=now - timedelta(days=1))
    )
    refresh_next_touchpoint(session, patient.id)
    session.flush()
    session.refresh(patient)
    assert patient.next_touchpoint_id is None
    return patient


def _clinic(engine: Engine, clock: FixedClock) -> Clinic:
    return Clinic(
        Database(engine, make_session_factory(engine)),
        Settings(database_url="sqlite:///unused.db"),
        clock,
    )


def test_a_finished_patient_is_found_by_code_and_by_name(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        done = finished_patient(session, "FIN-0042", now, family_name="Sato", given_name="Yui")
        add_patient(
            session,
            "ONS-0001",
            procedure_at=now - timedelta(days=2),
            created_at=now,
            family_name="Satou",
            given_name="Ken",
        )
        done_id = done.id
        # A second, later episode: the hit shows the latest procedure.
        later = now - timedelta(days=90)
        session.add(
            TreatmentEpisode(
                patient_id=done_id,
                procedure_at=later,
                protocol=Protocol.EXOSOME_IV,
                schedule_templates=[],
                created_at=later,
            )
        )
    with make_session_factory(engine)() as session:
        on_queue = read_queue(session, now, QueueFilter(search="sato"))
    assert [r.patient_code for r in on_queue] == ["ONS-0001"], "the queue cannot list it"

    clinic = _clinic(engine, clock)
    by_code = clinic.find_patients("fin-00")
    assert [h.code for h in by_code] == ["FIN-0042"]
    hit = by_code[0]
    assert (hit.patient_id, hit.family_name, hit.given_name) == (done_id, "Sato", "Yui")
    assert (hit.current_country, hit.timezone) == ("JP", "Asia/Tokyo")
    assert hit.on_schedule is False and hit.schedule_words == "Outside the schedule"
    assert hit.last_procedure_at == later
    assert hit.latest_disposition is Disposition.MONITOR

    for text in ("Sato Yui", "yui sato", "  YUI  ", "sato y"):
        assert [h.code for h in clinic.find_patients(text)] == ["FIN-0042"], text
    both = clinic.find_patients("sato")
    assert [(h.code, h.on_schedule) for h in both] == [("FIN-0042", False), ("ONS-0001", True)]
    assert both[1].schedule_words == "On the schedule"
    assert [h.code for h in clinic.find_patients("sato ken")] == ["ONS-0001"]
    assert clinic.find_patients("Yui Ken") == []  # every word, in the same patient
    assert clinic.find_patients("") == [] and clinic.find_patients("   ") == []


def test_the_code_prefix_comes_before_names_and_the_limit_holds(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        for i in range(6):
            finished_patient(session, f"K-{i}", now, family_name="Lim", given_name=f"Bo{i}")
        # Named like a code: found by name, listed after the code hits.
        finished_patient(session, "Z-9", now, family_name="K-Lim", given_name="Ara")
    hits = find_patients(make_session_factory(engine)(), "k-", limit=50)
    assert [h.code for h in hits] == [f"K-{i}" for i in range(6)] + ["Z-9"]
    assert [h.code for h in _clinic(engine, clock).find_patients("k-", limit=3)] == [
        "K-0",
        "K-1",
        "K-2",
    ]
    assert find_patients(make_session_factory(engine)(), "lim", limit=0) == []


def test_like_wildcards_in_the_text_match_only_themselves(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        finished_patient(session, "AB1", now, family_name="Park", given_name="Min")
        finished_patient(session, "A_1", now, family_name="O'Brien", given_name="Sean")
        finished_patient(session, "A%2", now, family_name="Choi", given_name="100%")
        finished_patient(session, "A\\3", now, family_name="Kang", given_name="Jun")
    clinic = _clinic(engine, clock)

    def codes(text: str) -> list[str]:
        return [h.code for h in clinic.find_patients(text)]

    assert codes("A_") == ["A_1"]  # not AB1: `_` is no "any one character"
    assert codes("a%") == ["A%2"]  # not every code after A
    assert codes("%") == ["A%2"]  # only the name holding a real percent sign
    assert codes("_") == []  # unescaped, it would be any name of one letter or more
    assert codes("a\\") == ["A\\3"]  # the escape character itself is text too
    assert codes("\\") == []
    assert codes("o'brien") == ["A_1"]
    assert codes("'; DROP TABLE patient; --") == []
    with make_session_factory(engine)() as session:
        assert len(session.scalars(select(Patient)).all()) == 4
