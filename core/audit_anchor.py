"""Anchors of the audit chain: its head written down where the clinic group cannot reach.

The audit chain's hash has no key, so anyone who can write the database can
change an event and compute every hash after it again, or drop the newest
events, and the chain still checks out. An anchor is the chain's head at one
moment (the newest event's id and hash, its time, how many events there were)
kept outside the database: one JSON line appended to a file only its owner
may write, and the same line sent to the clinic's `audit` Apprise tag. A later
check (`db.audit_anchor.check_anchors`) finds each anchored event again with
the same hash, which a rewritten chain, a deleted tail or an older copy of the
database put back cannot do.

Pure: the lines, and reading and appending the file. No database here.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EMPTY_CHAIN_HASH = "0" * 64
"""The head of a chain with no events yet (`db.audit.GENESIS`)."""

ANCHOR_MODE = 0o640
"""The owner appends; the clinic's group may read it to check the chain."""

_HASH = re.compile(r"[0-9a-f]{64}")


class AnchorFileError(Exception):
    """The anchor file cannot be used as asked; `str()` is one line saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


@dataclass(frozen=True)
class ChainHead:
    """The newest audit event (id 0 and the empty hash: none yet) and how many there are."""

    event_id: int
    hash: str
    event_at: datetime | None
    events: int


@dataclass(frozen=True)
class Anchor:
    """A chain head as written down at `anchored_at`, and why it was taken
    ("daily", "by hand", "backup FILE"). `line` is where it was read (0: not read)."""

    head: ChainHead
    anchored_at: datetime
    why: str
    line: int = 0

    def words(self) -> str:
        """How a person is told which anchor this is: when, why, and at which event."""
        at = self.anchored_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        where = f"line {self.line}, " if self.line else ""
        return f"{where}taken {at} ({self.why}) at audit event {self.head.event_id}"


def anchor_line(anchor: Anchor) -> str:
    """The anchor as one JSON line (no newline), the form kept in the file and sent."""
    head = anchor.head
    return json.dumps(
        {
            "anchored_at": anchor.anchored_at.astimezone(UTC).isoformat(),
            "event_id": head.event_id,
            "hash": head.hash,
            "event_at": None
            if head.event_at is None
            else head.event_at.astimezone(UTC).isoformat(),
            "events": head.events,
            "why": anchor.why,
        },
        ensure_ascii=True,
    )


def parse_anchor_line(text: str, line: int = 0) -> Anchor:
    """The anchor a line holds; raises ValueError saying what is wrong with it."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise ValueError("it is not a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    event_id, events, hash_ = data.get("event_id"), data.get("events"), data.get("hash")
    if not isinstance(event_id, int) or isinstance(event_id, bool) or event_id < 0:
        raise ValueError("its event_id is not a whole number")
    if not isinstance(events, int) or isinstance(events, bool) or events < 0:
        raise ValueError("its events is not a whole number")
    if not isinstance(hash_, str) or not _HASH.fullmatch(hash_):
        raise ValueError("its hash is not 64 hexadecimal digits")
    why = data.get("why")
    event_at = data.get("event_at")
    return Anchor(
        ChainHead(
            event_id, hash_, None if event_at is None else _time(event_at, "event_at"), events
        ),
        anchored_at=_time(data.get("anchored_at"), "anchored_at"),
        # Shown to a person: printable text only, never a terminal control.
        why=why if isinstance(why, str) and why.isprintable() else "reason not given",
        line=line,
    )


def _time(value: object, key: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(f"its {key} is not a time with its UTC offset")
    return parsed


def read_anchors(path: Path) -> list[Anchor]:
    """Every anchor in the file, in file order. Blank lines and lines starting with
    '#' are skipped (anchors gathered from the `audit` messages may carry notes).

    Raises AnchorFileError for a file that cannot be read or a line that is not an anchor.
    """
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AnchorFileError(f"{path} is not a text file of anchors") from None
    except OSError as exc:
        raise AnchorFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    anchors = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            anchors.append(parse_anchor_line(line, number))
        except ValueError as exc:
            raise AnchorFileError(f"line {number} of {path} is not an anchor: {exc}") from None
    return anchors


def newest_anchor_time(path: Path) -> datetime | None:
    """When the newest anchor in the file was taken; None when it has none or
    cannot be read (then one is due)."""
    try:
        anchors = read_anchors(path)
    except AnchorFileError:
        return None
    return max((anchor.anchored_at for anchor in anchors), default=None)


def writable_by_others(path: Path) -> str | None:
    """Why others than the owner could forge or swap the anchors at `path`, or None.

    The file must not be writable by its group or others, nor its folder (unless
    the folder is sticky, so only a file's owner may remove or rename it): whoever
    could write either could replace every anchor with ones that fit a rewritten
    chain.
    """
    real = path.expanduser().resolve()
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        return f"cannot look at {real}: {exc.strerror or exc}"
    if mode is not None and mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (
            f"{real} is writable by others than its owner (mode {stat.S_IMODE(mode):04o}), "
            f"so anyone there could forge anchors; chmod 640 it"
        )
    try:
        folder = real.parent.stat().st_mode
    except OSError as exc:
        return f"cannot look at folder {real.parent}: {exc.strerror or exc}"
    if folder & (stat.S_IWGRP | stat.S_IWOTH) and not folder & stat.S_ISVTX:
        return (
            f"folder {real.parent} is writable by others than its owner "
            f"(mode {stat.S_IMODE(folder):04o}), so anyone there could replace the anchor "
            f"file; keep anchors in a folder only its owner writes"
        )
    return None


def append_anchor(path: Path, anchor: Anchor) -> Path:
    """Append the anchor's line to the file (created mode 0640), flushed to disk.

    Refuses (AnchorFileError) a file or folder that others than the owner could
    write (`writable_by_others`), a missing folder, and any write that fails;
    returns the file's real path.
    """
    real = path.expanduser().resolve()
    if not real.parent.is_dir():
        raise AnchorFileError(
            f"cannot write anchor file {real}: folder {real.parent} does not exist"
        )
    problem = writable_by_others(real)
    if problem is not None:
        raise AnchorFileError(f"anchor not written: {problem}")
    umask = os.umask(0)
    os.umask(umask)
    try:
        created = not real.exists()
        descriptor = os.open(real, os.O_WRONLY | os.O_APPEND | os.O_CREAT, ANCHOR_MODE & ~umask)
        try:
            if created:
                os.fchmod(descriptor, ANCHOR_MODE & ~umask)
                _owner_as_folder(descriptor, real.parent)
            # A line torn by a crash must not swallow the next anchor.
            start = b"" if _ends_with_newline(real) else b"\n"
            os.write(descriptor, start + anchor_line(anchor).encode("ascii") + b"\n")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise AnchorFileError(f"cannot write anchor file {real}: {exc.strerror or exc}") from None
    return real


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as existing:
        size = existing.seek(0, os.SEEK_END)
        if size == 0:
            return True
        existing.seek(size - 1)
        return existing.read(1) == b"\n"


def _owner_as_folder(descriptor: int, folder: Path) -> None:
    """A file root creates belongs to the folder's owner, so the service account
    that anchors daily can still append to it."""
    if os.geteuid() != 0:
        return
    owner = folder.stat()
    os.fchown(descriptor, owner.st_uid, owner.st_gid)
