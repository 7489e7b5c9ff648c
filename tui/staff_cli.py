"""`aftercare staff add|list|disable|enable|role`: the staff list from the command line.

Who runs these is the operating-system login (no `--as` here). Any active
staff member may list; only an active admin may change the list, and the
check is db.staff's (core.permissions, Action.MANAGE_STAFF), not this
module's. The first admin of a list without one is added by root or by the
owner of the SQLite database file (core.permissions.may_add_first_admin).
Every refusal is one line on stderr and exit status 1.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, NoReturn, TypeVar

import typer
from sqlalchemy.orm import Session

from core.clock import SystemClock
from core.config import ConfigError, load_config
from core.domain import Role
from core.permissions import may_add_first_admin
from db.database import Database, open_database
from db.engine import parse_database_url, sqlite_path, transaction
from db.errors import StorageError
from db.followup import Actor, FollowUpConflict
from db.staff import (
    NewStaff,
    StaffLine,
    active_admins,
    add_first_admin,
    add_staff,
    change_role,
    list_staff,
    set_active,
)
from tui.identity import SignInRefused, os_login, sign_in

T = TypeVar("T")

LoginArgument = Annotated[str, typer.Argument(help="The person's operating-system login.")]


def _fail(message: str) -> NoReturn:
    # Same shape as tui.cli.fail, which this module cannot import: tui.cli imports it.
    typer.echo(f"aftercare: {message}", err=True)
    raise typer.Exit(1)


def _open() -> tuple[Database, str]:
    try:
        settings = load_config().settings
        database = open_database(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
    except ConfigError as exc:
        _fail(f"configuration error: {exc}")
    except StorageError as exc:
        _fail(str(exc))
    return database, settings.database_url


def _as_staff(work: Callable[[Session, Actor], T]) -> T:
    """Sign in as the OS login (refusing unknown and disabled people), then run
    `work` in one transaction; every refusal becomes one line."""
    database, _ = _open()
    try:
        actor = sign_in(database, None, flag="--as", now=SystemClock().now())
        with transaction(database.sessions) as session:
            return work(session, actor)
    except (SignInRefused, FollowUpConflict) as exc:
        _fail(str(exc))
    finally:
        database.close()


def _said(line: StaffLine) -> str:
    state = "active" if line.active else "disabled"
    return f"{line.username} ({line.display_name}): {line.role.value}, {state}"


def _database_owner(url: str) -> int | None:
    path = sqlite_path(parse_database_url(url))
    try:
        return path.stat().st_uid if path is not None else None
    except OSError:
        return None


def register(app: typer.Typer) -> None:
    """Add the `staff` command group to the `aftercare` CLI."""
    staff_app = typer.Typer(
        help="The staff list: who may sign in, with which role (admins change it).",
        no_args_is_help=True,
    )
    app.add_typer(staff_app, name="staff")

    @staff_app.command("add")
    def add(
        login: LoginArgument,
        name: Annotated[str, typer.Option("--name", help="Full name as colleagues read it.")],
        role: Annotated[Role, typer.Option("--role", help="coordinator, physician or admin.")],
        email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
        phone: Annotated[str | None, typer.Option(help="Phone, international (+82...).")] = None,
        tag: Annotated[
            str | None, typer.Option("--tag", help="Apprise tag that pages this person.")
        ] = None,
        license_ref: Annotated[
            str | None, typer.Option("--license", help="Professional licence number.")
        ] = None,
    ) -> None:
        """Add a staff member (admins). With no active admin yet, root or the owner of
        the database file may add the first admin."""
        new = NewStaff(login, name, role, email, phone, tag, license_ref)
        database, url = _open()
        now = SystemClock().now()
        try:
            with database.sessions() as session:
                admins = active_admins(session)
            if admins == 0:
                me = os_login()
                euid = os.geteuid()
                owner = _database_owner(url)
                if not may_add_first_admin(active_admins=0, euid=euid, database_owner_uid=owner):
                    owner_text = f" (uid {owner})" if owner is not None else ""
                    _fail(
                        "there is no active admin yet: the first admin is added by root or by "
                        f"the owner of the database file{owner_text}; you are {me!r} (uid {euid})"
                    )
                with transaction(database.sessions) as session:
                    line = add_first_admin(session, new=new, by=me, now=now)
                typer.echo(f"added first admin {_said(line)}")
                return
        except (SignInRefused, FollowUpConflict) as exc:
            _fail(str(exc))
        finally:
            database.close()
        line = _as_staff(lambda session, actor: add_staff(session, new=new, actor=actor, now=now))
        typer.echo(f"added {_said(line)}")

    @staff_app.command("list")
    def list_command() -> None:
        """Everyone on the staff list: login, name, role, active, notify tag (any staff)."""
        lines = _as_staff(lambda session, _actor: list_staff(session))
        rows = [("login", "name", "role", "active", "tag")] + [
            (
                s.username,
                s.display_name,
                s.role.value,
                "yes" if s.active else "no",
                s.notify_tag or "",
            )
            for s in lines
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            typer.echo("  ".join([*cells, row[4]]).rstrip())

    @staff_app.command("disable")
    def disable(login: LoginArgument) -> None:
        """Disable a login (admins): it can no longer sign in or act. Not the last admin."""
        now = SystemClock().now()
        line = _as_staff(
            lambda session, actor: set_active(
                session, username=login, active=False, actor=actor, now=now
            )
        )
        typer.echo(f"disabled {_said(line)}")

    @staff_app.command("enable")
    def enable(login: LoginArgument) -> None:
        """Enable a disabled login again (admins)."""
        now = SystemClock().now()
        line = _as_staff(
            lambda session, actor: set_active(
                session, username=login, active=True, actor=actor, now=now
            )
        )
        typer.echo(f"enabled {_said(line)}")

    @staff_app.command("role")
    def role_command(
        login: LoginArgument,
        role: Annotated[Role, typer.Argument(help="coordinator, physician or admin.")],
    ) -> None:
        """Give a staff member another role (admins). The last admin keeps theirs."""
        now = SystemClock().now()
        line = _as_staff(
            lambda session, actor: change_role(
                session, username=login, role=role, actor=actor, now=now
            )
        )
        typer.echo(f"{login} is now {line.role.value}: {_said(line)}")
