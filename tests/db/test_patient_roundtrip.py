"""The patient CSV export and the import are one format, on SQLite and PostgreSQL:
patients recorded by hand are exported, the files imported into an empty
database, and exported again: the same bytes, the same records of care, the
same follow-up. Only each patient's latest episode travels; demo patients stay
behind; the export is audited.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.config import Settings
from core.domain import Channel, Protocol, Role
from core.patient_export import PATIENT_FILE_COLUMNS, PRODUCT_FILE_COLUMNS
from core.patient_import import COLUMNS, OPTIONAL_COLUMNS, CheckedFile, check_patient_csv
from core.product_import import read_products_csv
from core.records import AddOn, EpisodeRecord, NewPatient, PatientRecord, Product
from core.refusals import Refused
from core.schedules import CLINIC_TZ
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, Patient, Touchpoint, TreatmentEpisode
from db.patient_export import latest_episodes
from db.services import Clinic
from tests.conftest import _PostgresSchemas, _schema_url
from tests.factories import add_patient, add_staff

DAY = timedelta(days=1)


@dataclass
class Site:
    """One clinic database with its staff: a coordinator who exports, an admin who imports."""

    clinic: Clinic
    engine: Engine
    coordinator: Actor
    admin: Actor


def _site(engine: Engine, clock: FixedClock) -> Site:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        kim = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        cho = add_staff(session, "admin.cho", Role.ADMIN, now)
        add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        actors = [Actor(s.id, s.username, s.display_name, s.role) for s in (kim, cho)]
    clinic = Clinic(Database(engine, make_session_factory(engine)), Settings(), clock)
    return Site(clinic, engine, actors[0], actors[1])


@pytest.fixture
def empty_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second database at head, on the same backend as `engine`, with no patients."""
    if db_url.startswith("sqlite"):
        path = tmp_path / "second.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    schemas: _PostgresSchemas = request.getfixturevalue("_postgres_schemas")
    schema = schemas.take()
    try:
        yield _schema_url(schemas.base, schema)
    finally:
        schemas.give_back(schema)


@pytest.fixture
def second(empty_url: str, clock: FixedClock) -> Iterator[Site]:
    engine = make_engine(empty_url)
    try:
        yield _site(engine, clock)
    finally:
        engine.dispose()


def _patient(code: str, **changes: Any) -> PatientRecord:
    record = PatientRecord(
        code=code,
        family_name="Yamamoto",
        given_name="Sakura",
        home_country="JP",
        language="ja",
        timezone="Asia/Tokyo",
        channel=Channel.LINE,
        channel_handle=f"line:{code.lower()}",
    )
    return replace(record, **changes)


def _recorded_by_hand(site: Site, clock: FixedClock) -> None:
    """Every kind of value the record of care holds, each through the form's door."""
    now = clock.now()
    full = EpisodeRecord(
        procedure_at=now - 3 * DAY,
        protocol=Protocol.MICRONEEDLING,
        schedule=("standard",),
        treating_physician="dr.lee",
        nurse_name="Park Ji-yeon",
        nurse_license_ref="RN-12345",
        products=(
            Product("ASCE+ Exosome", "MFDS-2024-118", "A2611-07", (now + 200 * DAY).date(), True),
            # Expired before the procedure: recorded after the warning, as the form allows.
            Product("Lidocaine cream", None, "LC-88", (now - 40 * DAY).date(), False),
            Product("Saline"),
        ),
        addons=(AddOn("glutathione", 1200.0), AddOn("vitamin C", 2.5), AddOn("B-complex")),
        departure_date=(now + DAY).astimezone(CLINIC_TZ).date(),
        travel_insurer="Tokio Marine",
        travel_policy_number="TM-99-0042",
        khidi_cover_ref="KHIDI-7731",
        has_allergies=True,
        allergies="latex, nickel\n(contact rash)",
        vasovagal_history=True,
        sensitive_skin=False,
    )
    hand = [
        NewPatient(
            _patient(
                "JP-0042",
                native_name="山本 さくら",
                birth_date=(now - 40 * 365 * DAY).date(),
                phone="090 1234 5678",
                email="sakura@example.org",
            ),
            full,
        ),
        # Asked and nothing given, no allergy known: "none", never empty.
        NewPatient(
            _patient("JP-0043", family_name="=HYPERLINK(1)", given_name=""),
            EpisodeRecord(
                now - 10 * DAY,
                Protocol.EXOSOME_IV,
                ("standard", "extended"),
                products=(),
                addons=(),
                has_allergies=False,
                vasovagal_history=False,
            ),
        ),
        # Nothing asked: every answer stays "not recorded".
        NewPatient(
            _patient("DE-0001", home_country="DE", language="de", timezone="Europe/Berlin"),
            EpisodeRecord(now - 2 * DAY, Protocol.PRP, ("standard",)),
        ),
    ]
    for new in hand:
        site.clinic.record_patient(site.coordinator, new)
    # A returning patient: only the latest trip is exported.
    saved = site.clinic.record_patient(
        site.coordinator,
        NewPatient(
            _patient("KR-0007", home_country="KR", language="ko", timezone="Asia/Seoul"),
            EpisodeRecord(now - 200 * DAY, Protocol.PRP, ("standard",)),
        ),
    )
    site.clinic.record_episode(
        site.coordinator,
        saved.patient_id,
        replace(full, procedure_at=now - 5 * DAY, products=(Product("PDRN", lot_number="P/9"),)),
    )
    with transaction(make_session_factory(site.engine)) as session:
        demo = add_patient(session, "DEMO-0001", procedure_at=now - DAY, created_at=now)
        demo.is_demo = True


def _export(site: Site, folder: Path) -> tuple[bytes, bytes]:
    folder.mkdir()
    patients, products = folder / "patients.csv", folder / "products.csv"
    written = site.clinic.save_patients_csv(site.coordinator, patients, products)
    assert (written.patients, written.path, written.products_path) == (4, patients, products)
    return patients.read_bytes(), products.read_bytes()


def _checked(site: Site, patients: bytes, products: bytes) -> CheckedFile:
    given = read_products_csv(products.decode(), "products.csv")
    checked = check_patient_csv(
        patients.decode(),
        "patients.csv",
        now=site.clinic.clock.now(),
        clinic_tz=CLINIC_TZ,
        templates=site.clinic.templates,
        products=given,
    )
    return checked.against_database(
        site.clinic.existing_patient_codes(checked.codes.values()),
        physicians=[login for login, _ in site.clinic.physicians()],
    )


def _follow_up(engine: Engine) -> dict[str, list[tuple[str, int, str]]]:
    """Each patient's touchpoints of their latest episode: template, day, due date."""
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(Patient.code, TreatmentEpisode.id, Touchpoint.template, Touchpoint.day)
            .join(TreatmentEpisode, TreatmentEpisode.patient_id == Patient.id)
            .join(Touchpoint, Touchpoint.episode_id == TreatmentEpisode.id)
            .where(Patient.is_demo.is_not(True))
        ).all()
        due = {
            (t.episode_id, t.template, t.day): t.due_date.isoformat()
            for t in session.scalars(select(Touchpoint))
        }
    latest: dict[str, int] = {}
    for code, episode_id, _, _ in rows:
        latest[code] = max(latest.get(code, 0), episode_id)
    plans: dict[str, list[tuple[str, int, str]]] = {}
    for code, episode_id, template, day in rows:
        if episode_id == latest[code]:
            plans.setdefault(code, []).append((template, day, due[(episode_id, template, day)]))
    return {code: sorted(found) for code, found in plans.items()}


def _records(engine: Engine) -> list[tuple[PatientRecord, EpisodeRecord]]:
    with make_session_factory(engine)() as session:
        return sorted(latest_episodes(session), key=lambda record: record[0].code)


def test_the_export_writes_every_column_the_import_reads() -> None:
    assert sorted(PATIENT_FILE_COLUMNS) == sorted((*COLUMNS, *OPTIONAL_COLUMNS))


def test_export_import_export_gives_the_same_files_and_the_same_records(
    engine: Engine, second: Site, clock: FixedClock, tmp_path: Path
) -> None:
    first = _site(engine, clock)
    _recorded_by_hand(first, clock)

    patients, products = _export(first, tmp_path / "first")

    checked = _checked(second, patients, products)
    assert checked.problems == []
    expired, procedure_day = (clock.now() - 40 * DAY).date(), (clock.now() - 3 * DAY).date()
    assert [str(w) for w in checked.warnings] == [
        f"products.csv: line 3: expiry_date: expired {expired} before the procedure "
        f"({procedure_day}): check the label; if it is right, this is an incident to open"
    ]
    summary = second.clinic.import_patients(
        second.admin,
        list(checked.rows.values()),
        templates=second.clinic.templates,
        source="patients.csv",
        sha256=hashlib.sha256(patients).hexdigest(),
    )
    assert (summary.patients, summary.episodes) == (4, 4)

    again = _export(second, tmp_path / "second")

    assert again == (patients, products)
    assert _records(second.engine) == _records(engine)
    assert _follow_up(second.engine) == _follow_up(engine)
    assert summary.touchpoints == sum(len(plans) for plans in _follow_up(engine).values())


def test_the_files_say_what_was_recorded_and_the_export_is_audited(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    site = _site(engine, clock)
    _recorded_by_hand(site, clock)

    patients, products = _export(site, tmp_path / "out")

    lines = patients.decode().split("\r\n")
    assert lines[0] == ",".join(PATIENT_FILE_COLUMNS)
    codes = [line.split(",")[0] for line in lines[1:-1]]
    assert codes == ["DE-0001", "JP-0042", "JP-0043", "KR-0007"]  # no demo patient
    text = patients.decode()
    assert "'+819012345678" in text  # a phone number is no formula to a spreadsheet
    assert ",'=HYPERLINK(1),," in text
    assert '"latex, nickel\n(contact rash)"' in text
    nothing_asked = next(line for line in lines if line.startswith("DE-0001,"))
    assert nothing_asked.endswith(",prp,standard" + "," * 12)
    none_given = next(line for line in lines if line.startswith("JP-0043,"))
    assert none_given.endswith(",none,no,,none,none")
    # The returning patient's latest trip, five days ago, not the one 200 days ago.
    returning = next(line for line in lines if line.startswith("KR-0007,"))
    assert (clock.now() - 5 * DAY).astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M") in returning
    assert products.decode().split("\r\n") == [
        ",".join(PRODUCT_FILE_COLUMNS),
        f"JP-0042,product,ASCE+ Exosome,MFDS-2024-118,A2611-07,"
        f"{(clock.now() + 200 * DAY).date()},yes,",
        f"JP-0042,product,Lidocaine cream,,LC-88,{(clock.now() - 40 * DAY).date()},no,",
        "JP-0042,product,Saline,,,,,",
        "JP-0042,addon,glutathione,,,,,1200",
        "JP-0042,addon,vitamin C,,,,,2.5",
        "JP-0042,addon,B-complex,,,,,",
        "KR-0007,product,PDRN,,P/9,,,",
        "KR-0007,addon,glutathione,,,,,1200",
        "KR-0007,addon,vitamin C,,,,,2.5",
        "KR-0007,addon,B-complex,,,,,",
        "",
    ]
    with make_session_factory(engine)() as session:
        (event,) = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export.patients_csv")
        ).all()
    assert event.actor == "rn.kim"
    assert event.after == {
        "patients": 4,
        "codes": ["DE-0001", "JP-0042", "JP-0043", "KR-0007"],
        "files": [str(tmp_path / "out" / "patients.csv"), str(tmp_path / "out" / "products.csv")],
    }


def test_an_admin_may_not_export_and_nothing_is_written(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    site = _site(engine, clock)
    _recorded_by_hand(site, clock)
    out = tmp_path / "out"
    with pytest.raises(Refused, match="may not export patient records"):
        site.clinic.save_patients_csv(site.admin, out / "p.csv", out / "g.csv")
    assert not out.exists()
    with make_session_factory(engine)() as session:
        exported = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export.patients_csv")
        ).all()
    assert exported == []
