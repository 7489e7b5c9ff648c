"""`aftercare audit verify` as an admin meets it: the real console script on a real database.

Exit status 0 means intact, 1 broken (the first bad event named on stdout),
2 could not check (one line on stderr, no traceback).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from db.audit import record
from db.engine import make_engine, make_session_factory, transaction
from db.models import AuditEvent
from tests.tui.test_cli import run_cli


@pytest.fixture
def database_url(tmp_path: Path, cli_env: dict[str, str]) -> str:
    """A SQLite database made by `aftercare init`, holding five audit events."""
    url = f"sqlite:///{tmp_path / 'aftercare.db'}"
    cli_env["AFTERCARE_DATABASE_URL"] = url
    init = run_cli("init", env=cli_env)
    assert init.returncode == 0, init.stderr
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            for n in range(5):
                record(
                    session,
                    at=datetime(2026, 11, 22, 6, n, tzinfo=UTC) + timedelta(microseconds=n),
                    actor="rn.kim",
                    action="patient.update",
                    entity="patient",
                    entity_id=n + 1,
                    after={"phone": f"+1-555-010{n}"},
                )
    finally:
        engine.dispose()
    return url


def test_intact_chain_exits_0(database_url: str, cli_env: dict[str, str]) -> None:
    result = run_cli("audit", "verify", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "audit chain intact: 5 events"
    assert result.stderr == ""


def test_edited_event_exits_1_and_is_named(database_url: str, cli_env: dict[str, str]) -> None:
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            session.execute(
                update(AuditEvent).where(AuditEvent.id == 3).values(after={"phone": "changed"})
            )
    finally:
        engine.dispose()
    result = run_cli("audit", "verify", env=cli_env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == (
        "audit chain broken: audit event 3 was edited (its hash does not match it) "
        "(3 events checked)"
    )


def test_missing_database_exits_2_with_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = tmp_path / "typo.db"
    cli_env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{path}"
    result = run_cli("audit", "verify", env=cli_env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no database at" in lines[0], result.stderr
    assert result.stdout == ""
    assert not path.exists()


def test_help_documents_exit_statuses(cli_env: dict[str, str]) -> None:
    result = run_cli("audit", "verify", "--help", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "0 intact, 1 chain broken, 2 could not check" in " ".join(result.stdout.split())
