"""Only the clinic's own Apprise file sends physician alerts, and no token is stored or shown.

A coordinator who starts the app or the dispatcher with an Apprise file of their own
(group-writable here: the one kind every account, root included, can make in a test)
never takes the dispatcher lease and sends nothing while emergencies are due. The
clinic's file (owned by the program's owner, not writable by the group) sends, and the
lease and every page name it. Real dispatchers, a real receiver on 127.0.0.1, both
databases; the `aftercare` commands as processes.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.config import Settings
from core.domain import NotificationStatus, Role
from db.database import Database
from db.engine import make_session_factory, transaction
from db.escalations import dispatcher_active
from db.followup import Actor
from db.models import DispatcherLease, OutboxNotification
from db.services import Clinic
from notifiers.apprise_setup import load_apprise
from notifiers.clinic_config import SendingConfiguration, not_the_clinics
from notifiers.delivery import deliverer_for
from notifiers.dispatcher import Dispatcher
from tests.factories import add_staff, add_triaged_patient
from tests.notifiers.receivers import HttpReceiver
from tests.tui.test_cli import assert_one_clear_line, run_cli

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
TOKEN = "Zx81hookSecretQ7"
"""A webhook's path token: the whole key to the hook, never to be stored or shown."""
DOWN_TOKEN = "Dn55deadHookR2"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


def write_apprise(path: Path, receiver: HttpReceiver, mode: int, down_port: int = 9) -> Path:
    """An Apprise file: oncall and the physician at webhooks keyed by path tokens, plus a
    hook nobody listens on (its failure is stored too)."""
    path.write_text(
        "version: 1\nurls:\n"
        f"  - {receiver.url('/' + TOKEN)}:\n"
        "      tag: oncall, senior, physicians\n"
        f"  - {receiver.url('/dr-lee-' + TOKEN)}:\n"
        "      tag: dr-lee\n"
        f"  - json://127.0.0.1:{down_port}/{DOWN_TOKEN}:\n"
        "      tag: dr-lee\n"
    )
    path.chmod(mode)
    return path


@pytest.fixture
def due(engine: Engine, clock: FixedClock) -> Database:
    """A database with one emergency whose pages are due now."""
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        staff = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        doctor.notify_tag = "dr-lee"
        nurse = Actor(staff.id, staff.username, staff.display_name)
        saved = add_triaged_patient(
            session, "P-1", now=now, actor=nurse, findings=EMERGENCY, treating_id=doctor.id
        )
        assert saved.escalation_id is not None
    return Database(engine, make_session_factory(engine))


def _dispatcher(database: Database, clock: FixedClock, path: Path) -> Dispatcher:
    """The dispatcher as the app and `aftercare dispatch` build it."""
    loaded = load_apprise(path, strict=False)
    return Dispatcher(database, deliverer_for(loaded), clock, configuration=loaded.configuration)


def _rows(database: Database) -> list[OutboxNotification]:
    with database.sessions() as session:
        return list(session.scalars(select(OutboxNotification).order_by(OutboxNotification.id)))


def test_a_group_writable_file_never_takes_the_lease_and_sends_nothing(
    due: Database, clock: FixedClock, tmp_path: Path, receiver: HttpReceiver
) -> None:
    own = write_apprise(tmp_path / "mine.yml", receiver, 0o660)
    dispatcher = _dispatcher(due, clock, own)
    assert dispatcher.refusal is not None and str(own) in dispatcher.refusal
    assert "the group can change it" in dispatcher.refusal

    for _ in range(3):
        assert not dispatcher.run_once().held_lease
    dispatcher.release()

    assert receiver.posts == []
    assert {row.status for row in _rows(due)} == {NotificationStatus.PENDING}
    with due.sessions() as session:
        assert session.scalar(select(DispatcherLease.owner)) is None  # never even created
        assert dispatcher_active(session, clock.now()) is None


def test_the_clinics_file_sends_names_itself_and_stores_no_token(
    due: Database, clock: FixedClock, tmp_path: Path, receiver: HttpReceiver
) -> None:
    clinics = write_apprise(tmp_path / "apprise.yml", receiver, 0o600)
    dispatcher = _dispatcher(due, clock, clinics)
    assert dispatcher.refusal is None
    sha256 = dispatcher.sent_with.sha256 if dispatcher.sent_with else ""
    assert len(sha256) == 64

    assert dispatcher.run_once().held_lease
    assert len(receiver.wait_for_posts(2)) == 2  # oncall and dr.lee, one each

    with due.sessions() as session:
        lease = session.scalars(select(DispatcherLease)).one()
        assert (lease.config_path, lease.config_sha256) == (str(clinics), sha256)
        assert dispatcher.configuration is not None
        assert lease.config_owner == dispatcher.configuration.owner
    rows = _rows(due)
    assert {(row.config_path, row.config_sha256) for row in rows} == {(str(clinics), sha256)}
    stored = json.dumps([[row.results, row.last_error] for row in rows])
    assert TOKEN not in stored and DOWN_TOKEN not in stored
    assert "json://127.0.0.1:" in stored  # the services are still named, masked

    # The alerts screen's read: which file sent each page and the lease's holder.
    read = Clinic(due, Settings(database_url="sqlite:///unused.db"), clock).physician_alerts()
    notifications = [n for alert in read.alerts for n in alert.notifications]
    assert {n.sent_with.words() for n in notifications if n.sent_with} == {
        f"{clinics} ({sha256[:12]})"
    }
    assert read.holder is not None and read.holder.sent_with is not None
    assert read.holder.sent_with.path == str(clinics)
    shown = " ".join(" ".join(n.services) + (n.last_error or "") for n in notifications)
    assert "127.0.0.1" in shown and TOKEN not in shown and DOWN_TOKEN not in shown


def test_the_rule_names_path_owner_and_mode() -> None:
    def conf(uid: int, mode: int) -> SendingConfiguration:
        return SendingConfiguration("/etc/aftercare/apprise.yml", uid, f"user{uid}", mode, "0" * 64)

    clinic = {0: "root", 998: "aftercare"}
    regular = stat.S_IFREG
    assert not_the_clinics(conf(998, regular | 0o600), clinic) is None
    assert not_the_clinics(conf(0, regular | 0o640), clinic) is None
    assert not_the_clinics(conf(1001, regular | 0o600), clinic) == (
        "/etc/aftercare/apprise.yml (owner user1001, mode 600) is not the clinic's Apprise "
        "configuration: only root or aftercare may own it"
    )
    assert not_the_clinics(conf(998, regular | 0o662), clinic) == (
        "/etc/aftercare/apprise.yml (owner user998, mode 662) is not the clinic's Apprise "
        "configuration: the group and others can change it"
    )
    fifo = not_the_clinics(conf(0, stat.S_IFIFO | 0o600), clinic)
    assert fifo is not None and "not a regular file" in fifo


def _env(tmp_path: Path, apprise: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        AFTERCARE_DATABASE_URL=f"sqlite:///{tmp_path / 'never-opened.db'}",
        AFTERCARE_APPRISE_CONFIG=str(apprise),
    )
    return env


def test_dispatch_with_a_file_not_the_clinics_refuses_in_one_line(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    own = write_apprise(tmp_path / "mine.yml", receiver, 0o664)

    result = run_cli("dispatch", "--once", env=_env(tmp_path, own))

    assert result.returncode == 2
    owner = own.owner()
    assert_one_clear_line(result, str(own), f"owner {owner}, mode 664", "the group can change it")
    assert not (tmp_path / "never-opened.db").exists()  # refused before the database


def test_dispatch_with_a_file_of_another_owner_refuses(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another account")
    other = write_apprise(tmp_path / "theirs.yml", receiver, 0o600)
    os.chown(other, 65534, 65534)  # nobody

    result = run_cli("dispatch", "--once", env=_env(tmp_path, other))

    assert result.returncode == 2
    assert_one_clear_line(result, str(other), "(owner nobody, mode 600)", "may own it")


def test_notify_check_shows_no_webhook_token_or_topic(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    path = write_apprise(tmp_path / "apprise.yml", receiver, 0o600)
    with path.open("a") as more:
        more.write("  - ntfys://clinic-pages-Secret31:\n      tag: senior\n")

    result = run_cli("notify", "check", env=_env(tmp_path, path))

    said = result.stdout + result.stderr
    assert f"json://127.0.0.1:{receiver.port}/" in said
    assert "the clinic's own" in said
    for secret in (TOKEN, DOWN_TOKEN, "clinic-pages-Secret31"):
        assert secret not in said
