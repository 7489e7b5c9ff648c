"""PostgreSQL peer authentication through a pg_ident.conf map, as docs/deployment.md
sets it up for one role per person: the operating system says who connects over the
local socket, and the map says which database role that login may be.

`.ci/run` (as root) adds the map `aftercare_peer_test` (OS login `aftercare-peer-t` ->
role `rn_peer_test`) and a `pg_hba.conf` line using it, then reloads PostgreSQL. The
test needs root to run `psql` as other logins; under CI it must not skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_ENV

pytestmark = pytest.mark.account

OS_LOGIN = "aftercare-peer-t"
ROLE = "rn_peer_test"
MAP = "aftercare_peer_test"


def _not_ready(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: under CI the peer-authentication test must run")
    pytest.skip(reason)


@pytest.fixture
def superuser_url() -> Iterator[str]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        _not_ready(f"{POSTGRES_ENV} is not set")
        return
    if os.geteuid() != 0:
        pytest.skip("connecting as other operating-system logins needs root (CI's root run)")
    if shutil.which("psql") is None or shutil.which("runuser") is None:
        _not_ready("psql and runuser are needed")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            hba = connection.scalar(text("SHOW hba_file"))
            rules = connection.execute(
                text("SELECT array_to_string(options, ',') FROM pg_hba_file_rules")
            ).scalars()
            if f"map={MAP}" not in {rule or "" for rule in rules}:
                _not_ready(f"{hba} has no line using the map {MAP} (.ci/run adds it)")
        with engine.begin() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": ROLE}
            )
            if not exists:
                connection.execute(text(f"CREATE ROLE {ROLE} LOGIN"))
        yield url
    finally:
        engine.dispose()


def _psql_as(os_login: str, role: str) -> subprocess.CompletedProcess[str]:
    # Over the local socket only: that is where peer authentication applies.
    psql = ["psql", "-X", "-d", "test", "-U", role, "-h", "/var/run/postgresql"]
    return subprocess.run(
        ["runuser", "-u", os_login, "--", *psql, "-Atc", "SELECT session_user"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )


def test_the_mapped_login_connects_as_its_role_and_no_other_login_can(
    superuser_url: str,
) -> None:
    mapped = _psql_as(OS_LOGIN, ROLE)
    assert mapped.returncode == 0, mapped.stderr
    assert mapped.stdout.strip() == ROLE
    # Another operating-system login asking for the same role is refused by the server.
    other = _psql_as("nobody", ROLE)
    assert other.returncode != 0
    assert "Peer authentication failed" in other.stderr, other.stderr
