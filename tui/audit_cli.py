"""`aftercare audit verify`: check the hash chain of the audit log from the command line.

Exit status tells a cron job or monitoring script what happened without
parsing text: 0 the chain is intact, 1 it is broken, 2 it could not be checked.
"""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from core.config import ConfigError, load_config
from db.audit import verify_chain
from db.database import open_database
from db.engine import parse_database_url
from db.errors import StorageError, explain_operational_error

# Distinct from a broken chain (1), so "could not look" is never read as tampering
# and never as "all good".
EXIT_BROKEN = 1
EXIT_CANNOT_CHECK = 2


def _cannot_check(message: str) -> typer.Exit:
    typer.echo(f"aftercare: {message}", err=True)
    return typer.Exit(EXIT_CANNOT_CHECK)


def register(app: typer.Typer) -> None:
    """Add the `audit` command group to the `aftercare` CLI."""
    audit_app = typer.Typer(help="Check the tamper-evident audit log.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")

    @audit_app.command("verify")
    def verify() -> None:
        """Recompute every audit event's hash and check each links to the one before.

        Prints "audit chain intact: N events", or the first edited, removed or
        inserted event. Exit status: 0 intact, 1 chain broken, 2 could not check
        (configuration or database error; the message is on stderr).
        """
        try:
            settings = load_config().settings
            database = open_database(
                settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
            )
        except ConfigError as exc:
            raise _cannot_check(f"configuration error: {exc}") from exc
        except StorageError as exc:
            raise _cannot_check(str(exc)) from exc
        try:
            with database.sessions() as session:
                report = verify_chain(session)
        except SQLAlchemyError as exc:
            # The database failed mid-walk (gone, locked): that is "could not
            # check", not a broken chain.
            url = parse_database_url(settings.database_url)
            raise _cannot_check(str(explain_operational_error(exc, url))) from exc
        finally:
            database.close()
        if report.first_problem is None:
            typer.echo(f"audit chain intact: {report.checked} events")
            return
        # The finding goes to stdout like the intact line: it is the command's answer.
        typer.echo(
            f"audit chain broken: {report.first_problem.message} ({report.checked} events checked)"
        )
        raise typer.Exit(EXIT_BROKEN)
