"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from AFTERCARE_TEST_POSTGRES_URL (set by .ci/run). Each test
gets a database of its own on each backend, so tests never see each other's rows.
Under CI a missing PostgreSQL is a failure, never a silent skip.

Migrating from nothing costs about half a second a test, so the migrations run
once per session and a test that asks for `engine` gets a copy of that result:
on SQLite a copy of a migrated template file; on PostgreSQL a migrated schema
from a small pool, emptied back to the template's rows and sequence positions
after each test (a schema whose structure a test changed is dropped, never
reused). A test that asks only for `db_url` still gets a truly empty database.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, MetaData, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from core.clock import FixedClock
from db import migrate
from db.engine import make_engine

POSTGRES_ENV = "AFTERCARE_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]

# A fixed instant for tests: a Sunday afternoon in Seoul.
TEST_NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set under CI: PostgreSQL tests must run")
        pytest.skip(f"{POSTGRES_ENV} not set")
    return url


def _schema_url(base: URL, schema: str) -> str:
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


# A schema's structure, with its own name taken out so two schemas compare equal.
_FINGERPRINT = """
SELECT replace(coalesce(string_agg(x, E'\\n' ORDER BY x), ''), :schema, '') FROM (
  SELECT 'col ' || table_name || '.' || column_name || ' ' || data_type || ' '
         || is_nullable || ' ' || coalesce(column_default, '') AS x
    FROM information_schema.columns WHERE table_schema = :schema
  UNION ALL SELECT 'idx ' || indexdef FROM pg_indexes WHERE schemaname = :schema
  UNION ALL SELECT 'con ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
   WHERE n.nspname = :schema
  UNION ALL SELECT 'seq ' || sequencename FROM pg_sequences WHERE schemaname = :schema
  UNION ALL SELECT 'trg ' || t.tgname FROM pg_trigger t
    JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
   WHERE n.nspname = :schema AND NOT t.tgisinternal
  UNION ALL SELECT 'fn ' || p.proname FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :schema
) parts
"""


@dataclass
class _PostgresSchemas:
    """Migrated schemas on the test server, reused across tests once emptied."""

    base: URL
    admin: Engine
    template: str = ""
    fingerprint: str = ""
    # Tables children first, so rows can be deleted without breaking a foreign key.
    delete_order: list[str] = field(default_factory=list)
    seeded: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    free: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def _new_schema(self, prefix: str) -> str:
        schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.created.append(schema)
        eng = make_engine(_schema_url(self.base, schema))
        try:
            migrate.upgrade(eng)
        finally:
            eng.dispose()
        return schema

    def _fingerprint(self, connection: Connection, schema: str) -> str:
        structure = connection.scalar(text(_FINGERPRINT), {"schema": schema}) or ""
        version = connection.scalar(
            text(f'SELECT max(version_num) FROM "{schema}".alembic_version')
        )
        return f"{structure}\nversion {version}"

    def start(self) -> None:
        """Migrate the template schema and learn how to empty a copy of it."""
        self.template = self._new_schema("t_template")
        reflected = MetaData()
        with self.admin.connect() as connection:
            reflected.reflect(connection, schema=self.template)
            self.fingerprint = self._fingerprint(connection, self.template)
            names = [table.name for table in reversed(reflected.sorted_tables)]
            self.delete_order = names
            self.seeded = [
                name
                for name in names
                if connection.scalar(text(f'SELECT 1 FROM "{self.template}"."{name}" LIMIT 1'))
            ]
            self.sequences = list(
                connection.scalars(
                    text("SELECT sequencename FROM pg_sequences WHERE schemaname = :s"),
                    {"s": self.template},
                )
            )

    def take(self) -> str:
        """A schema at head holding exactly what the migrations put there."""
        return self.free.pop() if self.free else self._new_schema("t")

    def give_back(self, schema: str) -> None:
        """Empty `schema` for the next test, or drop it if it is no longer the template's twin."""
        try:
            with self.admin.connect() as connection:
                same = self._fingerprint(connection, schema) == self.fingerprint
            if same:
                # One transaction, not autocommit: a lock left behind times out cleanly.
                with self.admin.execution_options(
                    isolation_level="READ COMMITTED"
                ).begin() as connection:
                    connection.execute(text("SET LOCAL lock_timeout = '5s'"))
                    for name in self.delete_order:
                        connection.execute(text(f'DELETE FROM "{schema}"."{name}"'))
                    for name in self.seeded:
                        connection.execute(
                            text(
                                f'INSERT INTO "{schema}"."{name}" '
                                f'SELECT * FROM "{self.template}"."{name}"'
                            )
                        )
                    for name in self.sequences:
                        # Same position as in the template: ids start where they
                        # would on a freshly migrated database.
                        connection.execute(
                            text(
                                f'SELECT setval(\'"{schema}"."{name}"\', s.last_value, '
                                f's.is_called) FROM "{self.template}"."{name}" s'
                            )
                        )
        except DBAPIError:
            same = False  # still locked by something the test left behind: never reuse
        if same:
            self.free.append(schema)
        else:
            self.drop(schema)

    def drop(self, schema: str) -> None:
        """Drop one schema this session created."""
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if schema in self.created:
            self.created.remove(schema)

    def close(self) -> None:
        """Drop every schema this session created."""
        for schema in list(self.created):
            self.drop(schema)
        self.admin.dispose()


@pytest.fixture(scope="session")
def _postgres_schemas() -> Iterator[_PostgresSchemas]:
    base = make_url(_postgres_base_url()).set(drivername="postgresql+psycopg")
    schemas = _PostgresSchemas(base, create_engine(base, isolation_level="AUTOCOMMIT"))
    try:
        schemas.start()
        yield schemas
    finally:
        schemas.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at head, checkpointed, for tests to copy."""
    path = tmp_path_factory.mktemp("template") / "aftercare.db"
    eng = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(eng)
        with eng.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        eng.dispose()  # the last connection out folds the WAL into the file
    return path


@pytest.fixture(params=BACKENDS, ids=[f"db={b}" for b in BACKENDS])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL on each backend: empty (no schema yet), or at head when the
    test also asks for `engine`."""
    migrated = "engine" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "aftercare.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    schemas: _PostgresSchemas = request.getfixturevalue("_postgres_schemas")
    if migrated:
        schema = schemas.take()
        try:
            yield _schema_url(schemas.base, schema)
        finally:
            schemas.give_back(schema)
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with schemas.admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    schemas.created.append(schema)
    try:
        yield _schema_url(schemas.base, schema)
    finally:
        schemas.drop(schema)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A database at head on each backend (see the module docstring)."""
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at TEST_NOW."""
    return FixedClock(TEST_NOW)


@pytest.fixture
def os_login() -> str:
    """The operating-system login the product sees for this process.

    aftercare trusts only the account the process runs as (tui.identity), so a
    test that acts through a command registers this login as the staff member
    it acts as, and passes it as LOGNAME/USER too (which only root's may name).
    That works alike for root and for an ordinary user.
    """
    return pwd.getpwuid(os.geteuid()).pw_name


# A test whose outcome may depend on the account running it looks at that account or at
# file permissions: who the product thinks is at the keyboard (root may name a login,
# anyone else is their own), the first admin (root or the database file's owner), modes
# and owners of the files it writes, folders it cannot write (root ignores permission
# bits). CI runs the whole suite as an ordinary user and the modules that mention any of
# these again as root. A module can also say so itself: `pytestmark = pytest.mark.account`.
_ACCOUNT_WORDS = re.compile(
    r"geteuid|getuid|getpwuid|st_mode|st_uid|umask|os\.access|unshare|\.stat\(\)"
)


# The tests that take longest (CI's --durations list), run first: pytest-xdist hands out
# tests in collection order and idle workers steal from the end of a busy one's queue, so
# a long test collected last would run alone while the other core waits for it. Whole
# modules or single tests; modules keep their own order.
_SLOW_FIRST = (
    "tests/tui/test_record_keyboard.py",
    "tests/notifiers/test_dispatch_process.py::test_sigkill",
    "tests/test_bench_smoke.py",
    "tests/db/test_alert_health.py",
    "tests/db/test_import_chunks.py",
    "tests/notifiers/test_stop.py",
    "tests/notifiers/test_resilience.py",
    "tests/core/test_triage.py::test_every_symptom_on_every_day",
    "tests/tui/test_care_forms.py",
    "tests/tui/test_triage_form.py",
    "tests/tui/test_export_cli.py",
    "tests/tui/test_search_screen.py",
    "tests/tui/test_whereabouts_form.py",
)


def _start_rank(item: pytest.Item) -> int:
    for rank, prefix in enumerate(_SLOW_FIRST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(_SLOW_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `account` every test in a module that looks at who runs it, and put the
    slowest tests first (see above)."""
    sensitive: dict[Path, bool] = {}
    for item in items:
        path = item.path
        if path not in sensitive:
            sensitive[path] = bool(_ACCOUNT_WORDS.search(path.read_text(encoding="utf-8")))
        if sensitive[path]:
            item.add_marker(pytest.mark.account)
    items.sort(key=_start_rank)  # stable: every other test keeps its place


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly how many database tests ran on each backend."""
    counts = {backend: {"passed": 0, "failed": 0, "skipped": 0} for backend in BACKENDS}
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            for backend in BACKENDS:
                if re.search(rf"[\[-]db={backend}[\]-]", nodeid):
                    counts[backend][outcome] += 1
    terminalreporter.write_sep("=", "database backends")
    for backend, c in counts.items():
        terminalreporter.write_line(
            f"{backend:<11} {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"
        )
