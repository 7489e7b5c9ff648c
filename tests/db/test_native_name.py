"""The name in the patient's own script beside the Latin passport name: stored
(migration 0008), imported from the CSV, found by both searches, and carried by
the dossier, the summary, the FHIR bundle and (in words) the PDF.
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient as FhirPatient
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from core.clock import FixedClock
from core.csv_files import CsvFileError
from core.domain import Role
from core.exports.formats import ExportKind
from core.exports.summary import NATIVE_NAME_NOT_PRINTABLE
from core.patient_import import COLUMNS, CheckedFile, check_patient_csv
from core.queue import QueueFilter, matches
from core.schedules import CLINIC_TZ, load_templates
from db import migrate
from db.dossier import load_dossier
from db.engine import make_engine, make_session_factory, transaction
from db.followup import Actor
from db.models import Patient
from db.patient_import import import_patients
from db.queue import read_queue
from db.search import find_patients
from tests.exported import export_text, patient_csv_values
from tests.factories import add_patient, add_staff

SAKURA = "山本 さくら"


def _sakura(session: Session, now: datetime, native: str | None = SAKURA) -> Patient:
    """A patient on the queue (treated two days ago) with a passport and an own-script name."""
    patient = add_patient(
        session,
        "JP-0815",
        procedure_at=now - timedelta(days=2),
        created_at=now - timedelta(days=3),
        family_name="Yamamoto",
        given_name="Sakura",
    )
    patient.native_name = native
    session.flush()
    return patient


def _rendered(engine: Engine, clock: FixedClock, patient_id: int, kind: ExportKind) -> str:
    return export_text(engine, clock.now(), patient_id, kind)


# --- the column -----------------------------------------------------------------------


def test_0008_adds_the_column_and_takes_it_away_keeping_the_patients(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        # The models are head's, so the patient is written and read back at head;
        # the round trip goes down through 0008 and up again.
        migrate.upgrade(engine)
        when = datetime(2026, 11, 1, 9, 0, tzinfo=ZoneInfo("UTC"))
        with transaction(make_session_factory(engine)) as session:
            _sakura(session, when)

        migrate.downgrade(engine, "0007")
        assert migrate.current_revision(engine) == "0007"
        columns = {c["name"] for c in inspect(engine).get_columns("patient")}
        assert "native_name" not in columns and "family_name" in columns

        migrate.upgrade(engine, "0008")
        assert migrate.current_revision(engine) == "0008"
        assert "native_name" in {c["name"] for c in inspect(engine).get_columns("patient")}
        migrate.upgrade(engine)
        with make_session_factory(engine)() as session:
            kept = session.scalars(select(Patient).where(Patient.code == "JP-0815")).one()
            # The own-script name went with the column; the passport name stayed.
            assert (kept.family_name, kept.given_name, kept.native_name) == (
                "Yamamoto",
                "Sakura",
                None,
            )
    finally:
        engine.dispose()


# --- search ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["さくら", "山本", "山本 さくら", "sakura", "JP-08"])
def test_the_search_finds_either_name(engine: Engine, clock: FixedClock, text: str) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        _sakura(session, now)
        add_patient(session, "JP-0900", procedure_at=now, created_at=now)
    with make_session_factory(engine)() as session:
        hits = find_patients(session, text)
    assert [(h.code, h.native_name) for h in hits] == [("JP-0815", SAKURA)]


def test_a_wildcard_in_the_text_is_only_text(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        _sakura(session, now)
    with make_session_factory(engine)() as session:
        assert find_patients(session, "%") == []
        assert find_patients(session, "山_") == []
        assert read_queue(session, now, QueueFilter(search="山%")) == []


def test_a_patient_without_an_own_script_name_is_found_as_before(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        _sakura(session, now, native=None)
    with make_session_factory(engine)() as session:
        assert [h.native_name for h in find_patients(session, "yamamoto")] == [None]
        assert find_patients(session, "さくら") == []
        assert [r.patient_code for r in read_queue(session, now, QueueFilter(search="saku"))] == [
            "JP-0815"
        ]


@pytest.mark.parametrize("text", ["さくら", "山本", "SAKURA"])
def test_the_queue_search_finds_either_name(engine: Engine, clock: FixedClock, text: str) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        _sakura(session, now)
        add_patient(session, "JP-0900", procedure_at=now, created_at=now)
    wanted = QueueFilter(search=text)
    with make_session_factory(engine)() as session:
        found = read_queue(session, now, wanted)
        everyone = read_queue(session, now)
    assert [(r.patient_code, r.native_name) for r in found] == [("JP-0815", SAKURA)]
    # The in-memory reference filter agrees with the SQL one.
    assert [r.patient_code for r in everyone if matches(r, wanted, now)] == ["JP-0815"]


# --- surfaces -------------------------------------------------------------------------


def test_the_dossier_and_summary_carry_the_own_script_name(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        patient_id = _sakura(session, clock.now()).id
    with make_session_factory(engine)() as session:
        dossier = load_dossier(session, patient_id, clock.now())
    assert dossier is not None and dossier.identity.native_name == SAKURA
    summary = _rendered(engine, clock, patient_id, "summary")
    assert "Name (family, given): Yamamoto, Sakura" in summary
    assert f"Name in own script: {SAKURA}" in summary


def test_the_summary_says_nothing_of_a_name_not_recorded(engine: Engine, clock: FixedClock) -> None:
    with transaction(make_session_factory(engine)) as session:
        patient_id = _sakura(session, clock.now(), native=None).id
    assert "own script" not in _rendered(engine, clock, patient_id, "summary")
    assert "own script" not in _rendered(engine, clock, patient_id, "pdf")


def test_the_pdf_prints_the_own_script_name(engine: Engine, clock: FixedClock) -> None:
    with transaction(make_session_factory(engine)) as session:
        patient_id = _sakura(session, clock.now()).id
    text = _rendered(engine, clock, patient_id, "pdf")
    assert f"Name in own script: {SAKURA}" in text
    assert "Yamamoto, Sakura" in text
    assert NATIVE_NAME_NOT_PRINTABLE not in text
    assert "cannot be printed in this PDF" not in text


def test_the_pdf_prints_an_own_script_name_its_font_can(engine: Engine, clock: FixedClock) -> None:
    with transaction(make_session_factory(engine)) as session:
        patient_id = _sakura(session, clock.now(), native="Jämsä Sakura").id
    text = _rendered(engine, clock, patient_id, "pdf")
    assert "Name in own script: Jämsä Sakura" in text
    assert NATIVE_NAME_NOT_PRINTABLE not in text


def test_fhir_has_the_passport_name_official_and_the_own_script_name_usual(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        patient_id = _sakura(session, clock.now()).id
    bundle = Bundle.model_validate_json(_rendered(engine, clock, patient_id, "fhir"))
    (patient,) = [e.resource for e in bundle.entry or [] if isinstance(e.resource, FhirPatient)]
    names = [(n.use, n.family, n.given, n.text) for n in patient.name or []]
    assert names == [
        ("official", "Yamamoto", ["Sakura"], "Yamamoto Sakura"),
        ("usual", None, None, SAKURA),
    ]


def test_fhir_has_one_name_when_no_own_script_name_is_recorded(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        patient_id = _sakura(session, clock.now(), native=None).id
    bundle = Bundle.model_validate_json(_rendered(engine, clock, patient_id, "fhir"))
    (patient,) = [e.resource for e in bundle.entry or [] if isinstance(e.resource, FhirPatient)]
    assert [n.use for n in patient.name or []] == ["official"]


# --- the CSV import -------------------------------------------------------------------


def _csv(clock: FixedClock, native: str | None) -> str:
    procedure = (clock.now() - timedelta(days=7)).astimezone(CLINIC_TZ)
    values = patient_csv_values(
        "IMP-0815",
        procedure_at=procedure.strftime("%Y-%m-%d 10:30"),
        family_name="Yamamoto",
        given_name="Sakura",
        birth_date="1990-07-15",
        current_country="",
        channel_handle="line:sakura_y",
        phone="",
        protocol="exosome_iv",
    )
    header, row = list(COLUMNS), [values[c] for c in COLUMNS]
    if native is not None:
        header.append("native_name")
        row.append(native)
    return ",".join(header) + "\n" + ",".join(row) + "\n"


def _check(clock: FixedClock, text: str) -> CheckedFile:
    return check_patient_csv(
        text, "patients.csv", now=clock.now(), clinic_tz=CLINIC_TZ, templates=load_templates()
    )


@pytest.mark.parametrize(("native", "stored"), [(SAKURA, SAKURA), ("", None), (None, None)])
def test_the_import_takes_an_optional_native_name_column(
    engine: Engine, clock: FixedClock, native: str | None, stored: str | None
) -> None:
    checked = _check(clock, _csv(clock, native))
    assert checked.problems == []
    with transaction(make_session_factory(engine)) as session:
        admin = add_staff(session, "admin.cho", Role.ADMIN, clock.now())
        actor = Actor(admin.id, admin.username, admin.display_name, Role.ADMIN)
        import_patients(
            session,
            clock.now(),
            actor,
            list(checked.rows.values()),
            templates=load_templates(),
            source="patients.csv",
            sha256="0" * 64,
        )
    with make_session_factory(engine)() as session:
        patient = session.scalars(select(Patient).where(Patient.code == "IMP-0815")).one()
        assert (patient.family_name, patient.native_name) == ("Yamamoto", stored)


def test_the_import_names_a_native_name_too_long(clock: FixedClock) -> None:
    checked = _check(clock, _csv(clock, "さ" * 201))
    assert [(p.line, p.column) for p in checked.problems] == [(2, "native_name")]
    assert checked.rows == {}


def test_the_import_still_refuses_an_unknown_column(clock: FixedClock) -> None:
    text = _csv(clock, SAKURA).replace("native_name", "kanji_name", 1)
    with pytest.raises(CsvFileError, match=r"unknown column kanji_name.*optional: native_name"):
        _check(clock, text)
