"""Storage failures turned into one clear line a coordinator or admin can act on.

No password is ever in that line: URLs and driver messages pass through
`core.masking.masked_text`.
"""

from __future__ import annotations

from sqlalchemy.engine import URL

from core.masking import masked_text


class StorageError(Exception):
    """The database cannot be used; `str()` says why and what to do, in one line.

    Whoever raises it may quote a URL as it was typed (a malformed one cannot be
    parsed to hide its password): `str()` masks every password, so no path
    that prints a StorageError shows one.
    """

    def __str__(self) -> str:
        return masked_text(super().__str__())


class DatabaseNotAtHead(StorageError):
    """The schema is older (or newer) than this version of aftercare expects."""


def masked(url: URL) -> str:
    """The URL as text with any password hidden, in its user part or in its query."""
    return masked_text(url.render_as_string(hide_password=True))


_FULL_DISK = ("database or disk is full", "disk i/o error", "no space left", "file too large")


def explain_operational_error(exc: BaseException, url: URL) -> StorageError:
    """Map a driver error to a StorageError naming the database and the likely cause."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else ""
    # The driver may repeat the connection string it was given: never a password.
    text = masked_text(text)
    where = masked(url)
    lowered = text.lower()
    if "database is locked" in lowered:
        return StorageError(
            f"database {where} is locked: another session or program kept writing past the "
            "busy timeout; try again in a moment"
        )
    if any(sign in lowered for sign in _FULL_DISK):
        return StorageError(
            f"cannot write database {where}: the disk is full or the file may not grow "
            f"({text}); free space, then try again"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return StorageError(f"database {where} is read-only: {text}")
    if "unable to open database file" in lowered:
        return StorageError(
            f"cannot open database {where}: the file or its folder is missing or not writable"
        )
    if "connection refused" in lowered or "could not connect" in lowered:
        return StorageError(f"cannot reach database {where}: connection refused ({text})")
    if "timeout" in lowered:
        return StorageError(f"cannot reach database {where}: timed out ({text})")
    return StorageError(f"database {where} failed: {text}")
