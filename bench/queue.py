"""Queue benchmark: the queue query on 100,000 patients, SQLite and PostgreSQL.

For each database it loads `aftercare demo --patients N` (about a million
touchpoints), then times, interleaved in the same run:
  - `db.queue.read_queue` (SQLAlchemy, building QueueRow objects), and
  - a hand-written SQL query returning the same rows through the raw driver,
checks both return the same patients in the same order, and reports median,
p95 and the ratio of the two. Finally it opens `aftercare run` on the SQLite
database in a pseudo-terminal and reads the TUI's resident memory.

The last line is JSON:
{"sqlite_p95_ms": ..., "postgres_p95_ms": ..., "ratio_vs_sql": ..., "tui_rss_mb": ...}

Usage: .venv/bin/python bench/queue.py [--patients 100000] [--runs 200] [--no-postgres] [--smoke]
PostgreSQL comes from AFTERCARE_TEST_POSTGRES_URL (default: the local test database);
the benchmark works in a schema of its own and drops it afterwards.
`--smoke` (200 patients, a few runs, seconds) only proves the benchmark still runs;
it uses PostgreSQL only when AFTERCARE_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

# Run as a script, this file's folder comes first on sys.path, and this file's
# name would then shadow the standard library's `queue` (which psycopg uses).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench.startup import PAINTED, first_paint  # noqa: E402
from db import migrate  # noqa: E402
from db.demo import load_demo  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.queue import read_queue  # noqa: E402

PAGE = 300
NOW = datetime.now(UTC).replace(microsecond=0)

_SEVERITY = "CASE e.disposition WHEN 'urgent' THEN 3 WHEN 'emergency' THEN 4 ELSE 0 END"
_OPEN_ALERT = "e.status = 'open' AND e.disposition IN ('urgent', 'emergency')"
_NO_ALERT = f"NOT EXISTS (SELECT 1 FROM escalation e WHERE e.patient_id = p.id AND {_OPEN_ALERT})"

HAND_WRITTEN = f"""
WITH page AS (
  SELECT e.patient_id AS pid, 0 AS band, -MAX({_SEVERITY}) AS k1, MIN(e.created_at) AS k2
    FROM escalation e WHERE {_OPEN_ALERT} GROUP BY e.patient_id
  UNION ALL SELECT * FROM (
    SELECT p.id, 1, -p.latest_severity, p.next_closes_at FROM patient p
     WHERE p.next_closes_at <= {{now}} AND {_NO_ALERT}
     ORDER BY p.latest_severity DESC, p.next_closes_at, p.id LIMIT {PAGE}) overdue
  UNION ALL SELECT * FROM (
    SELECT p.id, 2, 0, p.next_closes_at FROM patient p
     WHERE p.next_opens_at <= {{now}} AND p.next_closes_at > {{now}} AND {_NO_ALERT}
     ORDER BY p.next_closes_at, p.id LIMIT {PAGE}) due
  UNION ALL SELECT * FROM (
    SELECT p.id, 3, 0, p.next_opens_at FROM patient p
     WHERE p.next_opens_at > {{now}} AND {_NO_ALERT}
     ORDER BY p.next_opens_at, p.id LIMIT {PAGE}) upcoming
)
SELECT p.id, p.code, p.family_name, p.given_name, p.current_country, p.language, p.timezone,
       p.channel, p.assigned_to_id, s.display_name, p.latest_disposition, p.last_contact_at,
       p.last_heard_at, p.next_touchpoint_id, t.template, t.day, p.next_opens_at,
       p.next_closes_at, ep.procedure_at, al.severity, al.since,
       (SELECT MIN(i.report_due_on) FROM incident i
         WHERE i.patient_id = p.id AND i.reported_on IS NULL) AS report_due_on
  FROM page
  JOIN patient p ON p.id = page.pid
  LEFT JOIN touchpoint t ON t.id = p.next_touchpoint_id
  LEFT JOIN treatment_episode ep ON ep.id = t.episode_id
  LEFT JOIN staff s ON s.id = p.assigned_to_id
  LEFT JOIN (SELECT e.patient_id, MAX({_SEVERITY}) AS severity, MIN(e.created_at) AS since
               FROM escalation e WHERE {_OPEN_ALERT} GROUP BY e.patient_id) al
         ON al.patient_id = p.id
 ORDER BY page.band, page.k1, page.k2, page.pid
 LIMIT {PAGE}
"""


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def measure(engine: Engine, runs: int) -> dict[str, float]:
    """Interleave the two queries `runs` times; times in milliseconds."""
    sessions = make_session_factory(engine)
    sqlite = engine.dialect.name == "sqlite"
    sql = HAND_WRITTEN.format(now="?" if sqlite else "%(now)s")
    # The raw driver gets the value exactly as the column stores it.
    now_param: Any = NOW.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else NOW
    params: Any = tuple([now_param] * sql.count("?")) if sqlite else {"now": now_param}

    def ours() -> list[int]:
        with sessions() as session:
            return [r.patient_id for r in read_queue(session, NOW, limit=PAGE)]

    def hand() -> list[int]:
        with engine.connect() as connection:
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    same = ours() == hand()
    if not same:
        raise SystemExit("the hand-written query returned different rows: benchmark invalid")
    timings: dict[str, list[float]] = {"ours": [], "hand": []}
    plan: list[tuple[str, Callable[[], list[int]]]] = [("ours", ours), ("hand", hand)]
    for _ in range(5):  # warm caches
        ours(), hand()
    for i in range(runs):
        for name, fn in plan if i % 2 == 0 else plan[::-1]:
            started = time.perf_counter()
            fn()
            timings[name].append((time.perf_counter() - started) * 1000)
    result = {
        "median_ms": statistics.median(timings["ours"]),
        "p95_ms": _p95(timings["ours"]),
        "hand_median_ms": statistics.median(timings["hand"]),
        "hand_p95_ms": _p95(timings["hand"]),
    }
    result["ratio"] = result["median_ms"] / result["hand_median_ms"]
    return result


def _load(engine: Engine, patients: int) -> float:
    migrate.upgrade(engine)
    started = time.perf_counter()
    load_demo(engine, patients=patients, seed=1, now=NOW)
    return time.perf_counter() - started


def _report(label: str, numbers: dict[str, float]) -> None:
    print(
        f"{label:<10} queue query median {numbers['median_ms']:.2f} ms, "
        f"p95 {numbers['p95_ms']:.2f} ms | hand-written SQL median "
        f"{numbers['hand_median_ms']:.2f} ms, p95 {numbers['hand_p95_ms']:.2f} ms | "
        f"ratio {numbers['ratio']:.2f}"
    )


def tui_rss_mb(folder: Path) -> float:
    """Resident memory of `aftercare run` on the SQLite database after its first paint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        AFTERCARE_DATABASE_URL=f"sqlite:///{folder / 'bench.db'}",
        HOME=str(folder),
        XDG_CONFIG_HOME=str(folder / "config"),
        TERM="xterm-256color",
    )
    peak: list[float] = []

    def sample(pid: int) -> None:
        status = Path(f"/proc/{pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        peak.append(kb / 1024)

    first_paint(env, PAINTED, on_painted=sample, settle=3.0)
    return max(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--smoke", action="store_true", help="200 patients, 5 runs: does it still run?"
    )
    args = parser.parse_args()
    if args.smoke:
        args.patients, args.runs = 200, 5
        args.no_postgres = args.no_postgres or not os.environ.get("AFTERCARE_TEST_POSTGRES_URL")
    results: dict[str, float | None] = {"sqlite_p95_ms": None, "postgres_p95_ms": None}

    with tempfile.TemporaryDirectory(prefix="aftercare-queue-") as scratch:
        folder = Path(scratch)
        engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
        seconds = _load(engine, args.patients)
        count = engine.connect().execute(text("SELECT count(*) FROM touchpoint")).scalar()
        print(f"sqlite: {args.patients} patients, {count} touchpoints loaded in {seconds:.1f} s")
        sqlite = measure(engine, args.runs)
        engine.dispose()
        _report("sqlite", sqlite)
        results["sqlite_p95_ms"] = round(sqlite["p95_ms"], 2)
        ratios = [sqlite["ratio"]]

        if not args.no_postgres:
            base = make_url(
                os.environ.get(
                    "AFTERCARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
                )
            )
            base = base.set(drivername="postgresql+psycopg")
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                pg = make_engine(base.update_query_dict({"options": f"-csearch_path={schema}"}))
                seconds = _load(pg, args.patients)
                with pg.connect() as connection:
                    connection.execute(text("ANALYZE"))
                print(f"postgres: {args.patients} patients loaded in {seconds:.1f} s")
                postgres = measure(pg, args.runs)
                pg.dispose()
                _report("postgres", postgres)
                results["postgres_p95_ms"] = round(postgres["p95_ms"], 2)
                ratios.append(postgres["ratio"])
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()

        subprocess.run(
            [str(Path(sys.executable).with_name("aftercare")), "init"],
            env={**os.environ, "AFTERCARE_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}"},
            capture_output=True,
        )
        rss = tui_rss_mb(folder)
        print(f"tui: resident memory {rss:.0f} MB with the {args.patients}-patient database open")

    ratio = max(ratios)
    print(
        f"targets: sqlite p95 <= 25 ms ({results['sqlite_p95_ms']}), ratio <= 1.3 "
        f"({ratio:.2f}, worst of the databases), tui rss < 250 MB ({rss:.0f})"
    )
    print(json.dumps({**results, "ratio_vs_sql": round(ratio, 3), "tui_rss_mb": round(rss, 1)}))


if __name__ == "__main__":
    main()
