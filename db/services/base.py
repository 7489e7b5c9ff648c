"""What every service mixin shares: the database, the clock, the settings, and
one way to run a use case in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.permissions import NotPermitted
from core.refusals import Refused, Unavailable
from core.schedules import ScheduleTemplate, load_templates
from db.database import Database
from db.engine import transaction
from db.errors import StorageError, explain_operational_error

T = TypeVar("T")
P = ParamSpec("P")


class ServiceBase:
    """The state a use case needs; mixins add the use cases."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Clock,
        *,
        template_dirs: Sequence[Path] = (),
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.template_dirs = tuple(template_dirs)
        """Folders of the clinic's own schedule templates (core.config.schedule_template_dirs)."""
        self._templates: dict[str, ScheduleTemplate] | None = None

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
                return work(session, *args, **kwargs)
        except Refused:
            raise
        except NotPermitted as exc:
            raise Refused(str(exc)) from exc
        except StorageError as exc:
            raise Unavailable(f"{exc}; nothing was saved") from exc
        except DBAPIError as exc:
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
                return work(session, *args, **kwargs)
        except StorageError as exc:
            raise Unavailable(str(exc)) from exc
        except DBAPIError as exc:
            raise Unavailable(
                str(explain_operational_error(exc, self.database.engine.url))
            ) from exc
