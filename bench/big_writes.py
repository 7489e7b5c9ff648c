"""Big-writes benchmark: an emergency saved while a big patient import is being written
is still paged out within seconds.

A SQLite database file (the embedded default, where one writer at a time holds the
lock), the real dispatcher polling every 0.2 s on its own thread, a real HTTP
receiver on 127.0.0.1. First the baseline: one emergency saved on the idle database,
seconds until its page arrives. Then a `--rows` patient import (10,000) starts on its
own thread through the service layer, as `aftercare import patients` runs it; once
its first chunk is in, a coordinator saves another emergency: seconds until that
page arrives, and whether it arrived before the import ended. Before imports went
in chunks, a 10,000-row file held the write lock for 88 s and paged nothing.

The last line is JSON: {"import_10k_alert_delay_s": ..., "idle_alert_delay_s": ...,
"delay_ratio": ..., "paged_before_import_ended": ..., "import_10k_s": ...} (the keys
name the row count). Target: the delay <= 5 s.

Usage: .venv/bin/python bench/big_writes.py [--rows 10000] [--smoke].
`--smoke` (60 rows, seconds) only proves the benchmark still runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench.support import (  # noqa: E402
    HttpReceiver,
    add_patient,
    add_staff,
    patient_file_rows,
    wait_for,
)
from core.clock import SystemClock  # noqa: E402
from core.commands import TriageEntry  # noqa: E402
from core.config import Settings  # noqa: E402
from core.domain import Role  # noqa: E402
from core.triage import assess, parse_triage_input  # noqa: E402
from db import migrate  # noqa: E402
from db.database import Database  # noqa: E402
from db.engine import make_engine, make_session_factory, transaction  # noqa: E402
from db.followup import Actor  # noqa: E402
from db.services import Clinic  # noqa: E402
from notifiers.delivery import apprise_deliverer  # noqa: E402
from notifiers.dispatcher import Dispatcher  # noqa: E402

FINDINGS = parse_triage_input({"day": 2, "symptoms": ["throat_tightness"], "country": "JP"})


class Desk:
    """The clinic on one SQLite file: an admin, a coordinator, a tagged physician."""

    def __init__(self, folder: Path) -> None:
        url = f"sqlite:///{folder / 'bench.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        self.clock = SystemClock()
        self.database = Database(engine, make_session_factory(engine))
        self.clinic = Clinic(self.database, Settings(database_url=url), self.clock)
        now = self.clock.now()
        with transaction(self.database.sessions) as session:
            admin = add_staff(session, "it.choi", Role.ADMIN, now)
            nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
            add_staff(session, "dr.lee", Role.PHYSICIAN, now, notify_tag="dr-lee")
            self.admin = Actor(admin.id, admin.username, admin.display_name)
            self.nurse = Actor(nurse.id, nurse.username, nurse.display_name)
            self.patients = [
                add_patient(
                    session, f"P-{n}", procedure_at=now - timedelta(days=2), created_at=now
                ).id
                for n in range(2)
            ]

    def emergency(self, receiver: HttpReceiver, patient_id: int) -> float:
        """Save an emergency; seconds until the receiver has one more page."""
        before = len(receiver.posts)
        started = time.perf_counter()
        self.clinic.record_triage(self.nurse, patient_id, TriageEntry(FINDINGS, assess(FINDINGS)))
        wait_for(lambda: len(receiver.posts) > before, timeout=600)
        return time.perf_counter() - started


def measure(folder: Path, rows: int) -> dict[str, float | bool]:
    desk = Desk(folder)
    file_rows = patient_file_rows(desk.clock.now(), dict(desk.clinic.templates), rows)
    with HttpReceiver() as receiver:
        config = folder / "apprise.yml"
        config.write_text(
            f"version: 1\nurls:\n  - {receiver.url('/alerts')}:\n"
            "      tag: oncall, senior, physicians, dr-lee\n"
        )
        config.chmod(0o600)
        dispatcher = Dispatcher(desk.database, apprise_deliverer(config), desk.clock)
        stop = threading.Event()
        runner = threading.Thread(target=dispatcher.run_forever, args=(stop, 0.2), daemon=True)
        runner.start()
        try:
            idle = desk.emergency(receiver, desk.patients[0])
            first_chunk = threading.Event()
            ended: list[float] = []
            failed: list[BaseException] = []

            def importing() -> None:
                try:
                    desk.clinic.import_patients(
                        desk.admin,
                        file_rows,
                        templates=desk.clinic.templates,
                        source="patients.csv",
                        sha256="0" * 64,
                        progress=lambda _: first_chunk.set(),
                    )
                except BaseException as exc:  # reported below
                    failed.append(exc)
                finally:
                    ended.append(time.perf_counter())

            started = time.perf_counter()
            worker = threading.Thread(target=importing, daemon=True)
            worker.start()
            first_chunk.wait(600)
            during = desk.emergency(receiver, desk.patients[1])
            paged_at = time.perf_counter()
            worker.join(3600)
            if failed:
                raise SystemExit(f"the import failed: {failed[0]}")
        finally:
            stop.set()
            runner.join(timeout=30)
    desk.database.close()
    return {
        "during": during,
        "idle": idle,
        "before_end": paged_at < ended[0],
        "import_s": ended[0] - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes (seconds): does it still run?"
    )
    args = parser.parse_args()
    if args.smoke:
        args.rows = 60
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    with tempfile.TemporaryDirectory(prefix="aftercare-big-writes-") as scratch:
        found = measure(Path(scratch), args.rows)
    during, idle = float(found["during"]), float(found["idle"])
    print(
        f"an emergency on the idle database: paged after {idle:.2f} s; saved during a "
        f"{args.rows}-row import: paged after {during:.2f} s (target <= 5 s), "
        f"{'before' if found['before_end'] else 'after'} the import ended "
        f"({float(found['import_s']):.1f} s)"
    )
    size = f"{args.rows // 1000}k" if args.rows >= 1000 and args.rows % 1000 == 0 else args.rows
    print(
        json.dumps(
            {
                f"import_{size}_alert_delay_s": round(during, 3),
                "idle_alert_delay_s": round(idle, 3),
                "delay_ratio": round(during / idle, 2) if idle else None,
                "paged_before_import_ended": found["before_end"],
                f"import_{size}_s": round(float(found["import_s"]), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
