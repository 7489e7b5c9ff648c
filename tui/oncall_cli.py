"""`aftercare oncall`: the on-call schedule on the command line (set, list, now, cancel).

Who runs it is the operating-system login, mapped to a staff member; anyone
on staff may read the schedule, only admins change it (db.oncall checks).
Times are read and shown in the clinic time zone (Asia/Seoul unless the
config says otherwise) unless an explicit offset is given. Every failure a
user can cause ends in one line on stderr and exit status 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.clock import SystemClock
from core.config import ConfigError, Settings, load_config
from core.oncall import ONCALL, ShiftTimeError, parse_clinic_time, uncovered, window_label
from db.database import Database, open_database
from db.engine import parse_database_url, transaction
from db.errors import StorageError, explain_operational_error
from db.followup import Actor, FollowUpConflict, find_actor
from db.oncall import ShiftView, cancel_shift, current_shift, list_shifts, set_shift
from tui.identity import SignInRefused, os_login
from tui.notify_cli import tag_warnings

T = TypeVar("T")

TIME_HELP = (
    "'YYYY-MM-DD HH:MM' in the clinic time zone (Asia/Seoul unless configured "
    "otherwise), or with an explicit offset such as '2026-11-23T09:00+00:00'."
)

oncall_app = typer.Typer(
    help="The on-call schedule: who receives `oncall` physician pages, and when.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `oncall` command group to the `aftercare` command line."""
    app.add_typer(oncall_app, name="oncall")


def _fail(message: str) -> NoReturn:
    # Same shape as tui.cli.fail, which this module cannot import: cli imports this one.
    typer.echo(f"aftercare: {message}", err=True)
    raise typer.Exit(1)


def _run(work: Callable[[Session, Actor, datetime, tzinfo], T], *, write: bool) -> T:
    """Open the database, find the OS login's staff record and run `work` in one transaction."""
    try:
        settings: Settings = load_config().settings
    except ConfigError as exc:
        _fail(f"configuration error: {exc}")
    try:
        login = os_login()
    except SignInRefused as exc:
        _fail(str(exc))
    try:
        database: Database = open_database(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
    except StorageError as exc:
        _fail(str(exc))
    clinic_tz = ZoneInfo(settings.clinic_timezone)
    try:
        with transaction(database.sessions) as session:
            actor = find_actor(session, login)
            if actor is None:
                _fail(f"operating-system login {login!r} is not an active staff member")
            return work(session, actor, SystemClock().now(), clinic_tz)
    except (FollowUpConflict, ShiftTimeError) as exc:
        verb = "not changed" if write else "not read"
        _fail(f"on-call schedule {verb}: {exc}")
    except SQLAlchemyError as exc:
        _fail(str(explain_operational_error(exc, parse_database_url(settings.database_url))))
    finally:
        database.close()


def _who(shift: ShiftView) -> str:
    return f"{shift.login} ({shift.display_name})"


def _tag(shift: ShiftView) -> str:
    if shift.notify_tag:
        return f"pages go to tag {shift.notify_tag!r}"
    return f"no notify tag: pages go to the static tag {ONCALL!r}"


@oncall_app.command("set")
def set_command(
    login: Annotated[str, typer.Argument(help="Staff login of the physician on call.")],
    starts: Annotated[str, typer.Option("--from", help=f"Start (inclusive). {TIME_HELP}")],
    ends: Annotated[str, typer.Option("--to", help=f"End (exclusive). {TIME_HELP}")],
    note: Annotated[str | None, typer.Option(help="A note shown with the shift.")] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Take the overlapping time from other shifts (they are shortened, "
            "split or cancelled) instead of refusing.",
        ),
    ] = False,
) -> None:
    """Put a physician on call (admins only); at most 14 days per shift.

    Times are in the clinic time zone (Asia/Seoul) unless they carry an offset.
    A shift overlapping another is refused, naming it, unless --replace.
    Example: aftercare oncall set dr.lee --from "2026-11-23 09:00" --to "2026-11-24 09:00"
    """

    def work(session: Session, actor: Actor, now: datetime, tz: tzinfo) -> list[str]:
        done = set_shift(
            session,
            staff_login=login,
            starts_at=parse_clinic_time(starts, tz),
            ends_at=parse_clinic_time(ends, tz),
            actor=actor,
            now=now,
            note=note,
            replace=replace,
            clinic_tz=tz,
        )
        shift = done.shift
        lines = [
            f"shift #{shift.id}: {_who(shift)} on call "
            f"{window_label(shift.starts_at, shift.ends_at, tz)}; {_tag(shift)}"
        ]
        lines += [
            f"  shift #{r.before.id} ({r.before.login}, "
            f"{window_label(r.before.starts_at, r.before.ends_at, tz)}) {r.outcome}"
            for r in done.replaced
        ]
        return lines

    for line in _run(work, write=True):
        typer.echo(line)


@oncall_app.command("list")
def list_command(
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days ahead to show.")] = 7,
) -> None:
    """The shifts from now on (default 7 days), with the gaps nobody covers."""

    def work(session: Session, actor: Actor, now: datetime, tz: tzinfo) -> list[str]:
        end = now + timedelta(days=days)
        shifts = list_shifts(session, now, end)
        lines = [f"on-call schedule {window_label(now, end, tz)}:"]
        rows: list[tuple[datetime, str]] = [
            (
                s.starts_at,
                f"  #{s.id:<4} {window_label(s.starts_at, s.ends_at, tz)}  {_who(s)}"
                + (f"  tag {s.notify_tag}" if s.notify_tag else "  (no notify tag)")
                + (f"  {s.note}" if s.note else ""),
            )
            for s in shifts
        ]
        rows += [
            (a, f"  --    {window_label(a, b, tz)}  nobody on call: static tag {ONCALL!r}")
            for a, b in uncovered(((s.starts_at, s.ends_at) for s in shifts), now, end)
        ]
        return lines + [text for _, text in sorted(rows, key=lambda row: row[0])]

    for line in _run(work, write=False):
        typer.echo(line)


@oncall_app.command("now")
def now_command() -> None:
    """Who is on call right now, and which tag `oncall` pages go to."""

    def work(
        session: Session, actor: Actor, now: datetime, tz: tzinfo
    ) -> tuple[str, ShiftView | None]:
        shift = current_shift(session, now)
        if shift is None:
            return (
                f"nobody is on call now: oncall pages go to the static Apprise tag {ONCALL!r}",
                None,
            )
        until = shift.ends_at.astimezone(tz)
        return (
            f"on call now: {_who(shift)} until {until:%a %d %b %H:%M %Z}; {_tag(shift)}",
            shift,
        )

    text, shift = _run(work, write=False)
    typer.echo(text)
    if shift is not None and shift.notify_tag:
        # A tag no Apprise service carries: say so now, not when a page falls back.
        apprise_config = load_config().settings.apprise_config
        for warning in tag_warnings(apprise_config, [(shift.login, shift.notify_tag)]):
            typer.echo(f"aftercare: warning: {warning}", err=True)


@oncall_app.command("cancel")
def cancel_command(
    shift_id: Annotated[str, typer.Argument(help="The shift number, e.g. 3 or #3.")],
) -> None:
    """Cancel a shift that is not over yet (admins only)."""
    match = re.fullmatch(r"#?(\d+)", shift_id.strip())
    if match is None:
        _fail(f"{shift_id!r} is not a shift number (expected e.g. 3 or #3)")
    number = int(match.group(1))

    def work(session: Session, actor: Actor, now: datetime, tz: tzinfo) -> str:
        shift = cancel_shift(session, shift_id=number, actor=actor, now=now)
        return (
            f"cancelled shift #{shift.id}: {_who(shift)} "
            f"{window_label(shift.starts_at, shift.ends_at, tz)}"
        )

    typer.echo(_run(work, write=True))
