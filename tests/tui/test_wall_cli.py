"""Issue 18 on the command line: no advice that destroys, and one line instead of a
traceback for each failure listed there (items 3, 6 and 7).

Real `aftercare` processes where a traceback or the file system is the point; typer's
runner in process (on SQLite and PostgreSQL) for the huge ids. A "full disk" is the
file-size limit of the child process (RLIMIT_FSIZE, which any user may lower): SQLite's
writes past it fail as they would on a full disk, and nothing else on the machine is
touched. A file "owned by someone else" needs a second account, so that test runs as
root only (CI runs this module as root too: it mentions geteuid).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from core.clock import FixedClock
from core.config import Settings
from core.domain import Role
from db.database import open_database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, Escalation, OutboxNotification, Staff
from db.services import Clinic
from tests.factories import add_staff, add_triaged_patient, at_the_keyboard
from tests.tui.test_cli import AFTERCARE, assert_one_clear_line, run_cli

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def _counts(clinic: Clinic) -> tuple[int, int, int, int]:
    """Escalations, outbox rows, audit events and staff, read through `clinic`'s database."""
    with clinic.database.sessions() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Escalation, OutboxNotification, AuditEvent, Staff)
        )


def _commit_work(clinic: Clinic, clock: FixedClock, n: int) -> None:
    """What open apps commit: an emergency escalation with its outbox rows and audit
    events, and a staff member added (audited)."""
    with transaction(clinic.database.sessions) as session:
        nurse = add_staff(session, f"rn.{n}", Role.COORDINATOR, clock.now())
        actor = Actor(nurse.id, nurse.username, nurse.display_name, nurse.role)
        add_triaged_patient(
            session, f"JP-{n:04d}", now=clock.now(), actor=actor, findings=EMERGENCY
        )


def test_init_refuses_a_database_moved_while_apps_write_and_nothing_is_lost(
    tmp_path: Path, _sqlite_template: Path, cli_env: dict[str, str], clock: FixedClock
) -> None:
    path = tmp_path / "aftercare.db"
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    cli_env["AFTERCARE_DATABASE_URL"] = url
    app = Clinic(open_database(url), Settings(database_url=url), clock)
    try:
        _commit_work(app, clock, 1)
        moved = tmp_path / "aftercare-moved.db"
        path.rename(moved)  # someone tidies the folder while the apps work
        _commit_work(app, clock, 2)
        committed = _counts(app)
        assert committed[0] == 2 and committed[1] >= 2 and committed[2] >= 4
        for command in ("init", "run"):
            result = run_cli(command, env=cli_env)
            assert_one_clear_line(result, "moved or deleted", f"put the file back at {path}")
            assert "run `aftercare init`" not in result.stderr
        assert not path.exists()  # init created nothing over the apps' files
        moved.rename(path)  # the advice, followed
    finally:
        app.database.close()
    after = Clinic(open_database(url), Settings(database_url=url), clock)
    try:
        assert _counts(after) == committed
    finally:
        after.database.close()


@pytest.mark.parametrize(
    ("args", "url", "stdin", "status", "needle"),
    [
        (("triage", "--json"), "", '{"day": ' + "9" * 5000 + "}", 2, "thousands of digits"),
        (("triage", "--json"), "", "[" * 100_000 + "]" * 100_000, 2, "nested too deeply"),
        (("staff", "list"), "postgresql+asyncpg://rn:secret@localhost/clinic", "", 1, "driver"),
        (("staff", "list"), "postgresql+psycopg://rn:secret@localhost:54x/clinic", "", 1, "***"),
        (
            ("staff", "list"),
            "postgresql+psycopg://rn@127.0.0.1:99999/clinic?password=secret",
            "",
            1,
            "password=***",
        ),
    ],
    ids=["4300-digits", "deep-json", "asyncpg", "bad-port", "query-password"],
)
def test_one_line_instead_of_a_traceback(
    cli_env: dict[str, str], args: tuple[str, ...], url: str, stdin: str, status: int, needle: str
) -> None:
    if url:
        cli_env["AFTERCARE_DATABASE_URL"] = url
    result = subprocess.run(
        [AFTERCARE, *args], env=cli_env, input=stdin, capture_output=True, text=True, timeout=60
    )
    assert_one_clear_line(result, needle)
    assert result.returncode == status
    assert "secret" not in result.stderr
    assert result.stdout == ""


def test_a_config_folder_the_user_cannot_open(tmp_path: Path, cli_env: dict[str, str]) -> None:
    folder = tmp_path / "config"
    (folder / "aftercare").mkdir(parents=True)
    (folder / "aftercare" / "config.toml").write_text('clinic_name = "Clinic"\n')
    cli_env["XDG_CONFIG_HOME"] = str(folder)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        prefix = NOBODY  # root reads everything: ask as nobody, who cannot even look in
    else:
        (folder / "aftercare").chmod(0o000)
    try:
        result = run_cli("staff", "list", env=cli_env, prefix=prefix)
    finally:
        (folder / "aftercare").chmod(0o700)
    assert_one_clear_line(result, "configuration error", "Permission denied")


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder every account may write, as a clinic's shared folder is to its group."""
    if os.geteuid() != 0:
        pytest.skip("needs a file another account owns: CI runs this as root")
    folder = Path(tempfile.mkdtemp(prefix="aftercare-shared-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_init_and_db_copy_by_someone_who_does_not_own_the_file(
    shared_folder: Path, _sqlite_template: Path, cli_env: dict[str, str]
) -> None:
    path = shared_folder / "aftercare.db"
    shutil.copyfile(_sqlite_template, path)
    path.chmod(0o666)  # even writable by them: the owner alone sets its mode and schema
    source = shared_folder / "source.db"
    shutil.copyfile(_sqlite_template, source)
    source.chmod(0o666)
    home = str(shared_folder)
    cli_env.update(AFTERCARE_DATABASE_URL=f"sqlite:///{path}", HOME=home, XDG_CONFIG_HOME=home)
    before = path.read_bytes()
    for args in (
        ("init",),
        ("db", "copy", "--from", f"sqlite:///{source}", "--to", f"sqlite:///{path}"),
    ):
        result = run_cli(*args, env=cli_env, prefix=NOBODY)
        assert_one_clear_line(result, f"database file {path} belongs to root, not to you")
    assert path.read_bytes() == before


@pytest.fixture
def clinic_url(engine: Engine, db_url: str, clock: FixedClock) -> str:
    """A database with a physician, an admin and an open emergency escalation (E-1)."""
    _staff_and_an_alert(engine, clock)
    return db_url


def _staff_and_an_alert(engine: Engine, clock: FixedClock) -> None:
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, "it.admin", Role.ADMIN, clock.now())
        doctor = add_staff(session, "dr.kim", Role.PHYSICIAN, clock.now())
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        actor = Actor(nurse.id, nurse.username, nurse.display_name, nurse.role)
        add_triaged_patient(
            session,
            "JP-0001",
            now=clock.now(),
            actor=actor,
            findings=EMERGENCY,
            treating_id=doctor.id,
        )


@pytest.mark.parametrize(
    ("login", "args"),
    [
        ("dr.kim", ("ack", str(10**30))),
        ("dr.kim", ("export", "summary", str(10**30))),
        ("it.admin", ("oncall", "cancel", str(10**30))),
    ],
    ids=["ack", "export", "oncall-cancel"],
)
def test_huge_ids_are_one_line(
    clinic_url: str, cli_env: dict[str, str], login: str, args: tuple[str, ...]
) -> None:
    from tui.cli import app

    with at_the_keyboard(clinic_url, login) as me:
        env = {**cli_env, "AFTERCARE_DATABASE_URL": clinic_url, "LOGNAME": me, "USER": me}
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "number" in result.stderr or "escalation" in result.stderr, result.stderr


def _full_disk(limit_bytes: int) -> None:
    """In the child: files may not grow past `limit_bytes`, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))


def test_a_full_disk_during_staff_add_and_ack(
    tmp_path: Path, _sqlite_template: Path, cli_env: dict[str, str], clock: FixedClock
) -> None:
    path = tmp_path / "aftercare.db"
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = open_database(url).engine
    try:
        _staff_and_an_alert(engine, clock)
    finally:
        engine.dispose()
    # An app stays open (its -shm is already full size); the WAL starts empty, so the
    # first pages a command writes must grow a file past the limit.
    app = sqlite3.connect(path)
    try:
        app.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cli_env["AFTERCARE_DATABASE_URL"] = url
        for login, args in (
            ("it.admin", ("staff", "add", "rn.lee", "--name", "Lee", "--role", "coordinator")),
            ("dr.kim", ("ack", "E-1")),
        ):
            with at_the_keyboard(url, login) as me:
                app.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                result = subprocess.run(
                    [AFTERCARE, *args],
                    env={**cli_env, "LOGNAME": me, "USER": me},
                    capture_output=True,
                    text=True,
                    timeout=60,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=lambda: _full_disk(8192),
                )
            assert_one_clear_line(result, "the disk is full", "nothing was saved")
        rows = app.execute(
            "SELECT count(*) FROM staff WHERE username = 'rn.lee' UNION ALL "
            "SELECT count(*) FROM escalation WHERE acknowledged_at IS NOT NULL"
        ).fetchall()
        assert rows == [(0,), (0,)]
    finally:
        app.close()
