"""Storage failures turned into one clear line a coordinator or admin can act on."""

from __future__ import annotations

from sqlalchemy.engine import URL


class StorageError(Exception):
    """The database cannot be used; `str()` says why and what to do, in one line."""


class DatabaseNotAtHead(StorageError):
    """The schema is older (or newer) than this version of aftercare expects."""


def masked(url: URL) -> str:
    """The URL as text with any password hidden."""
    return url.render_as_string(hide_password=True)


def explain_operational_error(exc: BaseException, url: URL) -> StorageError:
    """Map a driver error to a StorageError naming the database and the likely cause."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else ""
    where = masked(url)
    lowered = text.lower()
    if "database is locked" in lowered:
        return StorageError(
            f"database {where} is locked: another session or program kept writing past the "
            "busy timeout; try again in a moment"
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
