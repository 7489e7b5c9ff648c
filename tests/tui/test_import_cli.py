"""`aftercare import patients FILE.csv` on SQLite and PostgreSQL.

The command runs in-process through its own `register` on a bare Typer app,
with the real configuration loader, database and identity rules. The OS
login is the account the tests run as (the `os_login` fixture).
"""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from core.clock import FixedClock
from core.domain import Role
from core.patient_import import COLUMNS
from db.audit import verify_chain
from db.engine import make_engine, make_session_factory, transaction
from db.models import (
    AuditEvent,
    Base,
    Patient,
    ProductGiven,
    Staff,
    Touchpoint,
    TreatmentEpisode,
)
from tests.db.test_patient_roundtrip import empty_url  # noqa: F401 (the fixture, used by name)
from tests.exported import patient_csv_line
from tests.factories import add_patient, add_staff
from tests.tui.test_cli import assert_one_clear_line, run_cli
from tui.cli.import_ import register

# A week ago in clinic time: in the past whatever day the suite runs.
PROCEDURE = (datetime.now(UTC) - timedelta(days=7)).astimezone(ZoneInfo("Asia/Seoul"))
PROCEDURE_TEXT = PROCEDURE.strftime("%Y-%m-%d 10:30")
HEADER = ",".join(COLUMNS)


def line(code: str, **changes: str) -> str:
    return patient_csv_line(code, **{"procedure_at": PROCEDURE_TEXT, **changes})


@pytest.fixture
def cli(
    db_url: str,
    engine: Engine,
    clock: FixedClock,
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    os_login: str,
) -> typer.Typer:
    """The import command on the test database, run by an admin (the OS login the
    tests run as); `rn.kim` (coordinator) and patient AC-0001 are there already."""
    for key in list(os.environ):
        if key.startswith("AFTERCARE_"):
            monkeypatch.delenv(key)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(key, cli_env[key])
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", db_url)
    # Only root's LOGNAME counts (tui.identity); this keeps root's login the same one.
    monkeypatch.setenv("LOGNAME", os_login)
    monkeypatch.setenv("USER", os_login)
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, os_login, Role.ADMIN, clock.now())
        add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        add_patient(
            session,
            "AC-0001",
            procedure_at=clock.now() - timedelta(days=3),
            created_at=clock.now(),
        )
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a group, so `import` is a subcommand as in the real CLI
    register(app)
    return app


def run_import(app: typer.Typer, path: Path) -> Result:
    return CliRunner().invoke(app, ["import", "patients", str(path)])


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table: what "the database is unchanged" means here."""
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def one_line_refusal(result: Result, *needles: str) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_a_file_with_bad_rows_names_every_bad_line_and_imports_nothing(
    cli: typer.Typer, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "patients.csv"
    rows = [
        HEADER,
        line("AC-0101"),  # 2 good
        line("AC-0102", home_country="XX"),  # 3
        line(
            "AC-0103", given_name="Ren", channel="whatsapp", channel_handle="whatsapp:+819012345678"
        ),  # 4 good
        line("AC-0104", timezone="Asia/Toky0", phone="+81 12"),  # 5, two problems
        line("AC-0001"),  # 6: already in the database
        line("AC-0101", family_name="Sato"),  # 7: repeats line 2
        line("AC-0107", procedure_at="yesterday", schedule="standard;weekly"),  # 8
        line("AC-0108", protocol="botox", email="not-an-address"),  # 9
        line("AC-0109"),  # 10 good
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = row_counts(engine)

    result = run_import(cli, path)

    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    reported = [text for text in lines if text.startswith("line ")]
    assert [text.split(":")[0:2] for text in reported] == [
        ["line 3", " home_country"],
        ["line 5", " timezone"],
        ["line 5", " phone"],
        ["line 6", " code"],
        ["line 7", " code"],
        ["line 8", " procedure_at"],
        ["line 8", " schedule"],
        ["line 9", " email"],
        ["line 9", " protocol"],
    ]
    assert "line 6: code: 'AC-0001' is already in the database" in reported
    assert "line 7: code: 'AC-0101' is also on line 2" in reported
    assert lines[-1] == (f"aftercare: {path}: 9 problems on 6 of 9 rows; nothing imported")
    assert result.stdout == ""
    assert row_counts(engine) == before


def test_a_server_zone_a_mismatched_handle_and_an_old_procedure_are_refused(
    cli: typer.Typer, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "patients.csv"
    long_ago = (PROCEDURE - timedelta(days=400)).strftime("%Y-%m-%d 10:30")
    rows = [
        HEADER,
        line("AC-0151", timezone="localtime"),  # 2
        line("AC-0152", channel="sms"),  # 3: a LINE handle on SMS
        line("AC-0153", procedure_at=long_ago),  # 4
        line("AC-0154"),  # 5 good
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = row_counts(engine)

    result = run_import(cli, path)

    assert result.exit_code == 1
    reported = result.stderr.strip().splitlines()
    assert [text.split(":")[0:2] for text in reported[:-1]] == [
        ["line 2", " timezone"],
        ["line 3", " channel_handle"],
        ["line 4", " procedure_at"],
    ]
    assert "'line:ac-0152' is not a phone number" in reported[1]
    assert "more than 366 days ago" in reported[2]
    assert reported[-1] == f"aftercare: {path}: 3 problems on 3 of 4 rows; nothing imported"
    assert row_counts(engine) == before


def test_a_good_file_imports_every_patient_in_one_audited_transaction(
    cli: typer.Typer, engine: Engine, tmp_path: Path, os_login: str
) -> None:
    path = tmp_path / "patients.csv"
    rows = [
        HEADER,
        line("AC-0201"),
        # Exosome protocols get the granuloma watch on top of what the file names.
        line("AC-0202", protocol="exosome_iv", schedule="standard;extended", phone=""),
        line(
            "AC-0203",
            family_name='"Müller-Lüdenscheidt, Dr."',
            given_name="Anna",
            home_country="de",
            current_country="",
            language="de",
            timezone="Europe/Berlin",
            channel="email",
            channel_handle="anna@example.org",
            phone="030 1234567",
            email="anna@example.org",
        ),
    ]
    path.write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode())  # Excel's CSV UTF-8
    before = row_counts(engine)

    result = run_import(cli, path)

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(f"imported 3 patients from {path} (3 episodes, ")
    after = row_counts(engine)
    assert after["patient"] == before["patient"] + 3
    assert after["treatment_episode"] == before["treatment_episode"] + 3
    with make_session_factory(engine)() as session:
        patients = {
            p.code: p for p in session.scalars(select(Patient).where(Patient.code >= "AC-02"))
        }
        assert sorted(patients) == ["AC-0201", "AC-0202", "AC-0203"]
        anna = patients["AC-0203"]
        assert anna.family_name == "Müller-Lüdenscheidt, Dr."
        assert (anna.home_country, anna.current_country) == ("DE", "DE")
        assert anna.phone == "+49301234567"
        assert anna.is_demo is False
        assert patients["AC-0202"].phone is None
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patients["AC-0202"].id)
        ).one()
        assert episode.schedule_templates == ["standard", "extended", "granuloma-watch"]
        assert (
            episode.procedure_at.astimezone(ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%d %H:%M")
            == PROCEDURE_TEXT
        )
        touchpoints = session.scalar(
            select(func.count())
            .select_from(Touchpoint)
            .where(Touchpoint.patient_id.in_([p.id for p in patients.values()]))
        )
        assert f"{touchpoints} touchpoints)" in result.stdout
        # The queue's cache of the next touchpoint is filled in, as for a hand-made episode.
        assert all(p.next_touchpoint_id is not None for p in patients.values())
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.actor == os_login).order_by(AuditEvent.id)
        ).all()
        actions = [e.action for e in events]
        assert actions.count("patient.create") == 3
        assert actions.count("episode.create") == 3
        assert actions[-1] == "patient.import"
        assert events[-1].after is not None and events[-1].after["patients"] == 3
        assert verify_chain(session).ok


def test_a_coordinator_may_not_import(
    cli: typer.Typer, engine: Engine, tmp_path: Path, os_login: str
) -> None:
    path = tmp_path / "patients.csv"
    path.write_text(f"{HEADER}\n{line('AC-0301')}\n", encoding="utf-8")
    from db.models import Staff

    with transaction(make_session_factory(engine)) as session:  # the same login, a coordinator now
        session.scalars(
            select(Staff).where(Staff.username == os_login)
        ).one().role = Role.COORDINATOR
    before = row_counts(engine)
    one_line_refusal(run_import(cli, path), "may not import patients", "admin")
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (f"{HEADER}\n{line('AC-0401')}\n".encode("utf-16"), "is not UTF-8"),
        (
            (HEADER.replace(",birth_date", "") + "\n").encode(),
            "line 1: header has missing column birth_date",
        ),
        ((HEADER + ",ward\n" + line("AC-0402") + ",3\n").encode(), "unknown column ward"),
        (f"{HEADER}\n".encode(), "no patients after the header"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_clear_line(
    cli: typer.Typer, engine: Engine, tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "patients.csv"
    path.write_bytes(content)
    before = row_counts(engine)
    one_line_refusal(run_import(cli, path), str(path), words)
    assert row_counts(engine) == before


def test_a_missing_file_is_one_clear_line(cli: typer.Typer, tmp_path: Path) -> None:
    one_line_refusal(
        run_import(cli, tmp_path / "nope.csv"), "cannot read", "No such file or directory"
    )


# --- the record of care and the products file, through the real `aftercare` process --

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def _example_rows(name: str) -> list[dict[str, str]]:
    with (EXAMPLES / name).open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=header or list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _examples(
    folder: Path,
    patients: Mapping[int, Mapping[str, str]] = {},
    products: Mapping[int, Mapping[str, str]] = {},
) -> tuple[Path, Path]:
    """The documented example files, their procedures a week ago, each row's
    `changes` (by file line) on top."""
    day = PROCEDURE.date()
    people = [
        {**row, "procedure_at": PROCEDURE_TEXT}
        | ({"departure_date": str(day + timedelta(days=2))} if row["departure_date"] else {})
        | dict(patients.get(line, {}))
        for line, row in enumerate(_example_rows("patients.csv"), start=2)
    ]
    given = [
        {**row} | dict(products.get(line, {}))
        for line, row in enumerate(_example_rows("products.csv"), start=2)
    ]
    return _write_csv(folder / "patients.csv", people), _write_csv(folder / "products.csv", given)


@pytest.fixture
def env(
    cli: typer.Typer,
    cli_env: dict[str, str],
    db_url: str,
    engine: Engine,
    clock: FixedClock,
    os_login: str,
) -> dict[str, str]:
    """The real command on the test database, run by the admin of `cli`; dr.lee is
    an active physician, dr.gone one who has left."""
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, "dr.lee", Role.PHYSICIAN, clock.now())
        add_staff(session, "dr.gone", Role.PHYSICIAN, clock.now()).active = False
    return {**cli_env, "AFTERCARE_DATABASE_URL": db_url, "LOGNAME": os_login, "USER": os_login}


def _problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What stderr says is wrong, warnings aside, the closing line too."""
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]


def test_the_examples_import_with_their_record_of_care_products_and_add_ons(
    env: dict[str, str], engine: Engine, tmp_path: Path, os_login: str
) -> None:
    patients, products = _examples(tmp_path)

    result = run_cli("import", "patients", str(patients), "--products", str(products), env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"imported 3 patients from {patients} (3 episodes, ")
    warnings = result.stderr.splitlines()
    assert warnings and all(line.startswith(f"warning: {products}: ") for line in warnings)
    assert f"warning: {products}: line 6: expiry_date: expired 2026-10-31" in warnings[-1]
    with make_session_factory(engine)() as session:
        episodes = {
            code: episode
            for code, episode in session.execute(
                select(Patient.code, TreatmentEpisode).join(
                    TreatmentEpisode, TreatmentEpisode.patient_id == Patient.id
                )
            )
        }
        sakura = episodes["JP-0042"]
        lee = session.scalars(select(Staff).where(Staff.username == "dr.lee")).one()
        assert sakura.treating_physician_id == lee.id
        assert (sakura.nurse_name, sakura.nurse_license_ref) == ("Park Ji-yeon", "RN-12345")
        assert (sakura.has_allergies, sakura.allergies) == (True, "penicillin")
        assert (sakura.vasovagal_history, sakura.sensitive_skin) == (False, True)
        assert sakura.addons == [
            {"name": "glutathione", "dose": "1200 mg"},
            {"name": "vitamin C", "dose": "2500 mg"},
        ]
        lots = session.execute(
            select(ProductGiven.lot_number, ProductGiven.expiry_date, ProductGiven.exosome)
            .where(ProductGiven.episode_id == sakura.id)
            .order_by(ProductGiven.id)
        ).all()
        assert [tuple(lot) for lot in lots] == [
            ("A2611-07", date(2027, 5, 31), True),
            ("LC-88", date(2027, 1, 31), False),
        ]
        # The exosome product brings the granuloma watch, 1,200 mg of glutathione the
        # liver panel: the rules of a hand-recorded episode.
        assert sakura.schedule_templates == ["standard", "granuloma-watch"]
        templates = set(
            session.scalars(select(Touchpoint.template).where(Touchpoint.episode_id == sakura.id))
        )
        assert {"standard", "granuloma-watch", "liver-panel"} <= templates
        anna = episodes["US-0107"]
        assert (anna.has_allergies, anna.addons, anna.addons_recorded) == (False, [], True)
        li = episodes["CN-0203"]
        assert (li.has_allergies, li.products_recorded, li.addons_recorded) == (None, None, None)
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.actor == os_login)
                .order_by(AuditEvent.id)
            )
        )
        assert actions.count("episode.create") == 3
        assert actions.count("episode.warnings") == 1  # the expired lot, as a form confirms it
        assert actions[-1] == "patient.import"


OLD_PROCEDURE = (PROCEDURE - timedelta(days=400)).strftime("%Y-%m-%d 10:30")


@pytest.mark.parametrize(
    ("patients", "products", "where", "words"),
    [
        (
            {3: {"treating_physician": "dr.gone"}},
            {},
            "line 3: treating_physician",
            "'dr.gone' is not an active physician; physicians: dr.lee",
        ),
        (
            {4: {"procedure_at": OLD_PROCEDURE}},
            {},
            "line 4: procedure_at",
            f"'{OLD_PROCEDURE}' is more than 366 days ago; follow-up windows last months",
        ),
        (
            {},
            {2: {"lot_number": "A2611 07"}},
            "PRODUCTS: line 2: lot_number",
            "'A2611 07' is not a lot number as printed on a label",
        ),
        (
            {},
            {3: {"expiry_date": "2027-13"}},
            "PRODUCTS: line 3: expiry_date",
            "'2027-13' has no month 13",
        ),
        (
            {},
            {4: {"dose_mg": "lots"}},
            "PRODUCTS: line 4: dose_mg",
            "'lots' is not a number of mg (e.g. 1200)",
        ),
        ({}, {5: {"kind": "drug"}}, "PRODUCTS: line 5: kind", "'drug' is not product or addon"),
        ({}, {6: {"code": "KR-0999"}}, "PRODUCTS: line 6: code", "'KR-0999' is not in PATIENTS"),
    ],
    ids=["inactive-physician", "procedure-400-days", "lot", "expiry", "dose", "kind", "code"],
)
def test_each_bad_value_is_named_with_its_line_and_column_and_nothing_is_imported(
    env: dict[str, str],
    engine: Engine,
    tmp_path: Path,
    patients: dict[int, dict[str, str]],
    products: dict[int, dict[str, str]],
    where: str,
    words: str,
) -> None:
    patient_file, product_file = _examples(tmp_path, patients, products)
    before = row_counts(engine)

    result = run_cli(
        "import", "patients", str(patient_file), "--products", str(product_file), env=env
    )

    assert result.returncode == 1
    (problem, closing) = _problems(result)
    named = {"PRODUCTS": str(product_file), "PATIENTS": str(patient_file)}
    for placeholder, path in named.items():
        where, words = where.replace(placeholder, path), words.replace(placeholder, path)
    assert problem.startswith(f"{where}: {words}"), problem
    bad, rows = (product_file, 5) if products else (patient_file, 3)
    assert closing == f"aftercare: {bad}: 1 problem on 1 of {rows} rows; nothing imported"
    assert result.stdout == ""
    assert row_counts(engine) == before


def test_an_unknown_column_in_the_products_file_is_one_clear_line_and_nothing_is_imported(
    env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    patients, products = _examples(tmp_path)
    rows = _example_rows("products.csv")
    _write_csv(products, [{**row, "colour": "red"} for row in rows])
    before = row_counts(engine)

    result = run_cli("import", "patients", str(patients), "--products", str(products), env=env)

    assert_one_clear_line(
        result, f"aftercare: {products}: line 1: header has unknown column colour (expected: "
    )
    assert row_counts(engine) == before


def test_the_help_names_the_products_file_and_the_documentation(cli_env: dict[str, str]) -> None:
    result = run_cli("import", "patients", "--help", env=cli_env)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for words in ("--products", "treating_physician", "'none'", "docs/import.md", "warning"):
        assert words in text


def test_export_import_export_through_the_commands_gives_the_same_files(
    env: dict[str, str],
    engine: Engine,
    request: pytest.FixtureRequest,
    clock: FixedClock,
    tmp_path: Path,
    os_login: str,
) -> None:
    second_url = request.getfixturevalue("empty_url")  # a second, empty database
    patients, products = _examples(tmp_path)
    assert (
        run_cli(
            "import", "patients", str(patients), "--products", str(products), env=env
        ).returncode
        == 0
    )
    with transaction(make_session_factory(engine)) as session:
        # The test's own patient stays behind, as demo data does.
        session.scalars(select(Patient).where(Patient.code == "AC-0001")).one().is_demo = True
    _set_role(engine, os_login, Role.COORDINATOR)
    first = [tmp_path / "first.csv", tmp_path / "first-products.csv"]
    exported = run_cli(
        "export", "patients", "--csv", str(first[0]), "--products", str(first[1]), env=env
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == (
        f"wrote {first[0]} (3 patients) and {first[1]} (5 products and add-ons)\n"
    )

    second = make_engine(second_url)
    try:
        with transaction(make_session_factory(second)) as session:
            add_staff(session, os_login, Role.ADMIN, clock.now())
            add_staff(session, "dr.lee", Role.PHYSICIAN, clock.now())
        there = {**env, "AFTERCARE_DATABASE_URL": second_url}
        imported = run_cli(
            "import", "patients", str(first[0]), "--products", str(first[1]), env=there
        )
        assert imported.returncode == 0, imported.stderr
        _set_role(second, os_login, Role.COORDINATOR)
        again = [tmp_path / "again.csv", tmp_path / "again-products.csv"]
        assert (
            run_cli(
                "export", "patients", "--csv", str(again[0]), "--products", str(again[1]), env=there
            ).returncode
            == 0
        )
    finally:
        second.dispose()

    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in first]
    # A patient file alone says how many product rows it left out.
    alone = run_cli("export", "patients", "--csv", str(tmp_path / "alone.csv"), env=env)
    assert alone.returncode == 0
    assert (
        alone.stderr
        == "warning: 5 product and add-on rows left out; give --products FILE to write them\n"
    )
    assert (tmp_path / "alone.csv").read_bytes() == first[0].read_bytes()


def _set_role(engine: Engine, login: str, role: Role) -> None:
    with transaction(make_session_factory(engine)) as session:
        session.scalars(select(Staff).where(Staff.username == login)).one().role = role
