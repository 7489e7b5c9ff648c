"""Who may open the workstation and as whom, and the `aftercare staff` commands,
on SQLite and PostgreSQL.

`aftercare run` is started for real; a refusal happens before the TUI, so no
terminal is needed. The OS login is the account the tests run as (the `os_login`
fixture): tests make that login the staff member they need, so they pass alike
as root and as an ordinary user (only root's LOGNAME may name a login).
The staff commands run in-process through their own `register` on a bare
Typer app, with the real database and the real identity rules.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from datetime import timedelta

import pytest
import typer
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from core.clock import FixedClock
from core.config import Settings
from core.domain import Role
from db.database import Database
from db.engine import make_session_factory, sqlite_path, transaction
from db.models import AuditEvent, Staff
from db.services import Clinic
from db.staff import active_admins
from tests.factories import add_patient, add_staff
from tests.tui.test_cli import assert_one_clear_line, run_cli
from tui import identity
from tui.cli.staff import register
from tui.identity import SignInRefused, sign_in


@pytest.fixture
def env(db_url: str, engine: Engine, cli_env: dict[str, str]) -> dict[str, str]:
    """The CLI on the test database (at head)."""
    cli_env["AFTERCARE_DATABASE_URL"] = db_url
    return cli_env


def _staff(engine: Engine, clock: FixedClock, *people: tuple[str, Role]) -> None:
    with transaction(make_session_factory(engine)) as session:
        for login, role in people:
            add_staff(session, login, role, clock.now())


def _as(env: dict[str, str], login: str) -> dict[str, str]:
    return {**env, "LOGNAME": login, "USER": login}


def _rename(engine: Engine, login: str, new: str) -> None:
    """Change a staff member's login (to make the OS login a stranger for a moment)."""
    with transaction(make_session_factory(engine)) as session:
        session.scalars(select(Staff).where(Staff.username == login)).one().username = new


def _audit(engine: Engine) -> list[tuple[str, str, object]]:
    with make_session_factory(engine)() as session:
        return [
            (e.actor, e.action, e.after)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


# --- aftercare run ----------------------------------------------------------


def test_an_unknown_login_is_refused(engine: Engine, env: dict[str, str], os_login: str) -> None:
    result = run_cli("run", env=_as(env, os_login))
    assert_one_clear_line(
        result,
        f"login '{os_login}' is not on the clinic's staff list",
        f"aftercare staff add {os_login}",
    )
    assert result.returncode == 1


def test_a_disabled_login_is_refused(
    engine: Engine, env: dict[str, str], clock: FixedClock, os_login: str
) -> None:
    _staff(engine, clock, (os_login, Role.COORDINATOR))
    with transaction(make_session_factory(engine)) as session:
        session.scalars(select(Staff)).one().active = False
    result = run_cli("run", env=_as(env, os_login))
    assert_one_clear_line(result, f"login '{os_login}' is disabled")
    assert result.returncode == 1


def test_as_is_refused_for_a_colleagues_login(
    engine: Engine, env: dict[str, str], clock: FixedClock, os_login: str
) -> None:
    _staff(engine, clock, (os_login, Role.COORDINATOR), ("dr.lee", Role.PHYSICIAN))
    result = run_cli("run", "--as", "dr.lee", env=_as(env, os_login))
    assert_one_clear_line(
        result, "--as dr.lee refused", "nobody may work as another", f"'{os_login}'"
    )
    assert result.returncode == 1
    assert _audit(engine) == []


def test_demo_staff_are_not_for_everyone_on_real_data(
    engine: Engine, env: dict[str, str], clock: FixedClock, os_login: str
) -> None:
    _staff(engine, clock, (os_login, Role.COORDINATOR), ("demo-dr-kim", Role.PHYSICIAN))
    with transaction(make_session_factory(engine)) as session:
        add_patient(session, "K-1", procedure_at=clock.now(), created_at=clock.now())
    result = run_cli("run", "--as", "demo-dr-kim", env=_as(env, os_login))
    assert_one_clear_line(result, "--as demo-dr-kim refused")


# --- sign_in, as `run`, `ack` and `export` use it -------------------------------


@pytest.fixture
def database(engine: Engine) -> Iterator[Database]:
    yield Database(engine, make_session_factory(engine))


def test_not_even_an_admin_may_work_as_a_colleague(
    engine: Engine,
    database: Database,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    os_login: str,
) -> None:
    # Working as dr.lee would let an admin acknowledge pages and export records,
    # which their own role withholds.
    _staff(engine, clock, (os_login, Role.ADMIN), ("dr.lee", Role.PHYSICIAN))
    monkeypatch.setenv("LOGNAME", os_login)
    with pytest.raises(SignInRefused, match=r"--as dr\.lee refused"):
        sign_in(Clinic(database, Settings(), clock), "dr.lee", flag="--as")
    assert _audit(engine) == []
    assert sign_in(Clinic(database, Settings(), clock), None, flag="--as").role is Role.ADMIN


def test_anyone_may_be_demo_staff_on_a_demo_database(
    engine: Engine,
    database: Database,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    os_login: str,
) -> None:
    _staff(engine, clock, ("demo-rn-park", Role.COORDINATOR))
    monkeypatch.setenv("LOGNAME", os_login)  # someone not on the staff list
    actor = sign_in(Clinic(database, Settings(), clock), "demo-rn-park", flag="--as")
    assert (actor.username, actor.role) == ("demo-rn-park", Role.COORDINATOR)
    with pytest.raises(SignInRefused, match="not on the clinic's staff list"):
        sign_in(Clinic(database, Settings(), clock), None, flag="--as")


# --- aftercare staff ----------------------------------------------------------------


@pytest.fixture
def staff_cli(
    db_url: str, engine: Engine, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> typer.Typer:
    for key in list(os.environ):
        if key.startswith("AFTERCARE_"):
            monkeypatch.delenv(key)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(key, cli_env[key])
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", db_url)
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a group, so `staff` is a subcommand as in the real CLI
    register(app)
    return app


def _staff_cli(app: typer.Typer, login: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.setenv("LOGNAME", login)
    monkeypatch.setenv("USER", login)
    return CliRunner().invoke(app, ["staff", *args])


def _refused(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_an_admin_adds_lists_disables_and_changes_roles(
    staff_cli: typer.Typer,
    engine: Engine,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    os_login: str,
) -> None:
    boss = os_login  # the admin at the keyboard
    _staff(engine, clock, (boss, Role.ADMIN))

    def run(*args: str) -> Result:
        return _staff_cli(staff_cli, boss, *args, monkeypatch=monkeypatch)

    added = run(
        "add",
        "rn.choi",
        "--name",
        "Choi Eun-ji RN",
        "--role",
        "coordinator",
        "--email",
        "choi@example.com",
        "--phone",
        "+82 10 1234 5678",
        "--tag",
        "rn-choi",
        "--license",
        "KR-RN-1",
    )
    assert added.exit_code == 0, added.stderr
    assert added.stdout == "added rn.choi (Choi Eun-ji RN): coordinator, active\n"
    assert run("role", "rn.choi", "physician").stdout.startswith("rn.choi is now physician")
    assert run("disable", "rn.choi").stdout.startswith("disabled rn.choi")
    listed = run("list")
    assert listed.exit_code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["login", "name", "role", "active", "tag"]
    listed_rows = {  # in login order
        boss: [boss, boss.title(), "admin", "yes"],
        "rn.choi": ["rn.choi", "Choi", "Eun-ji", "RN", "physician", "no", "rn-choi"],
    }
    assert [line.split() for line in lines[1:]] == [listed_rows[k] for k in sorted(listed_rows)]
    assert "example.com" not in listed.stdout and "+82" not in listed.stdout
    assert run("enable", "rn.choi").stdout.startswith("enabled rn.choi")
    assert [(actor, action) for actor, action, _ in _audit(engine)] == [
        (boss, "staff.add"),
        (boss, "staff.role"),
        (boss, "staff.disable"),
        (boss, "staff.enable"),
    ]
    _refused(run("disable", boss), f"{boss} is the last active admin")
    _refused(run("role", "nobody", "admin"), "no staff member with login 'nobody'")
    _refused(run("add", "rn.choi", "--name", "Again", "--role", "coordinator"), "already on")


def test_staff_commands_refuse_everyone_else(
    staff_cli: typer.Typer,
    engine: Engine,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    os_login: str,
) -> None:
    nurse = os_login  # a coordinator at the keyboard
    _staff(engine, clock, ("it.boss", Role.ADMIN), (nurse, Role.COORDINATOR))
    _refused(
        _staff_cli(
            staff_cli, nurse, "add", "x", "--name", "X", "--role", "admin", monkeypatch=monkeypatch
        ),
        "A coordinator may not manage staff",
        "that needs an admin.",
    )
    _refused(
        _staff_cli(staff_cli, nurse, "role", nurse, "admin", monkeypatch=monkeypatch),
        "A coordinator may not manage staff",
    )
    _refused(
        _staff_cli(staff_cli, nurse, "disable", "it.boss", monkeypatch=monkeypatch),
        "A coordinator may not manage staff",
    )
    # Any active staff member may list; strangers may not.
    assert _staff_cli(staff_cli, nurse, "list", monkeypatch=monkeypatch).exit_code == 0
    _rename(engine, nurse, "rn.away")  # now the login at the keyboard is a stranger
    _refused(
        _staff_cli(staff_cli, nurse, "list", monkeypatch=monkeypatch),
        f"'{nurse}' is not on the clinic's staff list",
    )
    _rename(engine, "rn.away", nurse)
    # No --as here: an admin's power is not lent by a flag.
    borrowed = _staff_cli(
        staff_cli, nurse, "disable", "it.boss", "--as", "it.boss", monkeypatch=monkeypatch
    )
    assert borrowed.exit_code == 2
    with make_session_factory(engine)() as session:
        assert all(s.active for s in session.scalars(select(Staff)))
        assert [s.role for s in session.scalars(select(Staff).order_by(Staff.id))] == [
            Role.ADMIN,
            Role.COORDINATOR,
        ]
    assert _audit(engine) == []


def test_the_first_admin_of_an_empty_list(
    staff_cli: typer.Typer,
    engine: Engine,
    db_url: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    os_login: str,
) -> None:
    # Whoever may name the first admin (root, or the owner of the SQLite file) is
    # the login at the keyboard here; once an admin exists, that login is nobody special.
    from sqlalchemy.engine import make_url

    path = sqlite_path(make_url(db_url))
    owner = path.stat().st_uid if path is not None else None
    may = os.geteuid() == 0 or owner == os.geteuid()
    _refused(
        _staff_cli(
            staff_cli,
            os_login,
            "add",
            "rn.kim",
            "--name",
            "K",
            "--role",
            "coordinator",
            monkeypatch=monkeypatch,
        ),
        "no active admin yet" if may else "no active admin yet: the first admin is added by root",
    )
    first = _staff_cli(
        staff_cli,
        os_login,
        "add",
        "it.boss",
        "--name",
        "IT Boss",
        "--role",
        "admin",
        monkeypatch=monkeypatch,
    )
    if not may:  # PostgreSQL, not run as root: nobody here may name the first admin
        _refused(first, "the first admin is added by root")
        return
    assert first.exit_code == 0, first.stderr
    assert first.stdout == "added first admin it.boss (IT Boss): admin, active\n"
    assert [(a, action) for a, action, _ in _audit(engine)] == [(os_login, "staff.first_admin")]
    # From now on the admin adds staff; root is nobody special.
    clock.advance(timedelta(minutes=1))
    _refused(
        _staff_cli(
            staff_cli,
            os_login,
            "add",
            "it.two",
            "--name",
            "Two",
            "--role",
            "admin",
            monkeypatch=monkeypatch,
        ),
        f"login '{os_login}' is not on the clinic's staff list",
    )


def test_a_non_root_user_cannot_claim_another_login_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # LOGNAME and USER are anyone's to set; the account the process runs as is not.
    # (The suite runs as root, whose uid cannot be dropped here: the interpreter
    # lives under /root. So the uid the OS reports is stood in for.)
    monkeypatch.setenv("LOGNAME", "dr.lee")
    monkeypatch.setenv("USER", "dr.lee")
    monkeypatch.setattr(os, "geteuid", lambda: 65534)
    assert identity.os_login() == pwd.getpwuid(65534).pw_name
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert identity.os_login() == "dr.lee"  # root may name a login; it can write the file anyway
    monkeypatch.setattr(os, "geteuid", lambda: 4242424)
    with pytest.raises(SignInRefused, match="uid 4242424 has no account"):
        identity.os_login()


def test_demo_admins_do_not_count_as_the_clinics_admins(engine: Engine, clock: FixedClock) -> None:
    _staff(engine, clock, ("demo-admin", Role.ADMIN))
    with make_session_factory(engine)() as session:
        assert active_admins(session) == 0
    _staff(engine, clock, ("it.boss", Role.ADMIN))
    with make_session_factory(engine)() as session:
        assert active_admins(session) == 1
