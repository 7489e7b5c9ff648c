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
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from core.oncall import ONCALL, ShiftTimeError, parse_clinic_time, uncovered, window_label
from tui.cli.errors import fail, refusals, warn
from tui.cli.opening import open_clinic
from tui.cli.opening import settings as load_settings

if TYPE_CHECKING:
    from db.followup import Actor
    from db.oncall import ShiftView
    from db.services import Clinic

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


def _run(work: Callable[[Clinic, Actor, datetime, tzinfo], T], *, write: bool) -> T:
    """Open the clinic, find the OS login's staff record and run `work` (its use cases)."""
    from zoneinfo import ZoneInfo

    from tui.identity import os_login

    settings = load_settings()
    with refusals():
        login = os_login()
    clinic = open_clinic(settings)
    clinic_tz = ZoneInfo(settings.clinic_timezone)
    verb = "not changed" if write else "not read"
    try:
        with refusals(saying=f"on-call schedule {verb}: "):
            actor = clinic.active_staff(login)
            if actor is None:
                fail(f"operating-system login {login!r} is not an active staff member")
            try:
                return work(clinic, actor, clinic.clock.now(), clinic_tz)
            except ShiftTimeError as exc:
                fail(f"on-call schedule {verb}: {exc}")
    finally:
        clinic.database.close()


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

    def work(clinic: Clinic, actor: Actor, now: datetime, tz: tzinfo) -> list[str]:
        from core.commands import NewShift

        wanted = NewShift(
            login, parse_clinic_time(starts, tz), parse_clinic_time(ends, tz), note, replace
        )
        done = clinic.set_on_call_shift(actor, wanted)
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

    def work(clinic: Clinic, actor: Actor, now: datetime, tz: tzinfo) -> list[str]:
        end = now + timedelta(days=days)
        shifts = clinic.on_call_shifts(now, end)
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

    from tui.cli.notify import tag_warnings

    def work(
        clinic: Clinic, actor: Actor, now: datetime, tz: tzinfo
    ) -> tuple[str, ShiftView | None]:
        shift = clinic.on_call_schedule(0, now).now_shift
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
        apprise_config = load_settings().apprise_config
        for warning in tag_warnings(apprise_config, [(shift.login, shift.notify_tag)]):
            warn(warning)


@oncall_app.command("cancel")
def cancel_command(
    shift_id: Annotated[str, typer.Argument(help="The shift number, e.g. 3 or #3.")],
) -> None:
    """Cancel a shift that is not over yet (admins only)."""
    match = re.fullmatch(r"#?(\d+)", shift_id.strip())
    if match is None:
        fail(f"{shift_id!r} is not a shift number (expected e.g. 3 or #3)")
    number = int(match.group(1))

    def work(clinic: Clinic, actor: Actor, now: datetime, tz: tzinfo) -> str:
        shift = clinic.cancel_on_call_shift(actor, number)
        return (
            f"cancelled shift #{shift.id}: {_who(shift)} "
            f"{window_label(shift.starts_at, shift.ends_at, tz)}"
        )

    typer.echo(_run(work, write=True))
