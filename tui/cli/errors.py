"""The one error path of the command line: one line on stderr and an exit status.

Every failure a person can cause ends as "aftercare: <sentence>" and a
non-zero exit status, never a traceback. Commands call `fail` for the
failures they find themselves and wrap their use cases in `refusals`, which
turns what the clinic refuses (`core.refusals.Refused`, a sign-in refusal, a
`db.errors.StorageError`) into that line. `main` in `tui.cli` catches what is
left over the same way.

Light on purpose: every command imports this module, and `aftercare --help`
must not load the database libraries, so the refusal classes are looked up
only in modules already loaded (an exception of a class nobody imported
cannot have been raised). No password reaches stderr: every line passes
through `core.masking.masked_text`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from core.masking import masked_text
from core.plain_text import shown

EXIT_REFUSED = 1
"""The action was refused or failed; the reason is on stderr."""


def fail(message: str, status: int = EXIT_REFUSED) -> NoReturn:
    """Print "aftercare: <message>" on stderr and end the command with `status`.

    Any database password in the message (a URL quoted back as typed) is masked.
    """
    typer.echo(f"aftercare: {shown(masked_text(message))}", err=True)
    raise typer.Exit(status)


def warn(message: str) -> None:
    """Print "aftercare: warning: <message>" on stderr and carry on."""
    typer.echo(f"aftercare: warning: {shown(masked_text(message))}", err=True)


def _raised(exc: BaseException, module: str, name: str) -> bool:
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, getattr(loaded, name))


def refusal_status(exc: BaseException, *, refused: int, unavailable: int) -> int | None:
    """The exit status for a refusal or storage failure, or None for anything else.

    `unavailable` is for "could not look" (the database is gone, locked, at
    another schema), told apart from "looked and refused" by some commands.
    """
    if _raised(exc, "core.refusals", "Unavailable") or _raised(exc, "db.errors", "StorageError"):
        return unavailable
    if _raised(exc, "core.refusals", "Refused") or _raised(exc, "core.permissions", "NotPermitted"):
        return refused
    return None


@contextmanager
def refusals(
    refused: int = EXIT_REFUSED, *, unavailable: int | None = None, saying: str = ""
) -> Iterator[None]:
    """Turn a refusal raised inside the block into one line and an exit status.

    `refused` is the status for a refusal, `unavailable` (default: the same)
    for a database that cannot be used; `saying` goes before the sentence of a
    refusal (not of an unavailable database), e.g. "on-call schedule not
    changed: ".
    """
    try:
        yield
    except Exception as exc:
        could_not_look = refused if unavailable is None else unavailable
        status = refusal_status(exc, refused=refused, unavailable=could_not_look)
        if status is None:
            raise
        fail(_said(exc, saying), status)


def _said(exc: BaseException, saying: str) -> str:
    """The sentence of a refusal, after `saying` unless the database was the trouble."""
    unavailable = _raised(exc, "core.refusals", "Unavailable") or _raised(
        exc, "db.errors", "StorageError"
    )
    return str(exc) if unavailable or not saying else f"{saying}{exc}"
