"""What most commands do first: read the configuration, open the clinic, say who acts.

Each step that fails ends the command with one line (tui.cli.errors.fail).
The configuration and the database libraries are imported here, inside the
functions, so that commands which never touch them (`--help`, `triage`)
start without paying for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.cli.errors import EXIT_REFUSED, fail

if TYPE_CHECKING:
    from core.config import LoadedConfig, Settings
    from db.followup import Actor
    from db.services import Clinic


def loaded_config(status: int = EXIT_REFUSED) -> LoadedConfig:
    """The configuration and where it came from; a bad one ends the command."""
    from core.config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as exc:
        fail(f"configuration error: {exc}", status)
    except OSError as exc:  # a config folder this user may not even look into
        where = f" {exc.filename}" if exc.filename else ""
        fail(f"configuration error: cannot read{where}: {exc.strerror or exc}", status)


def settings(status: int = EXIT_REFUSED) -> Settings:
    """The effective settings; a bad configuration ends the command."""
    return loaded_config(status).settings


def open_clinic(current: Settings, status: int = EXIT_REFUSED) -> Clinic:
    """The clinic on the configured database, at this version's schema.

    A bad URL, an unreachable server, a missing file or an old schema ends the
    command with `status`. The caller closes it (`clinic.database.close()`).
    """
    from core.clock import SystemClock
    from core.config import schedule_template_dirs
    from db.database import open_database
    from db.errors import StorageError
    from db.services import Clinic

    try:
        database = open_database(
            current.database_url, busy_timeout_ms=current.sqlite_busy_timeout_ms
        )
    except StorageError as exc:
        fail(str(exc), status)
    # The clinic's own schedule templates, read only when a use case needs them.
    folders = schedule_template_dirs(loaded_config(status))
    return Clinic(database, current, SystemClock(), template_dirs=folders)


def signed_in(
    clinic: Clinic, requested: str | None, *, flag: str, status: int = EXIT_REFUSED
) -> Actor:
    """The active staff member this command works as: the OS login, or `requested`
    when the OS login may work as them (tui.identity); anyone else ends the command."""
    from tui.identity import SignInRefused, sign_in

    try:
        actor = sign_in(clinic, requested, flag=flag)
    except SignInRefused as exc:
        fail(str(exc), status)
    # From here on the clinic reads and writes for them only while they stay active.
    clinic.signed_in = actor
    return actor
