"""`aftercare backup FILE`: a checked copy of the SQLite database, taken while people work.

On PostgreSQL the server's own tool does this; the command prints the exact
pg_dump line (password masked) and exits 2, so a cron job that was pointed
at the wrong kind of database fails loudly instead of backing up nothing.

Exit status: 0 written, 1 a refusal (the file exists, a bad target), 2
PostgreSQL, configuration or database trouble.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from core.config import ConfigError, load_config
from db.backup import backup_sqlite, pg_dump_command
from db.engine import check_sqlite_location, parse_database_url, sqlite_path
from db.errors import StorageError

EXIT_REFUSED = 1
EXIT_NOT_HERE = 2
"""PostgreSQL (pg_dump's job), or configuration or database trouble."""


def _fail(message: str, status: int) -> NoReturn:
    # Same shape as tui.cli.fail, which this module cannot import: tui.cli imports it.
    typer.echo(f"aftercare: {message}", err=True)
    raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    """Add the `backup` command to the `aftercare` CLI."""
    app.command("backup")(backup)


def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Copy the SQLite database to FILE while the clinic keeps working, then check the copy.

    The copy is one self-contained SQLite file, readable by owner and group
    only (mode 0640), checked with SQLite's quick_check and for the same
    schema revision before it is kept; a failed backup leaves nothing at
    FILE. Prints its size and the rows it holds. On PostgreSQL, prints the
    pg_dump command to use instead and exits 2. Exit status: 0 written,
    1 FILE exists (without --force) or cannot be written, 2 PostgreSQL or
    configuration or database trouble.
    """
    try:
        settings = load_config().settings
        url = parse_database_url(settings.database_url)
    except ConfigError as exc:
        _fail(f"configuration error: {exc}", EXIT_NOT_HERE)
    except StorageError as exc:
        _fail(str(exc), EXIT_NOT_HERE)
    source = sqlite_path(url)
    if source is None:
        _fail(
            "the database is PostgreSQL, which pg_dump backs up (password from ~/.pgpass "
            f"or PGPASSWORD): {pg_dump_command(url, file)}",
            EXIT_NOT_HERE,
        )
    try:
        check_sqlite_location(url, must_exist=True)
    except StorageError as exc:
        _fail(str(exc), EXIT_NOT_HERE)
    try:
        report = backup_sqlite(
            source, file, replace=force, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
    except StorageError as exc:  # BackupExists too: the file is there and --force was not given
        _fail(str(exc), EXIT_REFUSED)
    counts = ", ".join(f"{rows} {words}" for words, rows in report.counts.items())
    typer.echo(
        f"backup written to {report.path}: {_size(report.size_bytes)}, schema revision "
        f"{report.revision or '(none)'}; {counts or 'no tables'}"
    )


def _size(size_bytes: int) -> str:
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.0f} KiB"
    return f"{size_bytes / (1024 * 1024):.1f} MiB"
