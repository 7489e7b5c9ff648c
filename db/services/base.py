"""What every service mixin shares: the database, the clock, the settings, who
is signed in, and one way to run a use case in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.permissions import NotPermitted
from core.refusals import NotFound, Refused, Unavailable
from core.schedules import ScheduleTemplate, load_templates
from db.database import Database
from db.engine import transaction
from db.errors import StorageError, explain_operational_error
from db.followup import Actor
from db.models import Staff

T = TypeVar("T")
P = ParamSpec("P")

TOO_LARGE_TO_FIND = "no record has a number that large"
TOO_LARGE_TO_SAVE = "a number given is larger than the database can hold; nothing was saved"


class SignedOut(Refused):
    """The staff member this clinic works for was disabled (or removed) after signing in:
    nothing more is read or written for them."""


def signed_out_sentence(login: str) -> str:
    """What a person whose login was disabled mid-session is told, in the clinic's words."""
    return (
        f"Login {login!r} has been disabled by an admin, so this session shows no more "
        "patient data; close it (an admin can enable the login again)."
    )


class ServiceBase:
    """The state a use case needs; mixins add the use cases."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Clock,
        *,
        template_dirs: Sequence[Path] = (),
        signed_in: Actor | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.template_dirs = tuple(template_dirs)
        """Folders of the clinic's own schedule templates (core.config.schedule_template_dirs)."""
        self._templates: dict[str, ScheduleTemplate] | None = None
        self.signed_in = signed_in
        """The staff member this clinic works for (the TUI's, a command's), or None (a
        service that acts for nobody in particular, before sign-in). While set, every read
        and write first checks, in its own session, that they are still active staff:
        disabling a login stops an open session at its next read (`SignedOut`)."""
        self.on_signed_out: Callable[[str], object] | None = None
        """Told the sentence when a read or write is refused because `signed_in` was
        disabled, whichever screen or worker asked: the TUI then ends the session."""

    @property
    def templates(self) -> dict[str, ScheduleTemplate]:
        """The schedule templates in force: built-in ones and the clinic's own, read once.
        A broken template file is refused with its name and line."""
        if self._templates is None:
            try:
                self._templates = load_templates(self.template_dirs)
            except (OSError, ValueError) as exc:
                raise Refused(f"{exc}; nothing was saved") from exc
        return self._templates

    def _apply(
        self,
        change: Callable[Concatenate[Session, datetime, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Apply one change at the clock's time: `change(session, now, *args, **kwargs)`
        in one transaction (see `_write`).

        Every change function in `db` takes the session and the time first and
        then (actor, what it acts on, the form's value if any, *, details), so a use case that only
        forwards to one is a single call, its arguments checked by mypy against
        the change function's own signature.
        """
        now = self.clock.now()
        return self._write(change, now, *args, **kwargs)

    def _write(
        self,
        work: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `work(session, *args, **kwargs)` in one transaction: all of it is
        committed, or none.

        Every failure a person can meet comes out as a `Refused` (or a
        subclass) with one sentence; nothing is half-written.
        """
        try:
            with transaction(self.database.sessions) as session:
                self._still_signed_in(session)
                return work(session, *args, **kwargs)
        except Refused:
            raise
        except OverflowError as exc:
            if not _too_large_for_database(exc):
                raise
            raise Refused(TOO_LARGE_TO_SAVE) from exc
        except NotPermitted as exc:
            raise Refused(str(exc)) from exc
        except StorageError as exc:
            raise Unavailable(f"{exc}; nothing was saved") from exc
        except DBAPIError as exc:
            if _out_of_range(exc):
                raise Refused(TOO_LARGE_TO_SAVE) from exc
            raise Unavailable(
                f"{explain_operational_error(exc, self.database.engine.url)}; nothing was saved"
            ) from exc

    def _read(
        self,
        work: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `work(session, *args, **kwargs)` in its own short session; storage
        failures become `Unavailable`."""
        try:
            with self.database.sessions() as session:
                self._still_signed_in(session)
                return work(session, *args, **kwargs)
        except OverflowError as exc:
            if not _too_large_for_database(exc):
                raise
            raise NotFound(TOO_LARGE_TO_FIND) from exc
        except StorageError as exc:
            raise Unavailable(str(exc)) from exc
        except DBAPIError as exc:
            if _out_of_range(exc):
                raise NotFound(TOO_LARGE_TO_FIND) from exc
            raise Unavailable(
                str(explain_operational_error(exc, self.database.engine.url))
            ) from exc

    def _still_signed_in(self, session: Session) -> None:
        """Refuse (`SignedOut`) when the signed-in staff member is no longer active.

        Read from the staff row in the session that does the work, so a login an
        admin disables is stopped at its next read or write, not at its next sign-in.
        """
        actor = self.signed_in
        if actor is None:
            return
        active = session.scalar(select(Staff.active).where(Staff.id == actor.staff_id))
        if not active:
            sentence = signed_out_sentence(actor.username)
            if self.on_signed_out is not None:
                self.on_signed_out(sentence)
            raise SignedOut(sentence)


def _too_large_for_database(exc: OverflowError) -> bool:
    """Whether the driver refused an integer beyond 64 bits (an id typed as 10**30): SQLite
    raises OverflowError before asking the database; other overflows are bugs, not input."""
    return "too large to convert" in str(exc)


def _out_of_range(exc: DBAPIError) -> bool:
    """Whether PostgreSQL refused a number beyond its column's integer (SQLSTATE 22003)."""
    return getattr(exc.orig, "sqlstate", None) == "22003"
