"""Dispatch benchmark: alert latency to a real SMTP server, a burst, throughput against
plain Apprise, and a tap on the alert link until a coordinator's queue shows it.

1. Latency: with a dispatcher running (its own thread, 0.2 s rounds), save an
   emergency triage and time until the email arrives at a local aiosmtpd
   server (`--alerts` of them, one after the other).
2. Burst: `--burst` alerts (20) due at once, one SMTP receiver: seconds from the
   dispatcher's start until the last email arrives. Apprise alone would space
   the emails to one service 5.5 s apart (minutes for twenty).
3. Throughput: N outbox rows to a local HTTP receiver (`json://`) through the
   dispatcher, against a plain loop of `Apprise.notify` calls to the same
   receiver, taking turns of 50 (one dispatcher round each); the ratio is the
   median of the turns' ratios.
4. Tap to queue: the link from the treating physician's email is opened and
   Acknowledge pressed (GET then POST to a real `aftercare web` app on 127.0.0.1,
   as a phone does), timed until a second app's queue, polling the change marker
   every `refresh_seconds` as a coordinator's screen does on SQLite, no longer
   shows the patient's alert (`--taps` of them). Each tap comes just after a
   poll, so the figure holds a whole polling interval: the worst case.

The last line is JSON: {"delivery_p95_s": ..., "burst_20_s": ..., "throughput_per_s": ...,
"ratio_vs_apprise": ..., "tap_to_queue_s": ...} (the burst key names its size; the tap
figure is the p95).

Usage: .venv/bin/python bench/dispatch.py [--alerts 10] [--burst 20] [--rows 400] [--taps 10]
[--smoke]. `--smoke` (tiny sizes, seconds) only proves the benchmark still runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import aiohttp  # noqa: E402
import apprise  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.support import (  # noqa: E402
    HttpReceiver,
    SmtpReceiver,
    add_patient,
    add_staff,
    free_port,
    serving,
    wait_for,
)
from core.alert_links import create_secret, read_secret  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.commands import TriageEntry  # noqa: E402
from core.config import Settings  # noqa: E402
from core.domain import NotificationStatus, Role  # noqa: E402
from core.queue import QueueFilter  # noqa: E402
from core.triage import assess, parse_triage_input  # noqa: E402
from db import migrate  # noqa: E402
from db.database import Database  # noqa: E402
from db.engine import make_engine, make_session_factory, transaction  # noqa: E402
from db.followup import Actor  # noqa: E402
from db.models import OutboxNotification  # noqa: E402
from db.services import Clinic  # noqa: E402
from db.triage import record_triage  # noqa: E402
from notifiers.delivery import apprise_deliverer  # noqa: E402
from notifiers.dispatcher import Dispatcher, alert_links  # noqa: E402
from web.app import make_app  # noqa: E402

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


def _triage(database: Database, actor: Actor, code: str, treating_id: int | None = None) -> None:
    now = SystemClock().now()
    with transaction(database.sessions) as session:
        patient = add_patient(
            session,
            code,
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


def _mail_config(folder: Path, smtp: SmtpReceiver, tags: dict[str, str]) -> Path:
    """An Apprise file with one mailto entry per tag, to `address` at the local server."""
    config = folder / "mail.yml"
    config.write_text(
        "version: 1\nurls:\n"
        + "".join(
            f"  - 'mailto://alerts:pw@127.0.0.1:{smtp.port}?smtp=127.0.0.1&mode=insecure"
            f"&from=alerts@example.org&to={address}':\n      tag: {tag}\n"
            for tag, address in tags.items()
        )
    )
    config.chmod(0o600)
    return config


@contextmanager
def _running(dispatcher: Dispatcher) -> Iterator[None]:
    """The dispatcher in its own thread, 0.2 s rounds, as the service runs it."""
    stop = threading.Event()
    runner = threading.Thread(target=dispatcher.run_forever, args=(stop, 0.2), daemon=True)
    runner.start()
    try:
        yield
    finally:
        stop.set()
        runner.join(timeout=10)


def latency(folder: Path, alerts: int) -> list[float]:
    """Seconds from saving a triage to its email arriving, with a dispatcher running."""
    database, actor = _database(folder)
    samples = []
    with SmtpReceiver() as smtp:
        config = _mail_config(folder, smtp, {"oncall": "oncall@example.org"})
        dispatcher = Dispatcher(database, apprise_deliverer(config), SystemClock())
        with _running(dispatcher):
            for i in range(alerts):
                started = time.perf_counter()
                _triage(database, actor, f"L-{i}")
                wanted = i + 1

                def arrived(wanted: int = wanted) -> bool:
                    return len(smtp.messages) >= wanted

                wait_for(arrived, timeout=30)
                samples.append(time.perf_counter() - started)
    database.close()
    return samples


def burst(folder: Path, count: int) -> float:
    """Seconds from a dispatcher starting, with `count` alerts due, until the last email
    arrives at the one SMTP receiver they all go to."""
    database, actor = _database(folder)
    for i in range(count):  # no treating physician: one row (on-call) per triage
        _triage(database, actor, f"B-{i}")
    with SmtpReceiver() as smtp:
        config = _mail_config(folder, smtp, {"oncall": "oncall@example.org"})
        dispatcher = Dispatcher(database, apprise_deliverer(config), SystemClock())
        started = time.perf_counter()
        with _running(dispatcher):
            wait_for(lambda: len(smtp.messages) >= count, timeout=300)
            took = time.perf_counter() - started
    database.close()
    return took


def throughput(folder: Path, rows: int, *, chunk: int = 50) -> tuple[float, float, float]:
    """Rows per second through the dispatcher, plain Apprise notify calls per second, and
    the median of their ratio turn by turn.

    Both are warmed up first (a first round and a first notify load what they load once
    per process), then timed in turns of `chunk` rows (one dispatcher round each), the
    one starting a turn alternating, so a change in the machine's load falls on both
    alike; the median ratio leaves out a turn another process happened to slow.
    """
    database, actor = _database(folder)
    warm_up = 5
    with HttpReceiver() as receiver:
        config = folder / "http.yml"
        config.write_text(f"version: 1\nurls:\n  - {receiver.url()}:\n      tag: oncall\n")
        config.chmod(0o600)
        for i in range(warm_up + rows):  # no treating physician: one row (on-call) each
            _triage(database, actor, f"T-{i}")
        dispatcher = Dispatcher(database, apprise_deliverer(config), SystemClock(), batch=warm_up)
        plain = apprise.Apprise()
        plain.add(receiver.url(), tag="oncall")

        def plain_loop(count: int) -> float:
            started = time.perf_counter()
            for i in range(count):
                plain.notify(title=f"[E-{i} step 1] EMERGENCY", body="plain loop", tag="oncall")
            return time.perf_counter() - started

        def one_round(count: int) -> float:
            dispatcher.batch = count
            started = time.perf_counter()
            sent = dispatcher.run_once().sent
            took = time.perf_counter() - started
            if sent != count:
                raise RuntimeError(f"a round sent {sent} of {count} rows")
            return took

        one_round(warm_up)
        plain_loop(warm_up)
        ours_s = plain_s = 0.0
        ratios = []
        for turn, first in enumerate(range(0, rows, chunk)):
            size = min(chunk, rows - first)
            if turn % 2:
                base, ours = plain_loop(size), one_round(size)
            else:
                ours, base = one_round(size), plain_loop(size)
            ours_s, plain_s = ours_s + ours, plain_s + base
            ratios.append(base / ours)
        wait_for(lambda: len(receiver.posts) == 2 * (warm_up + rows), timeout=10)
    with database.sessions() as session:
        unsent = session.scalar(
            select(OutboxNotification.id)
            .where(OutboxNotification.status != NotificationStatus.SENT)
            .limit(1)
        )
    if unsent is not None:
        raise RuntimeError("the dispatcher left a row unsent")
    database.close()
    return rows / ours_s, rows / plain_s, statistics.median(ratios)


class _SecondQueue:
    """A coordinator's queue in a second app: polls the change marker every
    `refresh_seconds` (as the screen does on SQLite) and, when it moved, reads the
    queue; notes when each patient's alert leaves it."""

    def __init__(self, clinic: Clinic) -> None:
        self.clinic = clinic
        self.alerting: set[str] = set()
        self.cleared: dict[str, float] = {}
        self.lock = threading.Lock()
        self.polled = threading.Event()
        """Set after every poll."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        marker = None
        while not self._stop.is_set():
            moved = self.clinic.change_marker()
            if moved != marker:
                marker = moved
                rows = self.clinic.queue_page(QueueFilter()).rows
                now = time.perf_counter()
                alerting = {r.patient_code for r in rows if r.alert_disposition is not None}
                with self.lock:
                    for code in self.alerting - alerting:
                        self.cleared.setdefault(code, now)
                    self.alerting = alerting
            self.polled.set()
            self._stop.wait(self.clinic.settings.refresh_seconds)

    def shows_alert(self, code: str) -> bool:
        with self.lock:
            return code in self.alerting

    def cleared_at(self, code: str) -> float | None:
        with self.lock:
            return self.cleared.get(code)

    def __enter__(self) -> _SecondQueue:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


async def _tap(link: str) -> None:
    """Open the link and press Acknowledge, as the phone's browser does."""
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as shown:
            page = await shown.text()
        form = re.search(r'name="form" value="([^"]+)"', page)
        if shown.status != 200 or form is None:
            raise RuntimeError(f"the alert page did not offer Acknowledge ({shown.status})")
        data = {"form": form.group(1), "action": "acknowledge"}
        async with http.post(link, data=data) as done:
            if done.status != 200:
                raise RuntimeError(f"acknowledging failed: HTTP {done.status}")


def _treating_link(smtp: SmtpReceiver, base: str, *, already: int) -> str:
    """The link in dr.lee's email of the newest alert (each alert emails the on-call
    group and dr.lee; `already` emails came before)."""
    wait_for(lambda: len(smtp.messages) >= already + 2, timeout=30)
    mail = next(m for m in smtp.messages[already:] if "dr.lee@" in str(m["To"]))
    body = mail.get_body(preferencelist=("plain",))
    found = re.search(rf"{re.escape(base)}/a/\S+", str(body.get_content()) if body else "")
    if found is None:
        raise RuntimeError("no link in the treating physician's email")
    return found.group(0)


def _timed_tap(queue: _SecondQueue, code: str, link: str) -> float:
    """Seconds from opening `link` until the second queue no longer shows `code`'s alert."""
    wait_for(lambda: queue.shows_alert(code), timeout=10)
    # Tap just after a poll: the acknowledgement waits a whole polling interval (the
    # worst case), not a share of one that depends on chance.
    queue.polled.clear()
    queue.polled.wait(10)
    started = time.perf_counter()
    asyncio.run(_tap(link))
    wait_for(lambda: queue.cleared_at(code) is not None, timeout=30)
    return (queue.cleared_at(code) or started) - started


def tap_to_queue(folder: Path, taps: int) -> list[float]:
    """Seconds from opening the link in the treating physician's email to a second app's
    queue no longer showing the patient's alert."""
    database, nurse = _database(folder)
    with transaction(database.sessions) as session:
        lee = add_staff(session, "dr.lee", Role.PHYSICIAN, SystemClock().now(), notify_tag="dr-lee")
        lee_id = lee.id
    secret = folder / "web-secret"
    create_secret(secret)
    keys, _ = read_secret(secret)
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        web_base_url=f"http://127.0.0.1:{port}",
        web_secret_file=str(secret),
    )
    links, problems = alert_links(settings)
    if links is None:
        raise RuntimeError(f"no alert links: {problems}")
    second_engine = make_engine(settings.database_url)
    second = Clinic(
        Database(second_engine, make_session_factory(second_engine)), settings, SystemClock()
    )
    served = Clinic(database, settings, SystemClock())
    samples = []
    with SmtpReceiver() as smtp:
        config = _mail_config(
            folder, smtp, {"oncall": "oncall@example.org", "dr-lee": "dr.lee@example.org"}
        )
        dispatcher = Dispatcher(database, apprise_deliverer(config), SystemClock(), links=links)
        with serving(make_app(served, keys), port) as base, _SecondQueue(second) as queue:
            for i in range(taps):
                code = f"Q-{i}"
                _triage(database, nurse, code, treating_id=lee_id)
                dispatcher.run_once()
                link = _treating_link(smtp, base, already=2 * i)
                samples.append(_timed_tap(queue, code, link))
    second_engine.dispose()
    database.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--taps", type=int, default=10)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes (seconds): does it still run?"
    )
    args = parser.parse_args()
    if args.smoke:
        args.alerts, args.burst, args.rows, args.taps = 1, 3, 5, 1
    if min(args.alerts, args.burst, args.rows, args.taps) < 1:
        parser.error("--alerts, --burst, --rows and --taps must be at least 1")
    with tempfile.TemporaryDirectory(prefix="aftercare-dispatch-") as scratch:
        folder = Path(scratch)
        for part in "abcd":
            (folder / part).mkdir()
        samples = latency(folder / "a", args.alerts)
        p95 = _p95(samples)
        print(
            f"triage saved -> email received: median {statistics.median(samples):.2f} s, "
            f"p95 {p95:.2f} s, max {max(samples):.2f} s over {len(samples)} alerts "
            "(target p95 <= 2 s)"
        )
        took = burst(folder / "b", args.burst)
        print(
            f"{args.burst} alerts due at once, one SMTP receiver: the last arrived after "
            f"{took:.2f} s (target <= 5 s for 20)"
        )
        ours, baseline, ratio = throughput(folder / "c", args.rows)
        print(
            f"throughput to the HTTP receiver: dispatcher {ours:.0f}/s, plain Apprise loop "
            f"{baseline:.0f}/s, ratio {ratio:.2f} (median of turns; target >= 0.8)"
        )
        taps = tap_to_queue(folder / "d", args.taps)
        tap_p95 = _p95(taps)
        print(
            f"link opened -> acknowledged on a second app's queue: median "
            f"{statistics.median(taps):.2f} s, p95 {tap_p95:.2f} s, max {max(taps):.2f} s "
            f"over {len(taps)} taps (target <= 2 s)"
        )
    print(
        json.dumps(
            {
                "delivery_p95_s": round(p95, 3),
                f"burst_{args.burst}_s": round(took, 3),
                "throughput_per_s": round(ours, 1),
                "ratio_vs_apprise": round(ratio, 3),
                "tap_to_queue_s": round(tap_p95, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
