"""`aftercare oncall` as an admin meets it, on SQLite and PostgreSQL.

The acting person is the operating-system login: the account the tests run as
stands in for the staff member a step names (tests.factories.at_the_keyboard). Times typed
without an offset are clinic time (Asia/Seoul). Every refusal is one line on
stderr with exit status 1, and writes nothing. Most cases run the command in
process (typer's runner, like tests/tui/test_db_copy_cli.py) to stay fast; one
runs real processes, where a traceback would show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from core.domain import Role
from db.engine import make_session_factory, transaction
from db.models import OnCallShift
from tests.factories import add_staff, at_the_keyboard
from tests.tui.test_cli import assert_one_clear_line
from tui.cli.oncall import register

SEOUL = ZoneInfo("Asia/Seoul")

# The real `aftercare` command line, with the oncall group added if tui/cli.py does
# not register it yet, so the process test holds both before and after it is wired in.
ENTRY = (
    "from tui.cli import app\n"
    "from tui.cli.oncall import register\n"
    "if 'oncall' not in {group.name for group in app.registered_groups}:\n"
    "    register(app)\n"
    "app(prog_name='aftercare')\n"
)


@dataclass(frozen=True)
class Ran:
    """What one command did: exit status and the two streams."""

    returncode: int
    stdout: str
    stderr: str


def _cli() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """aftercare"""

    register(app)
    return app


@pytest.fixture
def env(
    engine: Engine,
    db_url: str,
    cli_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    now = datetime.now(UTC)
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, "it.admin", Role.ADMIN, now)
        add_staff(session, "rn.kim", Role.COORDINATOR, now)
        add_staff(session, "dr.lee", Role.PHYSICIAN, now).notify_tag = "dr-lee"
        add_staff(session, "dr.kim", Role.PHYSICIAN, now)
    full = {**cli_env, "AFTERCARE_DATABASE_URL": db_url}
    # In process, the command reads this test's environment: make it the clean one.
    for name in list(os.environ):
        if name.startswith("AFTERCARE_") and name not in full:
            monkeypatch.delenv(name)
    for name, value in full.items():
        monkeypatch.setenv(name, value)
    return full


def oncall(*args: str, env: Mapping[str, str], login: str) -> Ran:
    """Run `aftercare oncall ARGS` in process as staff member `login`."""
    with at_the_keyboard(env["AFTERCARE_DATABASE_URL"], login) as me:
        result = CliRunner().invoke(
            _cli(), ["oncall", *args], env={"LOGNAME": me, "USER": me}, catch_exceptions=True
        )
    # Anything but a clean exit would have been a traceback for the user.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def oncall_process(
    *args: str, env: Mapping[str, str], login: str
) -> subprocess.CompletedProcess[str]:
    """Run `aftercare oncall ARGS` as a real process, as staff member `login`."""
    with at_the_keyboard(env["AFTERCARE_DATABASE_URL"], login) as me:
        return subprocess.run(
            [sys.executable, "-c", ENTRY, "oncall", *args],
            env={**env, "LOGNAME": me, "USER": me},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )


def _shifts(engine: Engine) -> list[tuple[int, datetime, datetime, bool]]:
    with make_session_factory(engine)() as session:
        return [
            (s.id, s.starts_at, s.ends_at, s.cancelled_at is not None)
            for s in session.scalars(select(OnCallShift).order_by(OnCallShift.id))
        ]


def test_set_list_now_and_cancel(engine: Engine, env: dict[str, str]) -> None:
    tomorrow = datetime.now(SEOUL).date() + timedelta(days=1)
    day_after = tomorrow + timedelta(days=1)
    done = oncall(
        "set",
        "dr.lee",
        "--from",
        f"{tomorrow} 09:00",
        "--to",
        f"{day_after} 09:00",
        "--note",
        "weekend",
        env=env,
        login="it.admin",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("shift #1: dr.lee (Dr.Lee) on call ")
    assert "09:00 KST; pages go to tag 'dr-lee'" in done.stdout
    # Typed as Seoul time, stored as UTC: 09:00 KST is 00:00 UTC.
    (shift,) = _shifts(engine)
    assert shift[1] == datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)
    assert shift[2] - shift[1] == timedelta(days=1)

    # Now, with an explicit offset: dr.kim covers the hour around this moment.
    now_utc = datetime.now(UTC).replace(microsecond=0)
    cover = oncall(
        "set",
        "dr.kim",
        "--from",
        (now_utc - timedelta(hours=1)).isoformat(),
        "--to",
        (now_utc + timedelta(hours=1)).isoformat(),
        env=env,
        login="it.admin",
    )
    assert cover.returncode == 0, cover.stderr
    assert "no notify tag: pages go to the static tag 'oncall'" in cover.stdout

    who = oncall("now", env=env, login="rn.kim")  # anyone on staff may read the schedule
    assert who.returncode == 0, who.stderr
    assert who.stdout.startswith("on call now: dr.kim (Dr.Kim) until ")

    listed = oncall("list", "--days", "3", env=env, login="rn.kim")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("on-call schedule ")
    assert [line.split()[0] for line in lines[1:]] == ["#2", "--", "#1", "--"]
    assert "dr.lee (Dr.Lee)  tag dr-lee  weekend" in lines[3]
    assert "nobody on call: static tag 'oncall'" in lines[2]

    cancelled = oncall("cancel", "#1", env=env, login="it.admin")
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith("cancelled shift #1: dr.lee (Dr.Lee) ")
    assert [s[3] for s in _shifts(engine)] == [True, False]
    listed = oncall("list", env=env, login="it.admin")
    assert "#1" not in listed.stdout and "#2" in listed.stdout


def test_nobody_on_call_says_where_pages_go(env: dict[str, str]) -> None:
    who = oncall("now", env=env, login="it.admin")
    assert who.returncode == 0, who.stderr
    assert who.stdout.strip() == (
        "nobody is on call now: oncall pages go to the static Apprise tag 'oncall'"
    )


def test_now_warns_when_the_on_call_physicians_tag_reaches_no_service(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "apprise.yml"
    config.write_text("version: 1\nurls:\n  - json://127.0.0.1:9/oncall:\n      tag: oncall\n")
    config.chmod(0o600)
    monkeypatch.setenv("AFTERCARE_APPRISE_CONFIG", str(config))
    now_utc = datetime.now(UTC).replace(microsecond=0)
    window = (
        (now_utc - timedelta(hours=1)).isoformat(),
        (now_utc + timedelta(hours=1)).isoformat(),
    )
    assert (
        oncall(
            "set", "dr.lee", "--from", window[0], "--to", window[1], env=env, login="it.admin"
        ).returncode
        == 0
    )

    who = oncall("now", env=env, login="rn.kim")

    assert who.returncode == 0, who.stderr  # a warning, not a failure
    assert who.stdout.startswith("on call now: dr.lee (Dr.Lee) until ")
    assert who.stderr.splitlines() == [
        "aftercare: warning: physician dr.lee's notify tag 'dr-lee' matches no service in the "
        "Apprise config: pages to them cannot be delivered (oncall pages fall back to the "
        "static 'oncall' tag)"
    ]
    # Once a service carries the tag, nothing to warn about.
    config.write_text(config.read_text() + "  - json://127.0.0.1:9/lee:\n      tag: dr-lee\n")
    assert oncall("now", env=env, login="rn.kim").stderr == ""


@pytest.mark.parametrize(
    ("login", "args", "needles"),
    [
        ("nobody", ("now",), ("'{os_login}' is not an active staff member",)),
        (
            "rn.kim",
            ("set", "dr.lee", "--from", "2099-01-01 09:00", "--to", "2099-01-02 09:00"),
            ("not changed", "may not change the on-call schedule"),
        ),
        (
            "it.admin",
            ("set", "rn.kim", "--from", "2099-01-01 09:00", "--to", "2099-01-02 09:00"),
            ("only physicians can be on call",),
        ),
        (
            "it.admin",
            ("set", "dr.lee", "--from", "tomorrow", "--to", "2099-01-02 09:00"),
            ("'tomorrow' is not a time",),
        ),
        (
            "it.admin",
            ("set", "dr.lee", "--from", "2099-01-01 09:00", "--to", "2099-01-20 09:00"),
            ("at most 14 days",),
        ),
        ("it.admin", ("cancel", "abc"), ("'abc' is not a shift number",)),
        ("it.admin", ("cancel", "42"), ("no on-call shift #42",)),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    engine: Engine,
    env: dict[str, str],
    login: str,
    args: tuple[str, ...],
    needles: tuple[str, ...],
    os_login: str,
) -> None:
    result = oncall(*args, env=env, login=login)
    assert result.returncode == 1
    assert_one_clear_line(result, *(n.format(os_login=os_login) for n in needles))
    assert result.stdout == ""
    assert _shifts(engine) == []


def test_an_overlap_names_the_shift_and_replace_takes_it_over(
    engine: Engine, env: dict[str, str]
) -> None:
    first = oncall(
        "set",
        "dr.lee",
        "--from",
        "2099-01-01 09:00",
        "--to",
        "2099-01-02 09:00",
        env=env,
        login="it.admin",
    )
    assert first.returncode == 0, first.stderr
    window = ("--from", "2099-01-01 21:00", "--to", "2099-01-02 21:00")
    refused = oncall("set", "dr.kim", *window, env=env, login="it.admin")
    assert_one_clear_line(refused, "dr.lee is already on call", "(shift #1)")
    assert len(_shifts(engine)) == 1
    replaced = oncall("set", "dr.kim", *window, "--replace", env=env, login="it.admin")
    assert replaced.returncode == 0, replaced.stderr
    assert "  shift #1 (dr.lee, Thu 01 Jan 09:00 – Fri 02 Jan 09:00 KST) shortened" in (
        replaced.stdout
    )
    assert _shifts(engine)[0][2] == datetime(2099, 1, 1, 12, 0, tzinfo=UTC)  # 21:00 KST


def test_help_says_times_are_clinic_time(env: dict[str, str]) -> None:
    result = oncall("set", "--help", env=env, login="it.admin")
    assert result.returncode == 0
    assert "Asia/Seoul" in result.stdout and "offset" in result.stdout


def test_a_real_process_answers_and_refuses_in_one_line(env: dict[str, str], os_login: str) -> None:
    who = oncall_process("now", env=env, login="rn.kim")
    assert who.returncode == 0, who.stderr
    assert who.stdout.startswith("nobody is on call now")
    refused = oncall_process("now", env=env, login="stranger")  # the OS login, not on staff
    assert_one_clear_line(refused, f"'{os_login}' is not an active staff member")
    assert refused.returncode == 1 and refused.stdout == ""
