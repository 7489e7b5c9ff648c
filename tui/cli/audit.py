"""`aftercare audit verify`: check the hash chain of the audit log from the command line.

Exit status tells a cron job or monitoring script what happened without
parsing text: 0 the chain is intact, 1 it is broken, 2 it could not be checked.
"""

from __future__ import annotations

import typer

from tui.cli.errors import refusals
from tui.cli.opening import open_clinic, settings

# Distinct from a broken chain (1), so "could not look" is never read as tampering
# and never as "all good".
EXIT_BROKEN = 1
EXIT_CANNOT_CHECK = 2


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
        clinic = open_clinic(settings(EXIT_CANNOT_CHECK), EXIT_CANNOT_CHECK)
        try:
            # The database failing mid-walk (gone, locked) is "could not check",
            # not a broken chain.
            with refusals(EXIT_CANNOT_CHECK):
                report = clinic.verify_audit_chain()
        finally:
            clinic.database.close()
        if report.first_problem is None:
            typer.echo(f"audit chain intact: {report.checked} events")
            return
        # The finding goes to stdout like the intact line: it is the command's answer.
        typer.echo(
            f"audit chain broken: {report.first_problem.message} ({report.checked} events checked)"
        )
        raise typer.Exit(EXIT_BROKEN)
