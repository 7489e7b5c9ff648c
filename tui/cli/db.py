"""`aftercare db copy`: move a clinic's data to another database, verified by counts.

Typically from the default SQLite file to PostgreSQL when the clinic outgrows
one file (and back). Passwords in the URLs are never printed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from core.masking import masked_text as _masked
from tui.cli.errors import fail

if TYPE_CHECKING:
    from db.transfer import CopyReport


def _print_counts(report: CopyReport) -> None:
    width = max(len("table"), *(len(c.table) for c in report.tables))
    typer.echo(f"{'table':<{width}}  {'source':>9}  {'target':>9}")
    for count in report.tables:
        flag = "" if count.matches else "  MISMATCH"
        typer.echo(f"{count.table:<{width}}  {count.source:>9}  {count.target:>9}{flag}")


def register(app: typer.Typer) -> None:
    """Add the `db` command group to the `aftercare` CLI."""
    db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @db_app.command("copy")
    def copy(
        source: Annotated[
            str,
            typer.Option(
                "--from", help="Database to copy from (sqlite:///... or postgresql+psycopg://...)."
            ),
        ],
        target: Annotated[
            str,
            typer.Option("--to", help="Database to copy into; its schema is created or upgraded."),
        ],
        force: Annotated[
            bool, typer.Option("--force", help="Replace the data the target already holds.")
        ] = False,
    ) -> None:
        """Copy every table from one database to another, in one transaction on the target.

        The copy is checked before it is committed: every table must hold as
        many rows as the source and the audit chain must verify on the target;
        otherwise it is rolled back and the target keeps the data it had. Stop
        the apps and `aftercare dispatch` on the source first. Exit status 0
        copied, 1 refused or failed (the reason is on stderr).
        """
        from db.errors import StorageError
        from db.services.admin import AdminServices
        from db.transfer import CopyMismatch

        shown_from, shown_to = _masked(source), _masked(target)

        def announce_replace(rows: dict[str, int]) -> None:
            from db.transfer import describe_rows

            typer.echo(f"--force: replacing what {shown_to} holds: {describe_rows(rows)}")

        started = time.perf_counter()
        try:
            report = AdminServices.copy_database(
                source, target, force=force, on_replace=announce_replace
            )
        except CopyMismatch as exc:
            _print_counts(exc.report)
            fail(_masked(str(exc)))
        except StorageError as exc:
            fail(_masked(str(exc)))
        _print_counts(report)
        typer.echo(f"audit chain intact on the target: {report.audit.checked} events")
        typer.echo(f"copied {shown_from} -> {shown_to} in {time.perf_counter() - started:.1f} s")
