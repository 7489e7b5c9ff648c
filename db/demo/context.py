"""State shared by the demo generators: one random source, the clock, ids, encoders.

`generate` (patients down to contact attempts) and `events` (triage,
incidents, escalations) both draw from the same `Context`, so the whole load
is one deterministic sequence of draws from `random.Random(seed)`: no wall
clock, no uuid4, primary keys taken here in order. The cheap random helpers
live here too; they replace `Random.randint`/`choice`/`choices`, which cost
several Python calls each and dominate at two million rows.
"""

from __future__ import annotations

import json
import random
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any, Generic, NamedTuple, TypeVar

from core.addons import DEFAULT_HIGH_DOSE_GLUTATHIONE_MG
from core.domain import Disposition, Protocol
from core.schedules import CLINIC_TZ
from db.demo.write import StaffIds, cached, identity, sqlite_date, sqlite_timestamp

T = TypeVar("T")


def randint(rng: random.Random, low: int, high: int) -> int:
    """Like `rng.randint`, from one float draw: plenty for demo data."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """Like `rng.choice` at a fraction of the cost; determinism is unaffected."""
    return items[int(rng.random() * len(items))]


class Weighted(Generic[T]):
    """Weighted choice by bisection: far cheaper than `Random.choices` per call."""

    def __init__(self, items: Sequence[tuple[T, float]]) -> None:
        self.values = [value for value, _ in items]
        self.cumulative = list(accumulate(weight for _, weight in items))

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


@dataclass
class PatientState:
    """What the patient row needs to know about its episodes once they are generated.

    The patient row is written last, so its caches (last contact, latest triage,
    next touchpoint) are collected here while the episodes are generated.
    """

    id: int
    code: str
    channel: str
    fallback: str
    coordinator: int | None
    country: str
    last_contact: datetime | None = None
    last_heard: datetime | None = None
    latest_triage: tuple[datetime, Disposition] | None = None
    # (closes_at, opens_at, id) of the unresolved touchpoint that sorts first.
    next_touchpoint: tuple[datetime, datetime, int] | None = None


class EpisodeFacts(NamedTuple):
    """The parts of an episode that its triage, incident and escalation refer to."""

    id: int
    protocol: Protocol
    physician: int
    coordinator: int
    procedure_at: datetime
    local_day: date
    # Product ids, main products first then add-ons: a physician picks the suspect among them.
    main_products: tuple[int, ...]
    addon_products: tuple[int, ...]
    # The add-on codes the triage rules read (core.addons.triage_addon_codes).
    triage_addons: tuple[str, ...]


class Context:
    """The random source, the clock, the id counters and the per-backend encoders.

    `ts`, `day` and `encode_json` turn a datetime, a date or a JSON value into
    what the writer hands the driver: SQLite text, or the object unchanged.
    """

    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        staff: StaffIds,
        sqlite: bool,
        ids: dict[str, Iterator[int]],
        high_dose_glutathione_mg: int = DEFAULT_HIGH_DOSE_GLUTATHIONE_MG,
    ) -> None:
        self.rng = rng
        # The clinic's threshold for high-dose glutathione (setting of the same name).
        self.high_dose_glutathione_mg = high_dose_glutathione_mg
        self.now = now
        self.today = now.astimezone(CLINIC_TZ).date()
        self.staff = staff
        self.ids = ids
        self.ts: Callable[[datetime], Any] = sqlite_timestamp if sqlite else identity
        self.day: Callable[[date], Any] = cached(sqlite_date) if sqlite else identity
        # SQLAlchemy's JSON type stores json.dumps text on SQLite.
        self.encode_json: Callable[[Any], Any] = json.dumps if sqlite else identity
        self.json_cache: dict[tuple[Any, ...], Any] = {}

    def take(self, table: str) -> int:
        """The next primary key of `table`."""
        return next(self.ids[table])

    def json(self, key: tuple[Any, ...], build: Callable[[Any], Any], source: Any) -> Any:
        """JSON value `build(source)`, encoded once per distinct `key`.

        Few distinct add-on/template/checklist/symptom combinations exist, and on
        PostgreSQL the shared object is only read by the driver.
        """
        found = self.json_cache.get(key)
        if found is None:
            found = self.json_cache[key] = self.encode_json(build(source))
        return found

    def between(self, start: datetime, seconds: int) -> datetime:
        """A whole-second instant in [start, start + seconds); `start` if seconds <= 0."""
        if seconds <= 0:
            return start
        return start + timedelta(seconds=int(seconds * self.rng.random()))
