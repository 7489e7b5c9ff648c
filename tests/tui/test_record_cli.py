"""The record of care on the command line: `aftercare patient add|edit` and
`aftercare episode add|edit`, run as real `aftercare` processes.

The add path runs on SQLite and PostgreSQL; the refusals and the edits, whose
rules the database tests cover on both, run on SQLite only (each process costs
most of a second). The commands read the system clock, so procedure times are
a few days before now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from core.clock import SystemClock
from core.config import Settings
from core.domain import Protocol, Role
from core.records import AddOn
from db.database import Database
from db.engine import make_session_factory, transaction
from db.models import Base, Touchpoint, TreatmentEpisode
from db.services import Clinic
from tests.factories import add_patient, add_staff
from tests.tui.test_cli import run_cli
from tui.cli import app

SEOUL = ZoneInfo("Asia/Seoul")
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True, ids=["db=sqlite"])


def clinic_time(at: datetime) -> str:
    return f"{at.astimezone(SEOUL):%Y-%m-%d %H:%M}"


# Three days ago at 10:30 in Seoul: in the past, and recent, whatever day the suite runs.
PROCEDURE = datetime.combine(
    datetime.now(SEOUL).date() - timedelta(days=3), datetime.min.time().replace(hour=10, minute=30)
).replace(tzinfo=SEOUL)


@pytest.fixture
def cli(db_url: str, cli_env: dict[str, str], engine: Engine, os_login: str) -> dict[str, str]:
    """The CLI on the test database, run by an OS user on staff as a coordinator;
    dr.kim is an active physician, dr.gone a disabled one; patient P-8 in Tokyo was
    treated a day ago."""
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, os_login, Role.COORDINATOR, now)
        add_staff(session, "dr.kim", Role.PHYSICIAN, now)
        add_staff(session, "dr.gone", Role.PHYSICIAN, now).active = False
        add_patient(session, "P-8", procedure_at=now - timedelta(days=1), created_at=now)
    cli_env.update(AFTERCARE_DATABASE_URL=db_url, LOGNAME=os_login, USER=os_login)
    return cli_env


def clinic_on(engine: Engine) -> Clinic:
    return Clinic(Database(engine, make_session_factory(engine)), Settings(), SystemClock())


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table: what "nothing was saved" means here."""
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def new_patient(code: str, *episode: str) -> list[str]:
    """`patient add` of a good patient in Tokyo, with `episode` options (or a good episode)."""
    return [
        *("patient", "add", "--code", code, "--family-name", "Yamamoto"),
        *("--given-name", "Sakura", "--native-name", "山本 さくら", "--birth-date", "1990-04-01"),
        *("--home-country", "JP", "--language", "ja", "--timezone", "Asia/Tokyo"),
        *("--channel", "line", "--handle", "sakura.y"),
        *(
            episode
            or (
                "--procedure",
                clinic_time(PROCEDURE),
                "--protocol",
                "prp",
                "--schedule",
                "standard",
            )
        ),
    ]


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return stderr.strip().splitlines()


def test_a_patient_added_with_two_products_and_an_addon_reads_back(
    engine: Engine, cli: dict[str, str]
) -> None:
    added = run_cli(
        *new_patient(
            "JP-0042",
            *("--procedure", clinic_time(PROCEDURE), "--protocol", "exosome_iv"),
            *("--schedule", "standard;extended", "--treating", "dr.kim", "--nurse", "Lee Mina"),
            *("--nurse-licence", "RN-2231", "--allergies", "penicillin", "--vasovagal", "no"),
            "--product",
            "name=ASCE+ Exosome; mfds=MFDS-2024-118; lot=A2611-07; expiry=2030-05; exosome=yes",
            *("--product", "NAME=Saline ; lot = S-1 ;expiry=2020-01;"),
            *("--addon", "name=glutathione; dose=1,200 mg"),
        ),
        env=cli,
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("Recorded patient JP-0042 and their episode;"), added.stdout
    # An expired product is said, and saved, as the form saves it once confirmed.
    assert error_lines(added.stderr) == [
        "aftercare: warning: Product 2 expiry: expired 2020-01-31 before the procedure "
        f"({PROCEDURE.date()}): check the label; if it is right, this is an incident to open "
        "[--product 2: expiry]"
    ]
    clinic = clinic_on(engine)
    try:
        patient_id = clinic.patient_by_reference("JP-0042")
        assert patient_id is not None
        dossier = clinic.patient_dossier(patient_id)
        assert dossier is not None and len(dossier.episodes) == 1
        record = clinic.episode_record(dossier.episodes[0].episode_id)
        person = clinic.patient_record(patient_id)
    finally:
        clinic.database.close()
    assert record is not None and person is not None
    assert (person.native_name, person.current_country) == ("山本 さくら", "JP")
    assert record.procedure_at == PROCEDURE
    assert record.protocol is Protocol.EXOSOME_IV
    assert {"standard", "extended"} <= set(record.schedule)
    assert (record.treating_physician, record.nurse_name) == ("dr.kim", "Lee Mina")
    assert (record.has_allergies, record.allergies, record.vasovagal_history) == (
        True,
        "penicillin",
        False,
    )
    assert record.products is not None
    assert [(p.name, p.lot_number, p.expiry_date, p.exosome) for p in record.products] == [
        ("ASCE+ Exosome", "A2611-07", PROCEDURE.date().replace(2030, 5, 31), True),
        ("Saline", "S-1", PROCEDURE.date().replace(2020, 1, 31), None),
    ]
    assert record.products[0].mfds_reference == "MFDS-2024-118"
    assert record.addons == (AddOn("glutathione", 1200.0),)


@sqlite_only
def test_bad_input_is_named_field_by_field_and_nothing_is_saved(
    engine: Engine, cli: dict[str, str]
) -> None:
    before = row_counts(engine)
    everything_wrong = run_cli(
        *("patient", "add", "--code", "JP-0043", "--family-name", "", "--home-country", "XX"),
        *("--language", "ja", "--timezone", "Asia/Tokyo", "--channel", "line"),
        *("--handle", "sakura y", "--procedure", "2099-01-01 10:00", "--protocol", "iv"),
        *("--schedule", "standard;weekly", "--allergies", "nuts", "--no-allergies"),
        *("--product", "name=ASCE+; lot=A 26"),
        *("--product", "lot=B1", "--addon", "name=glutathione; dose=lots"),
        *("--vasovagal", "maybe"),
        env=cli,
    )
    assert everything_wrong.returncode == 1
    lines = error_lines(everything_wrong.stderr)
    for expected in (
        "error: Family name: empty; a value is required [--family-name]",
        "error: Home country: 'XX' is not an ISO 3166-1 two-letter country code [--home-country]",
        "error: Messenger handle: 'sakura y' is not a line handle",
        "error: Allergies (what): give --allergies or --no-allergies, not both [--allergies]",
        "error: Procedure time: '2099-01-01 10:00' is in the future (clinic time) [--procedure]",
        "error: Protocol: 'iv' is not a protocol; known: exosome_iv,",
        "error: Schedule templates: unknown template 'weekly'; known: ",
        "error: Product 1 lot: 'A 26' is not a lot number as printed on a label",
        "error: Product 2 name: empty; a value is required [--product 2: name]",
        "error: Add-on 1 dose (mg): 'lots' is not a number of mg (e.g. 1200) [--addon 1: dose]",
        "error: Vasovagal history: 'maybe' is not yes or no",
    ):
        assert any(line.startswith(expected) for line in lines), (expected, lines)
    assert lines[-1] == "aftercare: 11 problems; nothing was saved"
    assert len(lines) == 12

    # An unknown key is named with the keys there are; the good options stay quiet.
    colour = run_cli(*new_patient("JP-0044"), "--product", "name=ASCE+; colour=red", env=cli)
    assert colour.returncode == 1
    assert error_lines(colour.stderr) == [
        "error: Product 1: 'colour' is not a key; keys: name, mfds, lot, expiry, exosome "
        "[--product 1]",
        "aftercare: 1 problem; nothing was saved",
    ]
    # Refused by the database itself: the code is taken.
    taken = run_cli(*new_patient("P-8"), env=cli)
    assert taken.returncode == 1
    assert error_lines(taken.stderr)[0] == (
        "error: Patient code: 'P-8' is already a patient; choose another [--code]"
    )
    assert row_counts(engine) == before


@sqlite_only
def test_episode_edit_moves_the_procedure_and_refuses_an_inactive_physician(
    engine: Engine, cli: dict[str, str]
) -> None:
    with make_session_factory(engine)() as session:
        episode = session.scalars(select(TreatmentEpisode)).one()
        due = {tp.id: tp.due_date for tp in session.scalars(select(Touchpoint))}
    earlier = episode.procedure_at - timedelta(days=2)
    moved = run_cli("episode", "edit", "P-8", "--procedure", clinic_time(earlier), env=cli)
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.startswith(f"Saved Procedure time; {len(due)} check-ins moved"), (
        moved.stdout
    )
    with make_session_factory(engine)() as session:
        stored = session.get(TreatmentEpisode, episode.id)
        assert stored is not None
        assert stored.procedure_at == earlier.replace(second=0)
        version = stored.version
        for touchpoint_id, day in due.items():
            touchpoint = session.get(Touchpoint, touchpoint_id)
            assert touchpoint is not None and touchpoint.due_date == day - timedelta(days=2)

    before = row_counts(engine)
    refused = run_cli(
        *("episode", "edit", "P-8", "--treating", "dr.gone", "--nurse", "Lee"), env=cli
    )
    assert refused.returncode == 1
    assert error_lines(refused.stderr) == [
        "error: Treating physician: 'dr.gone' is not an active physician; physicians: dr.kim "
        "[--treating]",
        "aftercare: 1 problem; nothing was saved",
    ]
    assert row_counts(engine) == before
    with make_session_factory(engine)() as session:
        unchanged = session.get(TreatmentEpisode, episode.id)
        assert unchanged is not None
        assert (unchanged.nurse_name, unchanged.version) == (None, version)


@sqlite_only
def test_a_new_episode_and_a_corrected_name(engine: Engine, cli: dict[str, str]) -> None:
    added = run_cli(
        *("episode", "add", "P-8", "--procedure", clinic_time(PROCEDURE), "--protocol", "prp"),
        *("--schedule", "standard", "--no-products", "--no-addons", "--no-allergies"),
        env=cli,
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("Recorded a new episode for P-8;"), added.stdout
    renamed = run_cli(
        *("patient", "edit", "P-8", "--family-name", "Sato", "--native-name", "佐藤 ゆき"), env=cli
    )
    assert renamed.returncode == 0, renamed.stderr
    assert renamed.stdout.strip() == "Saved Family name, Name in own script."
    clinic = clinic_on(engine)
    try:
        patient_id = clinic.patient_by_reference("P-8")
        assert patient_id is not None
        dossier = clinic.patient_dossier(patient_id)
        assert dossier is not None and len(dossier.episodes) == 2
        # Most recent procedure first: the new episode's (three days ago) is older than P-8's.
        new = clinic.episode_record(dossier.episodes[1].episode_id)
        person = clinic.patient_record(patient_id)
    finally:
        clinic.database.close()
    assert new is not None and person is not None
    # "None given" is recorded as such, not left as "not recorded".
    assert (new.protocol, new.products, new.addons, new.has_allergies) == (
        Protocol.PRP,
        (),
        (),
        False,
    )
    assert (person.family_name, person.given_name, person.native_name) == (
        "Sato",
        "Yuki",
        "佐藤 ゆき",
    )


def test_each_command_explains_itself_with_an_example() -> None:
    runner = CliRunner()
    for command, example in (
        (("patient", "add"), "aftercare patient add --code JP-0042"),
        (("patient", "edit"), "aftercare patient edit JP-0042"),
        (("episode", "add"), "aftercare episode add JP-0042"),
        (("episode", "edit"), "aftercare episode edit JP-0042"),
    ):
        shown = runner.invoke(app, [*command, "--help"])
        assert shown.exit_code == 0, shown.output
        assert example in shown.output
    edit_help = " ".join(runner.invoke(app, ["episode", "edit", "--help"]).output.split())
    assert "Any --product replaces the whole product list" in edit_help
    assert 'key=value pairs separated by ";"' in edit_help
