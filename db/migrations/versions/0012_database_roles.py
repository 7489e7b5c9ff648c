"""database roles

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

PostgreSQL, one role per person: the database itself keeps each person to
their role, so a coordinator who opens `psql` with their own login can do no
more than the product lets them.

- Group roles nobody logs in as: `aftercare_owner` owns every table;
  `aftercare_coordinator`, `aftercare_physician` and `aftercare_admin` hold
  the grants of each staff role (core.permissions), `aftercare_service` those
  of the alert dispatcher and the one-tap page. Each person's own login role
  is a member of one of the three staff roles (`aftercare staff add`).
  Roles belong to the whole server: they are created when missing, by
  whoever gets there first (two schemas migrated at once both try).
- Everyone on the staff list reads everything; each writes only the tables
  their use cases write. Audit events and incident timeline entries take
  INSERT only, and triggers that fire ALWAYS (replication mode too) refuse
  UPDATE, DELETE and TRUNCATE, for the owner as well.
- `database_login` on audit events and timeline entries: the login that
  wrote the row, set by the database (session_user), never by the app. It is
  not part of the event hash, so stored hashes are unchanged; rows written
  before this migration keep NULL (not recorded).

On SQLite only the `database_login` columns are added: there is no role to
tell people apart, whoever can write the file can change anything in it.

The roles' names are repeated in db/staff.py (which grants them to people);
this file keeps its own copy so it does the same thing forever.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection, text

from db.errors import StorageError

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OWNER = "aftercare_owner"
COORDINATOR = "aftercare_coordinator"
PHYSICIAN = "aftercare_physician"
ADMIN = "aftercare_admin"
SERVICE = "aftercare_service"
READERS = (COORDINATOR, PHYSICIAN, ADMIN, SERVICE)
CLINICAL = (COORDINATOR, PHYSICIAN)

APPEND_ONLY = ("audit_event", "incident_entry")

# Beyond reading: what each table lets each role do, from the use cases in db/ that
# write it (core.permissions says who may run them). A table not named here is read
# only; the owner alone changes it.
WRITES: dict[str, dict[str, str]] = {
    # Every write bumps the marker first (db.followup.mark_changed) and is audited.
    "change_marker": {role: "UPDATE" for role in READERS},
    "audit_event": {role: "INSERT" for role in READERS},
    # Corrections after an incident are noted on its timeline, by whoever corrects.
    "incident_entry": {COORDINATOR: "INSERT", PHYSICIAN: "INSERT", ADMIN: "INSERT"},
    # Admins run the staff list and the on-call schedule; nobody else changes them.
    "staff": {ADMIN: "INSERT, UPDATE"},
    "oncall_shift": {ADMIN: "INSERT, UPDATE"},
    # The record of care: clinicians record and correct it; admins register episodes
    # and import patients, and an import cut short is removed by the next one.
    "patient": {
        COORDINATOR: "INSERT, UPDATE",
        PHYSICIAN: "INSERT, UPDATE",
        ADMIN: "INSERT, UPDATE, DELETE",
    },
    "treatment_episode": {
        COORDINATOR: "INSERT, UPDATE",
        PHYSICIAN: "INSERT, UPDATE",
        ADMIN: "INSERT, UPDATE, DELETE",
    },
    "product_given": {role: "INSERT, UPDATE, DELETE" for role in (*CLINICAL, ADMIN)},
    "touchpoint": {
        COORDINATOR: "INSERT, UPDATE",
        PHYSICIAN: "INSERT, UPDATE",
        ADMIN: "INSERT, UPDATE, DELETE",
    },
    # Follow-up and triage are written once and never changed.
    "contact_attempt": {role: "INSERT" for role in CLINICAL},
    "triage_assessment": {role: "INSERT" for role in CLINICAL},
    "incident": {role: "INSERT, UPDATE" for role in CLINICAL},
    # A triage raises an escalation and queues its first pages; physicians stop it
    # (acknowledge, resolve), the dispatcher climbs its steps and sends.
    "escalation": {COORDINATOR: "INSERT", PHYSICIAN: "INSERT, UPDATE", SERVICE: "UPDATE"},
    "outbox_notification": {
        COORDINATOR: "INSERT",
        PHYSICIAN: "INSERT, UPDATE",
        SERVICE: "INSERT, UPDATE",
    },
    # Only the service holds the dispatcher lease and records the one-tap page's use.
    "dispatcher_lease": {SERVICE: "INSERT, UPDATE, DELETE"},
    "alert_link_use": {SERVICE: "INSERT"},
}


def upgrade() -> None:
    for table in APPEND_ONLY:
        with op.batch_alter_table(table) as batch:
            # No default while adding: earlier rows were not written by whoever migrates.
            batch.add_column(sa.Column("database_login", sa.String(64), nullable=True))
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table in APPEND_ONLY:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN database_login SET DEFAULT session_user")
    schema = _quoted(connection.scalar(text("SELECT current_schema()")))
    _create_roles(connection)
    _hand_to_owner(connection, schema)
    _grant(schema)
    _append_only(schema)


def _quoted(name: str | None) -> str:
    assert name, "no current schema"
    return '"' + name.replace('"', '""') + '"'


def _me(connection: Connection) -> tuple[str, bool, bool]:
    row = connection.execute(
        text(
            "SELECT rolname, rolsuper, rolcreaterole FROM pg_catalog.pg_roles "
            "WHERE rolname = current_user"
        )
    ).one()
    return str(row[0]), bool(row[1]), bool(row[2])


def _create_roles(connection: Connection) -> None:
    name, superuser, createrole = _me(connection)
    wanted = (OWNER, *READERS)
    present = set(
        connection.scalars(
            text("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(:names)"),
            {"names": list(wanted)},
        )
    )
    missing = [role for role in wanted if role not in present]
    if missing and not (superuser or createrole):
        # One line that says what to run: the roles made by the superuser, this login a
        # member of the owner (as it owns the tables today), then init again.
        made = "; ".join(f"CREATE ROLE {role} NOLOGIN" for role in missing)
        raise StorageError(
            f"PostgreSQL role {name!r} may not create the aftercare roles; nothing was "
            f"changed: as root run  sudo -u postgres psql -c '{made}; GRANT {OWNER} TO "
            f"{_quoted(name)}'  then `aftercare init` again (docs/deployment.md)"
        )
    for role in missing:
        # Another schema's migration may create it between our look and here: its
        # CREATE waits for that transaction and fails as a duplicate, which is fine.
        op.execute(
            f"""
            DO $$ BEGIN
                CREATE ROLE {role} NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$
            """
        )


def _hand_to_owner(connection: Connection, schema: str) -> None:
    """Every table of this schema to aftercare_owner; whoever owned them stays a member,
    so a clinic on one shared login keeps working as before (documented as weaker)."""
    name, superuser, createrole = _me(connection)
    members = [name] if not superuser else []
    members += connection.scalars(
        text(
            "SELECT DISTINCT tableowner FROM pg_catalog.pg_tables t "
            "JOIN pg_catalog.pg_roles r ON r.rolname = t.tableowner "
            "WHERE t.schemaname = current_schema() AND NOT r.rolsuper "
            "AND t.tableowner <> :owner"
        ),
        {"owner": OWNER},
    ).all()
    for member in dict.fromkeys(members):
        is_member = connection.scalar(
            text("SELECT pg_catalog.pg_has_role(:member, :owner, 'MEMBER')"),
            {"member": member, "owner": OWNER},
        )
        if is_member:
            continue
        if not (superuser or createrole):
            raise StorageError(
                f"PostgreSQL role {member!r} is not a member of {OWNER}, and {name!r} may "
                f"not make it one; nothing was changed: as root run  sudo -u postgres psql "
                f"-c 'GRANT {OWNER} TO {_quoted(member)}'  then `aftercare init` again"
            )
        op.execute(
            f"""
            DO $$ BEGIN
                GRANT {OWNER} TO {_quoted(member)};
            EXCEPTION WHEN unique_violation THEN NULL;
            END $$
            """
        )
    tables = connection.scalars(
        text(
            "SELECT tablename FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema() AND tableowner <> :owner ORDER BY tablename"
        ),
        {"owner": OWNER},
    ).all()
    # A table's owner must be allowed to create in its schema; the owner also makes the
    # tables of later migrations there.
    op.execute(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {OWNER}")
    for table in tables:
        # Sequences behind serial ids and the indexes follow their table.
        op.execute(f"ALTER TABLE {schema}.{_quoted(table)} OWNER TO {OWNER}")


def _grant(schema: str) -> None:
    readers = ", ".join(READERS)
    # USAGE on the schema: PUBLIC usually has it on `public`, never on a schema of its own.
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {readers}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {readers}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {readers}")
    for table, grants in WRITES.items():
        for role, privileges in grants.items():
            op.execute(f"GRANT {privileges} ON {schema}.{table} TO {role}")
    # A later migration run as the owner gives its new tables to every reader at once;
    # their writes are granted by that migration, as here.
    op.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} IN SCHEMA {schema} "
        f"GRANT SELECT ON TABLES TO {readers}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {readers}"
    )


def _append_only(schema: str) -> None:
    # search_path pinned: nobody can slip in a pg_roles of their own.
    op.execute(
        f"""
        CREATE FUNCTION {schema}.aftercare_append_only() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
            -- The database superuser could drop this trigger anyway; letting it through
            -- lets it empty a database (`aftercare db copy --force`, the test suite).
            IF (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
                IF TG_OP = 'DELETE' THEN
                    RETURN OLD;
                END IF;
                RETURN NEW;  -- NULL for TRUNCATE, which ignores it
            END IF;
            RAISE EXCEPTION '% on % refused: the audit trail is never changed or removed',
                TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION {schema}.aftercare_database_login() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
            -- Who wrote the row is the database's word, whatever the INSERT said. Only the
            -- superuser's copy of a clinic's data (`aftercare db copy`) keeps what the
            -- rows say (NULL from SQLite: not recorded); rows the app writes get the
            -- column's default, session_user, for the superuser too.
            IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
                NEW.database_login := session_user;
            END IF;
            RETURN NEW;
        END $$
        """
    )
    for function in ("aftercare_append_only()", "aftercare_database_login()"):
        op.execute(f"ALTER FUNCTION {schema}.{function} OWNER TO {OWNER}")
    for table in APPEND_ONLY:
        triggers = {
            f"{table}_append_only": "BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW "
            "EXECUTE FUNCTION {s}.aftercare_append_only()",
            f"{table}_no_truncate": "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
            "EXECUTE FUNCTION {s}.aftercare_append_only()",
            f"{table}_database_login": "BEFORE INSERT ON {t} FOR EACH ROW "
            "EXECUTE FUNCTION {s}.aftercare_database_login()",
        }
        for trigger, body in triggers.items():
            op.execute(f"CREATE TRIGGER {trigger} " + body.format(t=f"{schema}.{table}", s=schema))
            # ALWAYS: still fires with session_replication_role = replica.
            op.execute(f"ALTER TABLE {schema}.{table} ENABLE ALWAYS TRIGGER {trigger}")


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        schema = _quoted(connection.scalar(text("SELECT current_schema()")))
        for table in APPEND_ONLY:
            for suffix in ("append_only", "no_truncate", "database_login"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix} ON {schema}.{table}")
        op.execute(f"DROP FUNCTION IF EXISTS {schema}.aftercare_append_only()")
        op.execute(f"DROP FUNCTION IF EXISTS {schema}.aftercare_database_login()")
        readers = ", ".join(READERS)
        for kind in ("TABLES", "SEQUENCES"):
            op.execute(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} IN SCHEMA {schema} "
                f"REVOKE ALL ON {kind} FROM {readers}"
            )
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {readers}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {readers}")
        op.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {readers}")
        # The tables go back to whoever steps the schema back; the roles stay (other
        # databases on the server may use them).
        tables = connection.scalars(
            text("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()")
        ).all()
        for table in tables:
            op.execute(f"ALTER TABLE {schema}.{_quoted(table)} OWNER TO current_user")
    for table in APPEND_ONLY:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("database_login")
