"""`aftercare import patients FILE.csv` on SQLite and PostgreSQL.

The command runs in-process through its own `register` on a bare Typer app,
with the real configuration loader, database and identity rules. The OS
login is the account the tests run as (the `os_login` fixture).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
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
from db.engine import make_session_factory, transaction
from db.models import AuditEvent, Base, Patient, Touchpoint, TreatmentEpisode
from tests.exported import patient_csv_line
from tests.factories import add_patient, add_staff
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
