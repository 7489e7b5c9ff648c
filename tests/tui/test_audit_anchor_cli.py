"""`aftercare audit anchor`, `audit verify --anchors` and the anchor every backup takes,
as an admin meets them: the commands' own `register` on a bare Typer app, run in
process with the real configuration loader, a real SQLite database and anchor file,
and the clinic's Apprise file sending to a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy import delete
from typer.testing import CliRunner, Result

from db.audit import record
from db.engine import make_engine, make_session_factory, transaction
from db.models import AuditEvent
from tests.notifiers.receivers import HttpReceiver
from tui.cli import audit, backup


@pytest.fixture
def cli(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    for key in list(os.environ):
        if key.startswith("AFTERCARE_") and not key.startswith("AFTERCARE_TEST_"):
            monkeypatch.delenv(key)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(key, cli_env[key])
    app = typer.Typer()
    audit.register(app)
    backup.register(app)
    return app


@pytest.fixture
def anchors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "audit-anchors"
    folder.mkdir(mode=0o750)
    file = folder / "anchors.jsonl"
    monkeypatch.setenv("AFTERCARE_AUDIT_ANCHOR_FILE", str(file))
    return file


@pytest.fixture
def database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: typer.Typer, _sqlite_template: Path
) -> Iterator[str]:
    """A SQLite database at this version's schema (a copy of the suite's migrated one)."""
    path = tmp_path / "clinic" / "aftercare.db"
    path.parent.mkdir()
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", url)
    yield url


def _events(url: str, first: int, count: int) -> None:
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            for n in range(first, first + count):
                record(
                    session,
                    at=datetime(2026, 11, 22, 6, tzinfo=UTC) + timedelta(minutes=n),
                    actor="rn.kim",
                    action="patient.update",
                    entity="patient",
                    entity_id=n,
                    after={"phone": f"+1-555-01{n:02}"},
                )
    finally:
        engine.dispose()


def run(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_anchor_then_verify_and_a_deleted_tail_named(
    cli: typer.Typer, database: str, anchors: Path
) -> None:
    _events(database, 1, 3)
    first = run(cli, "audit", "anchor")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith(
        f"audit anchor written to {anchors}: newest event 3, 3 events in all, hash "
    )
    assert first.stderr == (
        "aftercare: warning: audit anchor not sent: apprise_config is not set, so there is "
        "no `audit` tag to send to\n"
    )
    _events(database, 4, 3)
    assert run(cli, "audit", "anchor").exit_code == 0
    intact = run(cli, "audit", "verify", "--anchors", str(anchors))
    assert (intact.exit_code, intact.stdout) == (
        0,
        "audit chain intact: 6 events, 2 anchors checked\n",
    )
    engine = make_engine(database)
    try:
        with transaction(make_session_factory(engine)) as session:
            session.execute(delete(AuditEvent).where(AuditEvent.id >= 5))
    finally:
        engine.dispose()
    assert run(cli, "audit", "verify").stdout == "audit chain intact: 4 events\n"
    broken = run(cli, "audit", "verify", "--anchors", str(anchors))
    assert broken.exit_code == 1
    taken = json.loads(anchors.read_text().splitlines()[1])["anchored_at"][:16]
    assert broken.stdout == (
        f"audit chain NOT intact: anchor 2 of 2 (line 2, taken {taken.replace('T', ' ')} UTC "
        "(by hand) at audit event 6) fails: the audit trail ends at event 4, before the "
        "anchored event 6: the newest events were removed, or an older copy of the database "
        "was put back\n"
    )


def test_a_group_writable_anchor_file_is_refused_and_a_bad_one_cannot_be_checked(
    cli: typer.Typer, database: str, anchors: Path
) -> None:
    anchors.write_text("")
    anchors.chmod(0o660)
    refused = run(cli, "audit", "anchor")
    assert refused.exit_code == 1
    assert "anchor not written" in refused.stderr and "chmod 640" in refused.stderr
    assert anchors.read_text() == ""
    empty = run(cli, "audit", "verify", "--anchors", str(anchors))
    assert empty.exit_code == 2
    assert empty.stderr == (
        f"aftercare: {anchors} holds no anchors; `aftercare audit anchor` writes one\n"
    )


def _audit_apprise_file(
    folder: Path, receiver: HttpReceiver, mode: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Apprise file whose `audit` tag reaches `receiver`, with `mode`, in the settings."""
    config = folder / "apprise.yml"
    config.write_text(f"version: 1\nurls:\n  - {receiver.url('/audit')}:\n      tag: audit\n")
    config.chmod(mode)
    monkeypatch.setenv("AFTERCARE_APPRISE_CONFIG", str(config))


def test_every_backup_anchors_what_it_holds_and_sends_it(
    cli: typer.Typer, database: str, anchors: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _events(database, 1, 4)
    with HttpReceiver() as receiver:
        _audit_apprise_file(tmp_path, receiver, 0o600, monkeypatch)
        copy = tmp_path / "backup.db"
        result = run(cli, "backup", str(copy))
        assert result.exit_code == 0, result.stderr
        (post,) = receiver.wait_for_posts(1)
    lines = result.stdout.splitlines()
    assert lines[1].startswith(
        f"audit anchor written to {anchors}: newest event 4, 4 events in all"
    )
    assert lines[2] == "audit anchor sent to the 'audit' tag (1 service)"
    (kept,) = anchors.read_text().splitlines()
    assert json.loads(kept)["why"] == "backup backup.db"
    assert post.body["message"].splitlines()[-1] == kept
    # The backup's anchor holds against the database it was taken from.
    verified = run(cli, "audit", "verify", "--anchors", str(anchors))
    assert verified.stdout == "audit chain intact: 4 events, 1 anchor checked\n"


def test_an_anchor_is_never_sent_with_an_apprise_file_the_group_can_change(
    cli: typer.Typer, database: str, anchors: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whoever can change the file decides where the anchor goes: then it anchors nothing.
    _events(database, 1, 2)
    with HttpReceiver() as receiver:
        _audit_apprise_file(tmp_path, receiver, 0o660, monkeypatch)
        result = run(cli, "audit", "anchor")
        assert receiver.posts == []
    assert result.exit_code == 1, result.stdout
    assert "the group can change it" in result.stderr, result.stderr
    assert len(anchors.read_text().splitlines()) == 1  # written to the file all the same
