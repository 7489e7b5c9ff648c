"""What `aftercare staff ...` says about the person's own PostgreSQL login (per-person
logins): made, or the one line for root to run. The database side is
tests/db/test_pg_roles.py."""

from __future__ import annotations

import pytest

from core.domain import Role
from db.staff import DatabaseLogin, StaffLine
from tui.cli.staff import _echo

MADE = ('CREATE ROLE "rn.kim" LOGIN IN ROLE aftercare_coordinator',)


def _line(login: DatabaseLogin | None) -> StaffLine:
    return StaffLine("rn.kim", "Kim Soo-ah", Role.COORDINATOR, True, None, 1, login)


def test_a_login_still_to_make_is_one_line_for_root(capsys: pytest.CaptureFixture[str]) -> None:
    _echo(_line(DatabaseLogin(MADE, done=False)), "added")
    assert capsys.readouterr().out.splitlines() == [
        "added rn.kim (Kim Soo-ah): coordinator, active",
        "database login rn.kim not changed (your PostgreSQL role may not manage roles); "
        "as root run: sudo -u postgres psql -c "
        "'CREATE ROLE \"rn.kim\" LOGIN IN ROLE aftercare_coordinator'",
    ]


def test_a_made_login_says_what_was_done(capsys: pytest.CaptureFixture[str]) -> None:
    _echo(_line(DatabaseLogin(MADE, done=True)), "added")
    out = capsys.readouterr().out.splitlines()
    assert out[1] == f"database login rn.kim made: {MADE[0]}"


def test_without_a_database_login_only_the_list_is_said(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _echo(_line(None), "disabled")
    assert capsys.readouterr().out == "disabled rn.kim (Kim Soo-ah): coordinator, active\n"
