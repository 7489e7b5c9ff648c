"""Running the clinic: staff, patient import, backup, audit checks, notification set-up."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.domain import Role
from core.permissions import DEMO_LOGIN_PREFIX, Action, may_act_as
from core.refusals import Refused
from db.audit import ChainReport, verify_chain
from db.database import initialise_database
from db.engine import sqlite_path
from db.followup import Actor, find_actor, require
from db.models import Staff
from db.queries import patient_count
from db.services.base import ServiceBase
from db.staff import (
    NewStaff,
    StaffLine,
    active_admins,
    add_first_admin,
    add_staff,
    change_role,
    holds_real_patients,
    list_staff,
    set_active,
    staff_by_login,
)

# The import, backup and copy modules (and the phone-number and CSV checks they
# bring) load on first use: every face builds a Clinic, few of them import or copy.
if TYPE_CHECKING:
    from core.audit_anchor import Anchor, ChainHead
    from core.patient_import import PatientRow
    from core.schedules import ScheduleTemplate
    from db.audit_anchor import AnchorReport
    from db.backup import BackupReport
    from db.demo import DemoSummary
    from db.patient_import import ImportSummary
    from db.transfer import CopyReport


class BackupElsewhere(Refused):
    """The database is PostgreSQL, which its own tool backs up; `str()` gives the command."""


class BackupRefused(Refused):
    """The copy was not written (the file exists without replace, or cannot be written)."""


class SignInRefused(Refused):
    """This person may not work as asked; `str()` says why in one line."""


IMPORT_CHUNK = 200
"""Rows per transaction of an import at most: on a quiet machine each holds
SQLite's write lock well under a second."""

IMPORT_CHUNK_SECONDS = 1.0
"""How long one chunk may hold the write lock. On a loaded machine 200 rows took
over 5 s, the dispatcher's busy timeout, and its rounds failed with "database is
locked": a chunk slower than this makes the next one smaller."""

IMPORT_MIN_CHUNK = 10


IMPORT_PAUSE_S = 0.2
"""Seconds between two chunks: longer than SQLite's longest busy-wait poll (100 ms)."""


def _next_chunk(size: int, took: float, largest: int) -> int:
    """The next chunk's rows: smaller after one that held the lock too long, back up after
    quick ones, so each write stays short whatever else the machine is doing."""
    if took > IMPORT_CHUNK_SECONDS:
        return max(IMPORT_MIN_CHUNK, min(size - 1, int(size * IMPORT_CHUNK_SECONDS / took)))
    if took < IMPORT_CHUNK_SECONDS / 4:
        return min(largest, size * 2)
    return size


def unknown_login(login: str) -> str:
    """The refusal for a login that is not on the staff list."""
    return (
        f"login {login!r} is not on the clinic's staff list; an admin adds it with "
        f"`aftercare staff add {login} --name NAME --role ROLE`"
    )


class AdminServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""

    # --- setting up a database ------------------------------------------------------

    @staticmethod
    def initialise_database(settings: Settings) -> tuple[str | None, str]:
        """Create the configured database, or upgrade it to this version's schema.

        Returns the schema revision before and after; raises `StorageError`.
        """
        return initialise_database(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )

    def patient_count(self) -> int:
        """How many patients the database holds, demo ones included."""
        return self._read(patient_count)

    def load_demo(self, *, patients: int, seed: int) -> DemoSummary:
        """Replace the demo data with `patients` deterministic demo patients.

        Refuses (StorageError) when real patients are present, always.
        """
        from db.demo import load_demo  # the generator's word lists load only for `demo`

        return load_demo(
            self.database.engine,
            patients=patients,
            seed=seed,
            now=self.clock.now(),
            high_dose_glutathione_mg=self.settings.high_dose_glutathione_mg,
        )

    # --- the staff list -------------------------------------------------------------

    def active_admin_count(self) -> int:
        """How many active admins the staff list has (none: the first may be added)."""
        return self._read(active_admins)

    def database_file_owner(self) -> int | None:
        """The uid owning the SQLite database file, or None (PostgreSQL, or unreadable).

        The owner of the file may add the first admin (core.permissions.may_add_first_admin).
        """
        path = sqlite_path(self.database.engine.url)
        try:
            return path.stat().st_uid if path is not None else None
        except OSError:
            return None

    def add_first_admin(self, new: NewStaff, *, by: str) -> StaffLine:
        """Add the first admin of a list without one; `by` is the OS login the caller
        checked may do so (root or the database file's owner)."""
        return self._apply(add_first_admin, new=new, by=by)

    def add_staff(self, actor: Actor, new: NewStaff) -> StaffLine:
        """Add a staff member (admins)."""
        return self._apply(add_staff, actor, new)

    def staff_list(self) -> list[StaffLine]:
        """Everyone on the staff list, in login order."""
        return self._read(list_staff)

    def set_staff_active(self, actor: Actor, login: str, *, active: bool) -> StaffLine:
        """Disable a login, or enable it again (admins); never the last admin."""
        return self._apply(set_active, actor, login, active=active)

    def change_staff_role(self, actor: Actor, login: str, role: Role) -> StaffLine:
        """Give a staff member another role (admins); the last admin keeps theirs."""
        return self._apply(change_role, actor, login, role=role)

    def active_staff(self, login: str) -> Actor | None:
        """The active staff member with this login, if any."""
        return self._read(find_actor, login)

    def active_physician_tags(self) -> list[tuple[str, str | None]]:
        """(login, notify tag) of every active physician, in login order."""

        return self._read(
            lambda session: [
                (login, tag)
                for login, tag in session.execute(
                    select(Staff.username, Staff.notify_tag)
                    .where(Staff.active.is_(True), Staff.role == Role.PHYSICIAN)
                    .order_by(Staff.username)
                ).all()
            ]
        )

    # --- permission checks ----------------------------------------------------------

    def check_permission(self, actor: Actor, action: Action) -> None:
        """Refuse unless `actor` is active staff whose current role may do `action`.

        Asked before a command reads anything, so a refused person learns nothing.
        """
        self._read(require, actor, action)

    def patient_by_reference(self, reference: str) -> int | None:
        """The id of the patient with this code (AC-000123) or numeric id, if any."""
        from db.search import find_patient

        return self._read(find_patient, reference)

    # --- patient import -------------------------------------------------------------

    def existing_patient_codes(self, codes: Iterable[str]) -> set[str]:
        """Those of `codes` that a patient in the database already has."""
        from db.patient_import import existing_codes

        wanted = list(codes)
        return self._read(existing_codes, wanted)

    def import_patients(
        self,
        actor: Actor,
        rows: Sequence[PatientRow],
        *,
        templates: Mapping[str, ScheduleTemplate],
        source: str,
        sha256: str,
        products_source: str | None = None,
        products_sha256: str | None = None,
        chunk: int = IMPORT_CHUNK,
        progress: Callable[[int], None] | None = None,
    ) -> ImportSummary:
        """Add every checked row's patient and episode, all or none (admins).

        Written `chunk` rows per short transaction so the dispatcher and the
        coordinators keep writing meanwhile; the patients stay out of every
        queue until the last chunk is in, and one step then shows them all
        (db.patient_import). On any failure what was staged is deleted.
        `progress(rows_written)` is called after each chunk. The products file,
        when there was one, is named in the audit trail too.
        """
        from uuid import uuid4

        from db.patient_import import ImportSummary as Summary
        from db.patient_import import (
            abandon_import,
            publish_import,
            stage_patients,
            start_import,
        )

        batch = uuid4().hex
        codes = [row.code for row in rows]
        removed = self._apply(start_import, actor, codes, batch=batch, source=source, sha256=sha256)
        hidden: list[dict[str, object]] = []
        touchpoints = 0
        largest = max(1, chunk)
        size = largest
        try:
            while len(hidden) < len(rows):
                began = time.monotonic()
                staged = self._apply(
                    stage_patients,
                    actor,
                    rows[len(hidden) : len(hidden) + size],
                    batch=batch,
                    source=source,
                    templates=templates,
                    high_dose_glutathione_mg=self.settings.high_dose_glutathione_mg,
                )
                size = _next_chunk(size, time.monotonic() - began, largest)
                hidden += staged.hidden
                touchpoints += staged.touchpoints
                if progress is not None:
                    progress(len(hidden))
                # SQLite's waiting writers poll; without a gap the next chunk
                # would take the lock again before any of them looked.
                time.sleep(IMPORT_PAUSE_S)
            self._apply(
                publish_import,
                actor,
                hidden,
                batch=batch,
                source=source,
                sha256=sha256,
                products_source=products_source,
                products_sha256=products_sha256,
            )
        except BaseException as failure:
            reason = str(failure) or type(failure).__name__
            # If even this fails the batch stays recorded as started: the next import removes it.
            with suppress(Refused):
                self._apply(abandon_import, actor.username, codes, batch=batch, reason=reason)
            raise
        return Summary(
            patients=len(rows),
            episodes=len(rows),
            touchpoints=touchpoints,
            removed_unfinished=tuple(removed),
        )

    # --- the audit trail --------------------------------------------------------------

    def verify_audit_chain(self) -> ChainReport:
        """Recompute every audit event's hash and check each links to the one before."""
        return self._read(verify_chain)

    # --- copies of the whole database (no open database needed) -----------------------

    @staticmethod
    def back_up(settings: Settings, file: Path, *, replace: bool) -> BackupReport:
        """A checked copy of the SQLite database at `file`, taken while people work.

        Raises `BackupElsewhere` for PostgreSQL (naming the pg_dump command),
        `StorageError` when the database cannot be read, and `BackupRefused`
        when the copy is not written.
        """
        from db.backup import backup_sqlite, pg_dump_command
        from db.engine import check_sqlite_location, parse_database_url
        from db.errors import StorageError

        url = parse_database_url(settings.database_url)
        source = sqlite_path(url)
        if source is None:
            raise BackupElsewhere(
                "the database is PostgreSQL, which pg_dump backs up (password from ~/.pgpass "
                f"or PGPASSWORD): {pg_dump_command(url, file)}"
            )
        check_sqlite_location(url, must_exist=True)
        try:
            return backup_sqlite(
                source, file, replace=replace, busy_timeout_ms=settings.sqlite_busy_timeout_ms
            )
        except StorageError as exc:  # BackupExists too: the file is there, no replace
            raise BackupRefused(str(exc)) from exc

    @staticmethod
    def copy_database(
        source_url: str,
        target_url: str,
        *,
        force: bool,
        on_replace: Callable[[dict[str, int]], None],
    ) -> CopyReport:
        """Copy every table from one database to another, verified, in one transaction.

        Raises `db.transfer.CopyMismatch` (with the counts) or `StorageError`;
        the target keeps the data it had in both cases.
        """
        from db.transfer import copy_database

        return copy_database(source_url, target_url, force=force, on_replace=on_replace)

    def sign_in(self, me: str, requested: str | None, *, flag: str) -> Actor:
        """The active staff member the OS login `me` works as: themselves, or
        `requested` when `me` may work as them (demo staff on a database without
        real patients). Raises SignInRefused with one line; writes nothing."""
        wanted = requested.strip() if requested else me

        def check(session: Session) -> Actor:
            own = staff_by_login(session, me)
            target = own if wanted == me else staff_by_login(session, wanted)
            if target is None:
                raise SignInRefused(unknown_login(wanted))
            if not target.active:
                raise SignInRefused(
                    f"login {wanted!r} is disabled; an admin can enable it again "
                    f"(`aftercare staff enable {wanted}`)"
                )
            if wanted != me:
                admin = own is not None and own.active and own.role is Role.ADMIN
                demo = wanted.startswith(DEMO_LOGIN_PREFIX) and not holds_real_patients(session)
                if not may_act_as(
                    os_login=me, target=wanted, os_is_active_admin=admin, demo_database=demo
                ):
                    raise SignInRefused(
                        f"{flag} {wanted} refused: nobody may work as another login (demo "
                        f"staff excepted, on a database without real patients); you are {me!r}"
                    )
            return Actor(target.id, target.username, target.display_name, target.role)

        return self._write(check)

    # --- audit anchors (the chain's head kept outside the database) --------------------

    def audit_chain_head(self) -> ChainHead:
        """The newest audit event and how many there are, to be anchored."""
        from db.audit_anchor import chain_head

        return self._read(chain_head)

    def check_audit_anchors(self, anchors: Sequence[Anchor]) -> AnchorReport:
        """Check anchors taken earlier against the audit trail; the first that fails is named."""
        from db.audit_anchor import check_anchors

        return self._read(check_anchors, anchors)

    # --- demo data, with who loads it (core.permissions: admins, or a newcomer) ---------

    def load_demo_as(self, login: str, *, patients: int, seed: int) -> DemoSummary:
        """Load demo data for the OS login `login`, checked and audited.

        Who may: an active admin; or, on a database with no staff of its own (demo
        logins aside), whoever can open it: a newcomer's first demo. A disabled
        login never, and nobody beside real patients (db.demo). Every load
        leaves an audit event naming who loaded what. Raises `Refused` with one line.
        """
        from db import audit
        from db.followup import mark_changed

        def check(session: Session) -> str:
            own = staff_by_login(session, login)
            if own is not None and not own.active:
                raise Refused(f"login {login!r} is disabled, so it may not load demo data")
            if own is not None and own.role is Role.ADMIN:
                return "admin"
            who = f"you are {login!r}" + (
                f" ({own.role.value})" if own is not None else ", not on the staff list"
            )
            if _has_own_staff(session):
                raise Refused(f"this clinic has staff, so only an admin may load demo data; {who}")
            return "first demo, no staff yet"

        allowed_as = self._read(check)
        summary = self.load_demo(patients=patients, seed=seed)

        def record(session: Session) -> None:
            now = self.clock.now()
            mark_changed(session, now)
            audit.log(
                session,
                now,
                login,
                "demo_loaded",
                ("demo", None),
                after={
                    "patients": summary.patients,
                    "seed": seed,
                    "allowed_as": allowed_as,
                },
            )

        self._write(record)
        return summary


def _has_own_staff(session: Session) -> bool:
    """Whether the staff list names anyone who is not a demo login."""
    return (
        session.scalar(
            select(Staff.id).where(Staff.username.not_like(f"{DEMO_LOGIN_PREFIX}%")).limit(1)
        )
        is not None
    )
