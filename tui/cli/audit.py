"""`aftercare audit verify` and `audit anchor`: the audit log's checks from the command line.

Exit status tells a cron job or monitoring script what happened without
parsing text: 0 the chain is intact, 1 it is broken, 2 it could not be checked.
`audit anchor` writes the chain's head to the anchor file and sends it to the
`audit` tag (see `core.audit_anchor` for why a keyless chain needs anchors).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tui.cli.errors import fail, refusals, warn
from tui.cli.opening import open_clinic, settings

if TYPE_CHECKING:
    from core.audit_anchor import Anchor
    from notifiers.audit_anchor import AnchorTaken

# Distinct from a broken chain (1), so "could not look" is never read as tampering
# and never as "all good".
EXIT_BROKEN = 1
EXIT_CANNOT_CHECK = 2

AnchorsOption = Annotated[
    Path | None,
    typer.Option(
        "--anchors",
        help="Also check the anchors in this file (the audit_anchor_file setting, or lines "
        "kept from the `audit` messages).",
    ),
]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file", help="Anchor file to append to (default: the audit_anchor_file setting)."
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `audit` command group to the `aftercare` CLI."""
    audit_app = typer.Typer(help="Check the tamper-evident audit log.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")

    @audit_app.command("verify")
    def verify(anchors: AnchorsOption = None) -> None:
        """Recompute every audit event's hash and check each links to the one before.

        Prints "audit chain intact: N events", or the first edited, removed or
        inserted event. With --anchors FILE, also checks that every anchored event
        is still there with its anchored hash, and names the first anchor that fails
        (a deleted tail, a re-hashed chain, an older copy put back). Exit status:
        0 intact, 1 chain broken, 2 could not check (configuration, database or
        anchor file error; the message is on stderr). An anchor that fails is a
        broken chain (1).
        """
        current = settings(EXIT_CANNOT_CHECK)
        kept = _read_anchor_file(anchors) if anchors is not None else None
        clinic = open_clinic(current, EXIT_CANNOT_CHECK)
        try:
            # The database failing mid-walk (gone, locked) is "could not check",
            # not a broken chain.
            with refusals(EXIT_CANNOT_CHECK):
                report = clinic.verify_audit_chain()
                anchored = (
                    clinic.check_audit_anchors(kept) if kept is not None and report.ok else None
                )
        finally:
            clinic.database.close()
        if report.first_problem is not None:
            # The finding goes to stdout like the intact line: it is the command's answer.
            typer.echo(
                f"audit chain broken: {report.first_problem.message} "
                f"({report.checked} events checked)"
            )
            raise typer.Exit(EXIT_BROKEN)
        if anchored is None:
            typer.echo(f"audit chain intact: {report.checked} events")
            return
        failed = anchored.first_problem
        if failed is None:
            typer.echo(
                f"audit chain intact: {report.checked} events, {anchored.checked} "
                f"anchor{'s' * (anchored.checked != 1)} checked"
            )
            return
        typer.echo(
            f"audit chain NOT intact: anchor {failed.number} of {anchored.total} "
            f"({failed.anchor.words()}) fails: {failed.message}"
        )
        raise typer.Exit(EXIT_BROKEN)

    @audit_app.command("anchor")
    def anchor(file: FileOption = None) -> None:
        """Write the audit chain's head (newest event, its hash and time, how many
        events) as one line to the anchor file, and send it to the `audit` Apprise tag.

        The file must be writable by its owner only, in a folder only its owner
        writes (refused otherwise); it is created with mode 0640. Exit status:
        0 written (and sent, or said why not), 1 the file refused the anchor or the
        `audit` message failed, 2 configuration or database trouble.
        """
        from notifiers.audit_anchor import audit_deliverer, take_anchor

        current = settings(EXIT_CANNOT_CHECK)
        path = file if file is not None else Path(current.audit_anchor_file)
        clinic = open_clinic(current, EXIT_CANNOT_CHECK)
        try:
            with refusals(EXIT_CANNOT_CHECK):
                head = clinic.audit_chain_head()
            now = clinic.clock.now()
        finally:
            clinic.database.close()
        deliver, unset = audit_deliverer(current.apprise_config)
        taken = take_anchor(head, now=now, why="by hand", file=path, deliver=deliver, unset=unset)
        if not report_anchor(taken):
            raise typer.Exit(EXIT_BROKEN)


def _read_anchor_file(path: Path) -> list[Anchor]:
    """The anchors to check; an unreadable or empty file ends the command (could not check)."""
    from core.audit_anchor import AnchorFileError, read_anchors, writable_by_others

    try:
        kept = read_anchors(path)
    except AnchorFileError as exc:
        fail(str(exc), EXIT_CANNOT_CHECK)
    if not kept:
        fail(
            f"{path} holds no anchors; `aftercare audit anchor` writes one",
            EXIT_CANNOT_CHECK,
        )
    problem = writable_by_others(path)
    if problem is not None:
        # Still checked: a copy kept elsewhere is worth reading, but say what it is worth.
        warn(f"{problem}: its anchors may have been replaced")
    return kept


def report_anchor(taken: AnchorTaken) -> bool:
    """Say what became of an anchor: written (stdout) or why not, and its message
    (stdout when delivered, stderr otherwise). True when nothing failed."""
    head = taken.anchor.head
    if taken.file_problem is None:
        typer.echo(
            f"audit anchor written to {taken.written_to}: newest event {head.event_id}, "
            f"{head.events} event{'s' * (head.events != 1)} in all, hash {head.hash}"
        )
    else:
        typer.echo(f"aftercare: {taken.file_problem}", err=True)
    if taken.sending.delivered:
        typer.echo(f"audit anchor {taken.sending.words}")
    elif taken.sending.failed:
        typer.echo(f"aftercare: audit anchor {taken.sending.words}", err=True)
    else:
        warn(f"audit anchor {taken.sending.words}")
    return taken.ok
