"""`aftercare backup FILE`: a checked copy of the SQLite database, taken while people work.

On PostgreSQL the server's own tool does this; the command prints the exact
pg_dump line (password masked) and exits 2, so a cron job that was pointed
at the wrong kind of database fails loudly instead of backing up nothing.

Exit status: 0 written, 1 a refusal (the file exists, a bad target), 2
PostgreSQL, configuration or database trouble.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tui.cli.errors import fail, refusals
from tui.cli.opening import settings

if TYPE_CHECKING:
    from core.audit_anchor import ChainHead
    from core.config import Settings

EXIT_REFUSED = 1
EXIT_NOT_HERE = 2
"""PostgreSQL (pg_dump's job), or configuration or database trouble."""


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
    FILE. Prints its size and the rows it holds, then anchors the audit chain
    as the copy holds it (`aftercare audit anchor`; a refused anchor is a
    warning, the backup stands). On PostgreSQL, prints the
    pg_dump command to use instead and exits 2. Exit status: 0 written,
    1 FILE exists (without --force) or cannot be written, 2 PostgreSQL or
    configuration or database trouble.
    """
    from db.services.admin import AdminServices, BackupRefused

    current = settings(EXIT_NOT_HERE)
    with refusals(EXIT_NOT_HERE):
        try:
            report = AdminServices.back_up(current, file, replace=force)
        except BackupRefused as exc:  # the copy was not written: refused, not trouble
            fail(str(exc), EXIT_REFUSED)
    counts = ", ".join(f"{rows} {words}" for words, rows in report.counts.items())
    typer.echo(
        f"backup written to {report.path}: {_size(report.size_bytes)}, schema revision "
        f"{report.revision or '(none)'}; {counts or 'no tables'}"
    )
    if report.audit_head is not None:
        _anchor_backup(current, report.audit_head, report.path)


def _anchor_backup(current: Settings, head: ChainHead, copy: Path) -> None:
    """Anchor the audit chain as the backup holds it, so a later restore of an older
    copy, or a chain rewritten after it, is found (`aftercare audit verify --anchors`)."""
    from datetime import UTC, datetime

    from notifiers.audit_anchor import audit_deliverer, take_anchor
    from tui.cli.audit import report_anchor

    deliver, unset = audit_deliverer(current.apprise_config)
    taken = take_anchor(
        head,
        now=datetime.now(UTC),
        why=f"backup {copy.name}",
        file=Path(current.audit_anchor_file),
        deliver=deliver,
        unset=unset,
    )
    report_anchor(taken)


def _size(size_bytes: int) -> str:
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.0f} KiB"
    return f"{size_bytes / (1024 * 1024):.1f} MiB"
