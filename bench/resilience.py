"""Resilience benchmark: an alert is never lost through a long outage, a stop, a broken
service of two, or fifty emergencies at once.

1. Outage: `--escalations` emergencies (default policies) while the one HTTP receiver
   all tags lead to is down for 70 minutes of a fixed clock (a round every 30 s),
   then up again: the fraction of the open escalations' current-step pages delivered
   within 2 minutes of the recovery (rounds every 10 s).
2. Stop: a real `aftercare dispatch` process sending 20 alerts (40 pages) to a receiver
   taking 0.4 s a message gets SIGTERM mid-batch: seconds until it has exited (the
   lease is handed over on the way out). A restart then sends the rest; pages lost
   and pages sent twice are counted too.
3. One broken service of two: the on-call tag reaches a working HTTP receiver and a
   port nobody listens on; 20 minutes of rounds: pages to the working one after its
   first success.
4. Burst: `--burst` emergencies (50) due at once to one local SMTP server: seconds
   from the dispatcher's start until the last email arrives.

The last line is JSON: {"outage_70min_delivered": ..., "sigterm_handover_s": ...,
"sigterm_lost": ..., "sigterm_repeats": ..., "healthy_service_repeats": ...,
"burst_50_s": ...} (the burst key names its size). Targets: 1.0, <= 5, 0, 0, 0, <= 15.

Usage: .venv/bin/python bench/resilience.py [--escalations 10] [--burst 50] [--smoke].
`--smoke` (tiny sizes, seconds) only proves the benchmark still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import select  # noqa: E402

from bench.support import (  # noqa: E402
    HOST,
    HttpReceiver,
    SmtpReceiver,
    _QuietServer,
    add_patient,
    add_staff,
    free_port,
    wait_for,
)
from core.clock import Clock, FixedClock, SystemClock  # noqa: E402
from core.commands import TriageEntry  # noqa: E402
from core.domain import Disposition, EscalationStatus, NotificationStatus, Role  # noqa: E402
from core.escalation import EscalationPolicy, EscalationStep  # noqa: E402
from core.triage import assess, parse_triage_input  # noqa: E402
from db import migrate  # noqa: E402
from db.database import Database  # noqa: E402
from db.engine import make_engine, make_session_factory, transaction  # noqa: E402
from db.followup import Actor  # noqa: E402
from db.models import Escalation, OutboxNotification  # noqa: E402
from db.triage import record_triage  # noqa: E402
from notifiers.delivery import apprise_deliverer  # noqa: E402
from notifiers.dispatcher import Dispatcher  # noqa: E402

FINDINGS = parse_triage_input({"day": 1, "symptoms": ["throat_tightness"], "country": "JP"})
ONE_STEP = {Disposition.EMERGENCY: EscalationPolicy((EscalationStep(("oncall",), 60),), repeat=1)}
AFTERCARE = str(Path(sys.executable).with_name("aftercare"))


def _database(folder: Path, clock: Clock) -> tuple[Database, Actor, int, str]:
    """A migrated SQLite database with a coordinator and a tagged treating physician."""
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    database = Database(engine, make_session_factory(engine))
    with transaction(database.sessions) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, clock.now(), notify_tag="dr-lee")
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        doctor_id = doctor.id
    return database, actor, doctor_id, url


def _emergencies(
    database: Database, actor: Actor, clock: Clock, count: int, treating_id: int | None
) -> None:
    now = clock.now()
    with transaction(database.sessions) as session:
        for i in range(count):
            patient = add_patient(
                session,
                f"R-{i}",
                procedure_at=now - timedelta(days=1),
                created_at=now,
                treating_physician_id=treating_id,
            )
            record_triage(
                session,
                patient_id=patient.id,
                entry=TriageEntry(FINDINGS, assess(FINDINGS)),
                actor=actor,
                now=now,
            )


def _config(folder: Path, entries: list[tuple[str, str]]) -> Path:
    path = folder / "apprise.yml"
    path.write_text(
        "version: 1\nurls:\n" + "".join(f"  - {url}:\n      tag: {tag}\n" for url, tag in entries)
    )
    path.chmod(0o600)
    return path


def _rounds(dispatcher: Dispatcher, clock: FixedClock, minutes: float, every: int) -> None:
    for _ in range(int(minutes * 60 / every)):
        clock.advance(timedelta(seconds=every))
        dispatcher.run_once()


def outage(folder: Path, escalations: int, minutes: int = 70) -> float:
    """The fraction of the open escalations' current-step pages delivered within two
    minutes of the end of a `minutes`-long outage of the only receiver."""
    clock = FixedClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    database, actor, doctor_id, _ = _database(folder, clock)
    _emergencies(database, actor, clock, escalations, doctor_id)
    receiver = HttpReceiver()
    tags = ("oncall", "senior", "physicians", "dr-lee")
    config = _config(folder, [(receiver.url(f"/{tag}"), tag) for tag in tags])
    dispatcher = Dispatcher(database, apprise_deliverer(config), clock)
    dispatcher.run_once()  # the receiver is not listening yet: the outage
    _rounds(dispatcher, clock, minutes, every=30)
    with receiver:
        _rounds(dispatcher, clock, 2, every=10)
    with database.sessions() as session:
        rows = session.execute(
            select(OutboxNotification.status)
            .join(Escalation, Escalation.id == OutboxNotification.escalation_id)
            .where(
                Escalation.status == EscalationStatus.OPEN,
                Escalation.current_step == OutboxNotification.step,
                Escalation.cycle == OutboxNotification.cycle,
            )
        ).all()
    database.close()
    return sum(status is NotificationStatus.SENT for (status,) in rows) / max(1, len(rows))


def healthy_service_repeats(folder: Path, minutes: int = 20) -> int:
    """Pages to the working service of two after its first success (the same page
    again; one step, waiting an hour, so no later step pages anyone)."""
    clock = FixedClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    database, actor, _, _ = _database(folder, clock)
    _emergencies(database, actor, clock, 1, None)
    with HttpReceiver() as pager:
        broken = f"json://{HOST}:{free_port()}/mail"  # nobody listens there
        config = _config(folder, [(pager.url("/pager"), "oncall"), (broken, "oncall")])
        dispatcher = Dispatcher(database, apprise_deliverer(config), clock, policies=ONE_STEP)
        dispatcher.run_once()
        _rounds(dispatcher, clock, minutes, every=30)
        titles = [json.loads(post)["title"] for post in pager.posts]
        repeats = len(titles) - len(set(titles))
    database.close()
    return repeats


class _SlowReceiver:
    """An HTTP receiver taking `delay` s a message, recording (title, path) of each."""

    def __init__(self, delay: float) -> None:
        self.port = free_port()
        self.posts: list[tuple[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.append((str(json.loads(body).get("title")), self.path))
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer((HOST, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sigterm(folder: Path, alerts: int = 20) -> tuple[float, int, int]:
    """Seconds from SIGTERM mid-batch until `aftercare dispatch` exited, then, after a
    restart, the pages lost and the pages sent twice."""
    clock = SystemClock()
    database, actor, doctor_id, url = _database(folder, clock)
    _emergencies(database, actor, clock, alerts, doctor_id)
    receiver = _SlowReceiver(0.4)
    config = _config(
        folder,
        [
            (f"json://{HOST}:{receiver.port}/oncall", "oncall"),
            (f"json://{HOST}:{receiver.port}/dr-lee", "dr-lee"),
        ],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        AFTERCARE_DATABASE_URL=url,
        AFTERCARE_APPRISE_CONFIG=str(config),
        HOME=str(folder),
        XDG_CONFIG_HOME=str(folder / "config"),
    )
    process = subprocess.Popen(
        [AFTERCARE, "dispatch", "--interval", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(receiver.posts) >= min(6, alerts), timeout=60)
        process.send_signal(signal.SIGTERM)
        asked = time.perf_counter()
        process.wait(timeout=60)
        took = time.perf_counter() - asked
    finally:
        if process.poll() is None:
            process.kill()
    with database.sessions() as session:
        rows = session.execute(select(OutboxNotification.title, OutboxNotification.target_tag))
        wanted = Counter((title, f"/{tag}") for title, tag in rows)
    deadline = time.monotonic() + 120
    while Counter(receiver.posts).keys() < wanted.keys() and time.monotonic() < deadline:
        subprocess.run(
            [AFTERCARE, "dispatch", "--once"], env=env, capture_output=True, timeout=120, check=True
        )
    got = Counter(receiver.posts)
    receiver.close()
    database.close()
    lost = sum(1 for page in wanted if page not in got)
    repeats = sum(count - 1 for count in got.values() if count > 1)
    return took, lost, repeats


def burst(folder: Path, count: int) -> float:
    """Seconds from a dispatcher starting, with `count` emergencies due, until the last
    email arrives at the one SMTP server they all go to."""
    clock = SystemClock()
    database, actor, _, _ = _database(folder, clock)
    _emergencies(database, actor, clock, count, None)
    with SmtpReceiver() as smtp:
        url = (
            f"'mailto://alerts:pw@127.0.0.1:{smtp.port}?smtp=127.0.0.1&mode=insecure"
            "&from=alerts@example.org&to=oncall@example.org'"
        )
        dispatcher = Dispatcher(
            database, apprise_deliverer(_config(folder, [(url, "oncall")])), clock
        )
        stop = threading.Event()
        runner = threading.Thread(target=dispatcher.run_forever, args=(stop, 0.2), daemon=True)
        started = time.perf_counter()
        runner.start()
        try:
            wait_for(lambda: len(smtp.messages) >= count, timeout=600)
            took = time.perf_counter() - started
        finally:
            stop.set()
            runner.join(timeout=30)
    database.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--escalations", type=int, default=10)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes (seconds): does it still run?"
    )
    args = parser.parse_args()
    minutes, alerts = 70, 20
    if args.smoke:
        args.escalations, args.burst, minutes, alerts = 1, 3, 20, 4
    if min(args.escalations, args.burst) < 1:
        parser.error("--escalations and --burst must be at least 1")
    with tempfile.TemporaryDirectory(prefix="aftercare-resilience-") as scratch:
        folder = Path(scratch)
        for part in "abcd":
            (folder / part).mkdir()
        delivered = outage(folder / "a", args.escalations, minutes)
        print(
            f"{minutes}-minute outage, {args.escalations} open emergencies: "
            f"{delivered:.0%} of the current step's pages delivered within 2 min of recovery "
            "(target 100%)"
        )
        took, lost, repeats = sigterm(folder / "b", alerts)
        print(
            f"SIGTERM mid-batch of {alerts} alerts: exited after {took:.2f} s (target <= 5 s); "
            f"after a restart {lost} pages lost, {repeats} sent twice (target 0, 0)"
        )
        healthy = healthy_service_repeats(folder / "c")
        print(
            f"one broken service of two, 20 minutes: the working one paged {healthy} "
            "more times after its first success (target 0)"
        )
        burst_s = burst(folder / "d", args.burst)
        print(
            f"{args.burst} emergencies due at once, one SMTP server: the last arrived after "
            f"{burst_s:.2f} s (target <= 15 s for 50)"
        )
    print(
        json.dumps(
            {
                f"outage_{minutes}min_delivered": round(delivered, 3),
                "sigterm_handover_s": round(took, 3),
                "sigterm_lost": lost,
                "sigterm_repeats": repeats,
                "healthy_service_repeats": healthy,
                f"burst_{args.burst}_s": round(burst_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
