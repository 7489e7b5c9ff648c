"""Dispatch benchmark: alert latency to a real SMTP server, and throughput against plain Apprise.

1. Latency: with a dispatcher running (its own thread, 0.2 s rounds), save an
   emergency triage and time until the email arrives at a local aiosmtpd
   server. Apprise spaces emails to one service 5.5 s apart, so triages are
   saved 6 s apart (`--alerts` of them).
2. Throughput: N outbox rows to a local HTTP receiver (`json://`) through the
   dispatcher, against a plain loop of `Apprise.notify` calls to the same
   receiver, measured in the same run.

The last line is JSON: {"delivery_p95_s": ..., "throughput_per_s": ..., "ratio_vs_apprise": ...}

Usage: .venv/bin/python bench/dispatch.py [--alerts 10] [--rows 200] [--smoke]
`--smoke` (one alert, a few rows, seconds) only proves the benchmark still runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import apprise  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.support import (  # noqa: E402
    HttpReceiver,
    SmtpReceiver,
    add_patient,
    add_staff,
    wait_for,
)
from core.clock import SystemClock  # noqa: E402
from core.commands import TriageEntry  # noqa: E402
from core.domain import NotificationStatus, Role  # noqa: E402
from core.triage import assess, parse_triage_input  # noqa: E402
from db import migrate  # noqa: E402
from db.database import Database  # noqa: E402
from db.engine import make_engine, make_session_factory, transaction  # noqa: E402
from db.followup import Actor  # noqa: E402
from db.models import OutboxNotification  # noqa: E402
from db.triage import record_triage  # noqa: E402
from notifiers.delivery import apprise_deliverer  # noqa: E402
from notifiers.dispatcher import Dispatcher  # noqa: E402

FINDINGS = parse_triage_input({"day": 1, "symptoms": ["throat_tightness"], "country": "JP"})


def _p95(samples: list[float]) -> float:
    # quantiles() needs two samples; one alert (--alerts 1, --smoke) is its own p95.
    if len(samples) < 2:
        return max(samples)
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def _database(folder: Path) -> tuple[Database, Actor]:
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    migrate.upgrade(engine)
    database = Database(engine, make_session_factory(engine))
    with transaction(database.sessions) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, SystemClock().now())
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
    return database, actor


def _triage(database: Database, actor: Actor, code: str) -> None:
    now = SystemClock().now()
    with transaction(database.sessions) as session:
        patient = add_patient(session, code, procedure_at=now - timedelta(days=1), created_at=now)
        record_triage(
            session,
            patient_id=patient.id,
            entry=TriageEntry(FINDINGS, assess(FINDINGS)),
            actor=actor,
            now=now,
        )


def latency(folder: Path, alerts: int) -> list[float]:
    """Seconds from saving a triage to its email arriving, with a dispatcher running."""
    database, actor = _database(folder)
    samples = []
    with SmtpReceiver() as smtp:
        config = folder / "mail.yml"
        config.write_text(
            "version: 1\nurls:\n"
            f"  - 'mailto://alerts:pw@127.0.0.1:{smtp.port}?smtp=127.0.0.1&mode=insecure"
            "&from=alerts@example.org&to=oncall@example.org':\n      tag: oncall\n"
        )
        config.chmod(0o600)
        dispatcher = Dispatcher(database, apprise_deliverer(config), SystemClock())
        stop = threading.Event()
        runner = threading.Thread(target=dispatcher.run_forever, args=(stop, 0.2), daemon=True)
        runner.start()
        try:
            for i in range(alerts):
                started = time.perf_counter()
                _triage(database, actor, f"L-{i}")
                wanted = i + 1

                def arrived(wanted: int = wanted) -> bool:
                    return len(smtp.messages) >= wanted

                wait_for(arrived, timeout=30)
                samples.append(time.perf_counter() - started)
                if i + 1 < alerts:  # Apprise's per-service email spacing
                    time.sleep(max(0.0, 6.0 - samples[-1]))
        finally:
            stop.set()
            runner.join(timeout=10)
    database.close()
    return samples


def throughput(folder: Path, rows: int) -> tuple[float, float]:
    """Rows per second through the dispatcher, and plain Apprise notify calls per second."""
    database, actor = _database(folder)
    with HttpReceiver() as receiver:
        config = folder / "http.yml"
        config.write_text(f"version: 1\nurls:\n  - {receiver.url()}:\n      tag: oncall\n")
        config.chmod(0o600)
        for i in range(rows):  # no treating physician: one row (on-call) per triage
            _triage(database, actor, f"T-{i}")
        dispatcher = Dispatcher(database, apprise_deliverer(config), SystemClock(), batch=rows)
        started = time.perf_counter()
        while True:
            dispatcher.run_once()
            with database.sessions() as session:
                left = session.scalar(
                    select(OutboxNotification.id)
                    .where(OutboxNotification.status != NotificationStatus.SENT)
                    .limit(1)
                )
            if left is None:
                break
        ours = rows / (time.perf_counter() - started)
        assert len(receiver.posts) == rows

        plain = apprise.Apprise()
        plain.add(receiver.url(), tag="oncall")
        started = time.perf_counter()
        for i in range(rows):
            plain.notify(title=f"[E-{i} step 1] EMERGENCY", body="plain loop", tag="oncall")
        baseline = rows / (time.perf_counter() - started)
    database.close()
    return ours, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument(
        "--smoke", action="store_true", help="one alert and five rows: does it still run?"
    )
    args = parser.parse_args()
    if args.smoke:
        args.alerts, args.rows = 1, 5
    if args.alerts < 1 or args.rows < 1:
        parser.error("--alerts and --rows must be at least 1")
    with tempfile.TemporaryDirectory(prefix="aftercare-dispatch-") as scratch:
        folder = Path(scratch)
        (folder / "a").mkdir()
        (folder / "b").mkdir()
        samples = latency(folder / "a", args.alerts)
        p95 = _p95(samples)
        print(
            f"triage saved -> email received: median {statistics.median(samples):.2f} s, "
            f"p95 {p95:.2f} s, max {max(samples):.2f} s over {len(samples)} alerts "
            "(target p95 <= 2 s)"
        )
        ours, baseline = throughput(folder / "b", args.rows)
        ratio = ours / baseline
        print(
            f"throughput to the HTTP receiver: dispatcher {ours:.0f}/s, plain Apprise loop "
            f"{baseline:.0f}/s, ratio {ratio:.2f} (target >= 0.8)"
        )
    print(
        json.dumps(
            {
                "delivery_p95_s": round(p95, 3),
                "throughput_per_s": round(ours, 1),
                "ratio_vs_apprise": round(ratio, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
