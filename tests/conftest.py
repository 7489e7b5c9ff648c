"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from AFTERCARE_TEST_POSTGRES_URL (set by .ci/run). Each test
gets its own schema on that server, so tests never see each other's rows.
Under CI a missing PostgreSQL is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

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


@pytest.fixture(params=BACKENDS, ids=[f"db={b}" for b in BACKENDS])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL on each backend (no schema yet)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aftercare.db'}"
        return
    base = make_url(_postgres_base_url()).set(drivername="postgresql+psycopg")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A database at head on each backend."""
    eng = make_engine(db_url)
    migrate.upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at TEST_NOW."""
    return FixedClock(TEST_NOW)


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
