"""`aftercare export summary|fhir` as a coordinator meets it: the real console script,
a real database on SQLite and PostgreSQL, the audit event each export leaves.

Exit status 0 written, 1 unknown patient or unwritable output, 2 configuration
or database error; every failure is one line on stderr.
"""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.domain import Role, Seriousness
from core.incident_log import CSV_COLUMNS
from core.incidents import report_clock
from core.schedules import CLINIC_TZ
from db.engine import make_session_factory, transaction
from db.models import AuditEvent, Incident
from tests.bundles import resource_type
from tests.db.test_exports import (
    EXOSOME_LOT,
    EXOSOME_MFDS,
    GLUTATHIONE_LOT,
    ExportedPatient,
    add_exported_patient,
)
from tests.factories import add_staff
from tests.tui.test_cli import AFTERCARE, assert_one_clear_line


def _aftercare(
    *args: str, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AFTERCARE, *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def treated(engine: Engine, clock: FixedClock) -> ExportedPatient:
    return add_exported_patient(engine, clock)


@pytest.fixture
def env(
    db_url: str,
    cli_env: dict[str, str],
    treated: ExportedPatient,
    engine: Engine,
    clock: FixedClock,
    os_login: str,
) -> dict[str, str]:
    """The CLI pointed at the test database, run by an OS user who is on staff (a
    coordinator, like rn.kim who triaged the patient)."""
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, os_login, Role.COORDINATOR, clock.now())
    cli_env.update(
        AFTERCARE_DATABASE_URL=db_url,
        AFTERCARE_CLINIC_NAME="Gangnam Skin",
        AFTERCARE_CLINIC_CONTACT="+82 2 555 0100",
        # Only root's LOGNAME counts (tui.identity); this keeps root's login the same one.
        LOGNAME=os_login,
        USER=os_login,
    )
    return cli_env


def _set_role(engine: Engine, login: str, role: Role | None) -> None:
    """Give `login` another role, or (None) take them off the staff list."""
    from db.models import Staff

    with transaction(make_session_factory(engine)) as session:
        staff = session.scalars(select(Staff).where(Staff.username == login)).one()
        if role is None:
            session.delete(staff)
        else:
            staff.role = role


def _audit(engine: Engine) -> list[tuple[str, str, str | None, dict[str, Any] | None]]:
    with make_session_factory(engine)() as session:
        return [
            (e.actor, e.action, e.entity_id, e.after)
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action.like("export.%")).order_by(AuditEvent.id)
            )
        ]


def test_summary_goes_to_stdout_and_is_audited(
    engine: Engine, env: dict[str, str], treated: ExportedPatient, os_login: str
) -> None:
    result = _aftercare("export", "summary", treated.code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for needle in (
        "# Post-treatment follow-up summary for the home physician",
        EXOSOME_MFDS,
        EXOSOME_LOT,
        GLUTATHIONE_LOT,
        f"Triage day 2 by {treated.nurse}: emergency",
        f"Incident #{treated.incident_id} opened",
        "Called Dr Sato in Osaka.",
        "Clinic: Gangnam Skin, Seoul, South Korea",
        "How to reach the clinic: +82 2 555 0100",
    ):
        assert needle in result.stdout, needle
    assert _audit(engine) == [
        (os_login, "export.summary", str(treated.patient_id), {"format": "markdown"})
    ]


def test_pdf_without_output_writes_the_default_file_here(
    engine: Engine, env: dict[str, str], treated: ExportedPatient, tmp_path: Path, os_login: str
) -> None:
    here = tmp_path / "desk"
    here.mkdir()
    result = _aftercare("export", "summary", "--pdf", str(treated.patient_id), env=env, cwd=here)
    assert result.returncode == 0, result.stderr
    written = here / f"{treated.code}-summary.pdf"
    assert result.stdout.strip() == f"wrote {written}"
    reader = PdfReader(io.BytesIO(written.read_bytes()))
    text = " ".join(" ".join(p.extract_text() or "" for p in reader.pages).split())
    for needle in (EXOSOME_LOT, GLUTATHIONE_LOT, EXOSOME_MFDS, f"Triage day 2 by {treated.nurse}"):
        assert needle in text, needle
    assert _audit(engine) == [
        (os_login, "export.summary", str(treated.patient_id), {"format": "pdf"})
    ]


def test_fhir_to_a_file_as_another_staff_member(
    engine: Engine, env: dict[str, str], treated: ExportedPatient, tmp_path: Path, os_login: str
) -> None:
    # An admin may not work as dr.lee (roles would leak); a physician exports as herself.
    # (One OS login plays both parts, so the suite runs alike as root and as anyone.)
    _set_role(engine, os_login, Role.ADMIN)
    target = tmp_path / "bundle.json"
    refused = _aftercare(
        "export", "fhir", treated.code, "-o", str(target), "--as", "dr.lee", env=env
    )
    assert refused.returncode == 1 and not target.exists()
    assert "--as dr.lee refused" in refused.stderr
    _set_role(engine, os_login, Role.PHYSICIAN)
    result = _aftercare("export", "fhir", treated.code, "-o", str(target), env=env)
    assert result.returncode == 0, result.stderr
    bundle = Bundle.model_validate_json(target.read_bytes())
    kinds = sorted({resource_type(e) for e in bundle.entry or []})
    # The triage and its findings are Observations; its lab suggestions, if the rules
    # made any, are ServiceRequests (proposals) beside it; each product a Medication.
    assert [k for k in kinds if k not in {"ServiceRequest", "Condition"}] == [
        "AdverseEvent",
        "CarePlan",
        "Medication",
        "Observation",
        "Patient",
        "Procedure",
    ]
    assert EXOSOME_LOT in target.read_text(encoding="utf-8")
    assert _audit(engine) == [
        (os_login, "export.fhir", str(treated.patient_id), {"format": "fhir-r4-json"})
    ]


def test_someone_not_on_staff_is_refused_and_nothing_leaves(
    engine: Engine, env: dict[str, str], treated: ExportedPatient, os_login: str
) -> None:
    _set_role(engine, os_login, None)  # a visitor at the keyboard: not on the staff list
    result = _aftercare("export", "fhir", treated.code, env=env)
    assert_one_clear_line(result, f"'{os_login}' is not on the clinic's staff list")
    assert result.returncode == 1 and result.stdout == ""
    # Nor may they name someone who is on staff, or no one.
    for login in ("rn.kim", "ghost"):
        claimed = _aftercare("export", "fhir", treated.code, "--as", login, env=env)
        assert claimed.returncode == 1 and claimed.stdout == ""
        assert "Traceback" not in claimed.stderr
    assert _audit(engine) == []


def test_unknown_patient_exits_1_and_discloses_nothing(
    engine: Engine, env: dict[str, str], treated: ExportedPatient, tmp_path: Path
) -> None:
    for args in (("summary", "AC-999999"), ("summary", "--pdf", "999999"), ("fhir", "nobody")):
        result = _aftercare("export", *args, env=env, cwd=tmp_path)
        assert result.returncode == 1, result
        assert_one_clear_line(result, "aftercare: no patient with code or id")
        assert result.stdout == ""
    assert not list(tmp_path.glob("*.pdf"))
    assert _audit(engine) == []


def test_unwritable_output_exits_1_without_an_audit_event(
    engine: Engine, env: dict[str, str], treated: ExportedPatient, tmp_path: Path
) -> None:
    target = tmp_path / "no-such-folder" / "summary.md"
    result = _aftercare("export", "summary", treated.code, "-o", str(target), env=env)
    assert result.returncode == 1
    assert_one_clear_line(result, f"aftercare: cannot write {target}")
    assert _audit(engine) == []


def test_missing_database_exits_2_with_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    cli_env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'typo.db'}"
    result = _aftercare("export", "summary", "AC-000123", env=cli_env)
    assert result.returncode == 2
    assert_one_clear_line(result, "no database at")
    assert result.stdout == ""


def test_bad_configuration_exits_2_with_one_line(cli_env: dict[str, str]) -> None:
    cli_env["AFTERCARE_CLINIC_CONTAKT"] = "typo"
    result = _aftercare("export", "fhir", "AC-000123", env=cli_env)
    assert result.returncode == 2
    assert_one_clear_line(result, "aftercare: configuration error", "AFTERCARE_CLINIC_CONTAKT")


def test_help_says_where_the_pdf_goes_and_what_the_exit_statuses_mean(
    cli_env: dict[str, str],
) -> None:
    result = _aftercare("export", "summary", "--help", env=cli_env)
    assert result.returncode == 0, result.stderr
    words = " ".join(result.stdout.split())
    assert "--pdf writes <patient code>-summary.pdf in the current directory" in words
    assert "0 written, 1 unknown patient or output not writable, 2 configuration" in words


def test_incidents_csv_to_stdout_and_to_a_file_with_filters(
    engine: Engine, env: dict[str, str], treated: ExportedPatient, tmp_path: Path, os_login: str
) -> None:
    result = _aftercare("export", "incidents", "--csv", env=env)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["incident"] for row in rows] == [str(treated.incident_id)]
    assert rows[0]["patient_code"] == treated.code
    assert EXOSOME_LOT in rows[0]["suspect_product"]
    # The CLI reads the real clock while the incident was learned on the test's day,
    # so the expected words come from the same rule at today's date in Seoul.
    with transaction(make_session_factory(engine)) as session:
        incident = session.get(Incident, treated.incident_id)
        assert incident is not None
        due, reported = incident.report_due_on, incident.reported_on
    today = datetime.now(CLINIC_TZ).date()
    assert rows[0]["report_clock"] == report_clock(due, reported, today).label

    out = tmp_path / "log.csv"
    result = _aftercare(
        "export", "incidents", "--csv", "--status", "closed", "-o", str(out), env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {out} (0 incidents)"
    assert out.read_text(encoding="utf-8").splitlines() == [",".join(CSV_COLUMNS)]
    audited = [entry for entry in _audit(engine) if entry[1] == "export.incidents_csv"]
    assert [(actor, after["rows"] if after else None) for actor, _, _, after in audited] == [
        (os_login, 1),
        (os_login, 0),
    ]


def test_incidents_without_csv_or_with_a_bad_category_is_refused(env: dict[str, str]) -> None:
    result = _aftercare("export", "incidents", env=env)
    assert result.returncode == 1
    assert_one_clear_line(result, "--csv")
    result = _aftercare("export", "incidents", "--csv", "--category", "rash", env=env)
    assert result.returncode == 2
    assert "'rash' is not one of" in result.stderr


def test_an_unassessed_incident_is_not_yet_assessed_in_the_summary_and_the_csv(
    engine: Engine, env: dict[str, str], treated: ExportedPatient
) -> None:
    with transaction(make_session_factory(engine)) as session:
        incident = session.get(Incident, treated.incident_id)
        assert incident is not None
        incident.seriousness = Seriousness.NOT_ASSESSED
    summary = _aftercare("export", "summary", treated.code, env=env)
    assert summary.returncode == 0, summary.stderr
    log = _aftercare("export", "incidents", "--csv", env=env)
    assert log.returncode == 0, log.stderr
    (row,) = list(csv.DictReader(io.StringIO(log.stdout)))
    assert row["seriousness"] == "not yet assessed"
    for text in (summary.stdout, log.stdout):
        assert "not yet assessed" in text
        for wrong in ("non-serious", "Non-serious", "non_serious", "not_assessed"):
            assert wrong not in text, wrong
