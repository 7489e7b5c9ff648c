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
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from core.domain import Role
from tui.cli.errors import fail, refusals
from tui.cli.opening import open_clinic, settings

if TYPE_CHECKING:
    from db.followup import Actor
    from db.services import Clinic
    from db.staff import StaffLine

T = TypeVar("T")

LoginArgument = Annotated[str, typer.Argument(help="The person's operating-system login.")]


DEMO_HINT = (
    "to try the workstation on demo data, `aftercare demo` prints the demo logins it "
    "made; work as one with `aftercare run --as demo-rn-park`"
)
"""Said to someone not on the staff list who asks for it: the list itself stays staff-only
(it names the clinic's people), and the door a newcomer wants is the demo's logins."""


def _as_staff(work: Callable[[Clinic, Actor], T], *, newcomer: str = "") -> T:
    """Sign in as the OS login (refusing unknown and disabled people), then run
    `work`, one use case of the clinic; every refusal becomes one line, with
    `newcomer` after it when the login is not staff."""
    from tui.identity import SignInRefused, sign_in

    clinic = open_clinic(settings())
    try:
        try:
            actor = sign_in(clinic, None, flag="--as")
        except SignInRefused as exc:
            fail(f"{exc}; {newcomer}" if newcomer else str(exc))
        clinic.signed_in = actor
        with refusals():
            return work(clinic, actor)
    finally:
        clinic.database.close()


def _said(line: StaffLine) -> str:
    state = "active" if line.active else "disabled"
    return f"{line.username} ({line.display_name}): {line.role.value}, {state}"


def _echo(line: StaffLine, done: str) -> None:
    """What changed on the list, then what was (or is still to be) done to the person's
    own PostgreSQL login (per-person logins, docs/deployment.md)."""
    typer.echo(f"{done} {_said(line)}")
    login = line.database_login
    if login is None:
        return
    if login.done:
        typer.echo(f"database login {line.username} made: {login.sql}")
        return
    # Said, not failed: the list has changed; the database role follows when run.
    typer.echo(
        f"database login {line.username} not changed (your PostgreSQL role may not manage "
        f"roles); as root run: sudo -u postgres psql -c '{login.sql}'"
    )


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
        from core.permissions import may_add_first_admin
        from db.staff import NewStaff
        from tui.identity import os_login

        current = settings()
        # Per-person logins: the person also gets a PostgreSQL role of their own.
        own_login = current.database_logins == "per-person" and current.database_url.startswith(
            "postgresql"
        )
        new = NewStaff(login, name, role, email, phone, tag, license_ref, own_login)
        clinic = open_clinic(current)
        try:
            with refusals():
                if clinic.active_admin_count() == 0:
                    me = os_login()
                    euid = os.geteuid()
                    owner = clinic.database_file_owner()
                    if not may_add_first_admin(
                        active_admins=0, euid=euid, database_owner_uid=owner
                    ):
                        owner_text = f" (uid {owner})" if owner is not None else ""
                        fail(
                            "there is no active admin yet: the first admin is added by root or "
                            f"by the owner of the database file{owner_text}; you are {me!r} "
                            f"(uid {euid})"
                        )
                    _echo(clinic.add_first_admin(new, by=me), "added first admin")
                    return
        finally:
            clinic.database.close()
        _echo(_as_staff(lambda clinic, actor: clinic.add_staff(actor, new)), "added")

    @staff_app.command("list")
    def list_command() -> None:
        """Everyone on the staff list: login, name, role, active, notify tag (any staff)."""
        lines = _as_staff(lambda clinic, _actor: clinic.staff_list(), newcomer=DEMO_HINT)
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
        line = _as_staff(lambda clinic, actor: clinic.set_staff_active(actor, login, active=False))
        _echo(line, "disabled")

    @staff_app.command("enable")
    def enable(login: LoginArgument) -> None:
        """Enable a disabled login again (admins)."""
        line = _as_staff(lambda clinic, actor: clinic.set_staff_active(actor, login, active=True))
        _echo(line, "enabled")

    @staff_app.command("role")
    def role_command(
        login: LoginArgument,
        role: Annotated[Role, typer.Argument(help="coordinator, physician or admin.")],
    ) -> None:
        """Give a staff member another role (admins). The last admin keeps theirs."""
        line = _as_staff(lambda clinic, actor: clinic.change_staff_role(actor, login, role))
        _echo(line, f"{login} is now {line.role.value}:")
