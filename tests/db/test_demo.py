"""Demo data: counts, determinism, coverage of states, refusal, replacement, rollback."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, func, insert, select

from core.addons import has_high_dose_glutathione, triage_addon_codes
from core.clock import FixedClock
from core.domain import (
    ContactOutcome,
    Disposition,
    EscalationStatus,
    NotificationStatus,
    Protocol,
    Seriousness,
    TouchpointResolution,
    TouchpointState,
    Trend,
)
from core.schedules import touchpoint_state
from db import migrate
from db.demo import DemoSummary, RealDataPresent, load_demo, write
from db.demo.triage import demo_labs, demo_needs, demo_triage
from db.engine import make_engine
from db.models import (
    Base,
    ChangeMarker,
    ContactAttempt,
    Escalation,
    Incident,
    IncidentEntry,
    OutboxNotification,
    Patient,
    ProductGiven,
    Staff,
    Touchpoint,
    TreatmentEpisode,
    TriageAssessment,
)

N = 300
SEED = 20261122
COUNTRIES = {"JP", "CN", "US", "TW", "TH", "MN", "GB", "SG", "DE"}
# The triage contract's symptom vocabulary.
VOCABULARY = {
    "flush", "mild_swelling", "swelling", "pinpoint_bruising", "tightness_dryness", "flaking",
    "erythema", "warmth", "expanding_redness", "red_streaks", "pus", "nodule", "iv_site_pain",
    "iv_site_swelling", "itching", "severe_itching", "hives", "facial_swelling_beyond_area",
    "blistering_or_dark_skin", "chills", "fatigue", "nausea", "persistent_vomiting", "dizziness",
    "fainting", "palpitations", "chest_tightness", "shortness_of_breath", "throat_tightness",
    "wheezing", "numbness", "weakness", "vision_change", "confusion", "increasing_pain",
}  # fmt: skip
DEMO_TABLES: tuple[type[Base], ...] = (
    Patient,
    TreatmentEpisode,
    ProductGiven,
    Touchpoint,
    ContactAttempt,
    TriageAssessment,
    Incident,
    IncidentEntry,
    Escalation,
    OutboxNotification,
)


STAFF_AND_DEMO: tuple[type[Base], ...] = (Staff, *DEMO_TABLES)
WITH_MARKER: tuple[type[Base], ...] = (Staff, ChangeMarker, *DEMO_TABLES)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _rows(conn: Connection, model: type[Base]) -> list[tuple[Any, ...]]:
    table = _table(model)
    # The database login that wrote a row is the database's own record (PostgreSQL
    # fills it, SQLite cannot), not something the generator chose.
    columns = [c for c in table.columns if c.name != "database_login"]
    return [tuple(row) for row in conn.execute(select(*columns).order_by(table.c.id))]


def _table_counts(conn: Connection) -> dict[str, int]:
    return {
        table.name: conn.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def _demo_counts(conn: Connection) -> DemoSummary:
    """Count demo rows straight from the database, independently of load_demo."""
    demo_ids = select(Patient.id).where(Patient.is_demo.is_(True))

    def count(model: type[Base], column: Any) -> int:
        return conn.scalar(select(func.count()).select_from(model).where(column)) or 0

    return DemoSummary(
        patients=count(Patient, Patient.is_demo.is_(True)),
        episodes=count(TreatmentEpisode, TreatmentEpisode.patient_id.in_(demo_ids)),
        products=count(
            ProductGiven,
            ProductGiven.episode_id.in_(
                select(TreatmentEpisode.id).where(TreatmentEpisode.patient_id.in_(demo_ids))
            ),
        ),
        touchpoints=count(Touchpoint, Touchpoint.patient_id.in_(demo_ids)),
        contact_attempts=count(ContactAttempt, ContactAttempt.patient_id.in_(demo_ids)),
        triages=count(TriageAssessment, TriageAssessment.patient_id.in_(demo_ids)),
        incidents=count(Incident, Incident.patient_id.in_(demo_ids)),
        escalations=count(Escalation, Escalation.patient_id.in_(demo_ids)),
        staff=count(Staff, Staff.username.startswith("demo-")),
    )


def _add_real_patient(engine: Engine, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(_table(Patient)).values(
                code="P-2026-0001",
                given_name="Hanako",
                family_name="Yamada",
                home_country="JP",
                current_country="JP",
                language="ja",
                timezone="Asia/Tokyo",
                channel="line",
                channel_handle="line:hanako_y",
                is_demo=False,
                created_at=now,
                version=1,
            )
        )


def _sqlite_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    return engine


def test_summary_matches_database(engine: Engine, clock: FixedClock) -> None:
    summary = load_demo(engine, patients=N, seed=SEED, now=clock.now())
    with engine.connect() as conn:
        assert _demo_counts(conn) == summary
        assert conn.scalar(select(ChangeMarker.counter).where(ChangeMarker.id == 1)) == 1
        assert conn.scalar(select(ChangeMarker.changed_at)) == clock.now()
    assert summary.patients == N
    assert summary.staff == 9
    # Every episode gets the standard schedule (4) and some get more.
    assert summary.touchpoints > 4 * summary.episodes
    assert N <= summary.episodes < 1.3 * N
    assert 0 < summary.escalations <= summary.incidents < summary.triages


def test_same_seed_gives_identical_rows(engine: Engine, tmp_path: Path, clock: FixedClock) -> None:
    other = _sqlite_engine(tmp_path / "second.db")
    try:
        load_demo(engine, patients=N, seed=SEED, now=clock.now())
        load_demo(other, patients=N, seed=SEED, now=clock.now())
        with engine.connect() as first, other.connect() as second:
            for model in STAFF_AND_DEMO:
                assert _rows(first, model) == _rows(second, model), model.__name__
        # A different seed must change the data (so the comparison above means something).
        load_demo(other, patients=N, seed=SEED + 1, now=clock.now())
        with engine.connect() as first, other.connect() as second:
            assert _rows(first, Patient) != _rows(second, Patient)
    finally:
        other.dispose()


def test_every_touchpoint_state_appears(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    load_demo(engine, patients=N, seed=SEED, now=now)
    with engine.connect() as conn:
        touchpoints = conn.execute(
            select(
                Touchpoint.opens_at,
                Touchpoint.closes_at,
                Touchpoint.resolution,
                Touchpoint.resolved_at,
            )
        ).all()
        # The queue's SQL comparison must agree with Python on the stored values.
        due_in_sql = conn.scalar(
            select(func.count())
            .select_from(Touchpoint)
            .where(
                Touchpoint.resolution.is_(None),
                Touchpoint.opens_at <= now,
                Touchpoint.closes_at > now,
            )
        )
    states = Counter(
        touchpoint_state(now, opens, closes, resolution)
        for opens, closes, resolution, _ in touchpoints
    )
    assert set(states) == set(TouchpointState)
    assert states[TouchpointState.DUE] == due_in_sql
    closed = sum(n for state, n in states.items() if state is not TouchpointState.SCHEDULED)
    closed -= states[TouchpointState.DUE]
    assert 0.02 < states[TouchpointState.OVERDUE] / closed < 0.08
    for opens, closes, resolution, resolved_at in touchpoints:
        assert opens < closes
        if resolution is None:
            assert resolved_at is None
        else:
            assert resolved_at is not None and opens <= resolved_at < closes
            assert resolved_at <= now


def test_patient_cache_matches_the_touchpoint_table(engine: Engine, clock: FixedClock) -> None:
    # The queue reads Patient.next_* and latest_severity instead of the touchpoint
    # table; recompute the rule of db.followup in SQL and compare every demo patient.
    load_demo(engine, patients=N, seed=SEED, now=clock.now())
    first_open = (
        select(Touchpoint.id)
        .where(Touchpoint.patient_id == Patient.id, Touchpoint.resolution.is_(None))
        .order_by(Touchpoint.closes_at, Touchpoint.opens_at, Touchpoint.id)
        .limit(1)
        .correlate(Patient)
        .scalar_subquery()
    )
    expected = (
        select(Patient.id.label("patient_id"), first_open.label("touchpoint_id"))
        .where(Patient.is_demo.is_(True))
        .subquery()
    )
    # Unresolved touchpoints of one patient sharing their window (standard and
    # extended both plan day 7): the id tie-break must have been exercised.
    ties = (
        select(Touchpoint.patient_id)
        .where(Touchpoint.resolution.is_(None))
        .group_by(Touchpoint.patient_id, Touchpoint.closes_at, Touchpoint.opens_at)
        .having(func.count() > 1)
    )
    with engine.connect() as conn:
        wanted = {
            row.patient_id: (row.touchpoint_id, row.opens_at, row.closes_at)
            for row in conn.execute(
                select(
                    expected.c.patient_id,
                    expected.c.touchpoint_id,
                    Touchpoint.opens_at,
                    Touchpoint.closes_at,
                ).outerjoin(Touchpoint, Touchpoint.id == expected.c.touchpoint_id)
            )
        }
        cached = conn.execute(
            select(
                Patient.id,
                Patient.next_touchpoint_id,
                Patient.next_opens_at,
                Patient.next_closes_at,
                Patient.latest_disposition,
                Patient.latest_severity,
            ).where(Patient.is_demo.is_(True))
        ).all()
        tied = set(conn.scalars(ties))
    assert len(cached) == len(wanted) == N
    for patient_id, touchpoint_id, opens_at, closes_at, disposition, severity in cached:
        assert (touchpoint_id, opens_at, closes_at) == wanted[patient_id], patient_id
        assert severity == (Disposition(disposition).severity if disposition else 0)
    assert tied  # the id tie-break mattered for some patients
    assert any(row[1] is None for row in cached)  # some patients have nothing open
    assert {row[5] for row in cached} >= {0, Disposition.REVIEW.severity}


def test_overdue_work_is_recent_and_previous_trips_are_settled(
    engine: Engine, clock: FixedClock
) -> None:
    # A functioning clinic: a few percent of closed windows still open, mostly
    # from the last three weeks; a returning patient's previous trip fully settled.
    now = clock.now()
    load_demo(engine, patients=1000, seed=SEED, now=now)
    with engine.connect() as conn:
        episodes = conn.execute(
            select(TreatmentEpisode.id, TreatmentEpisode.patient_id, TreatmentEpisode.procedure_at)
        ).all()
        touchpoints = conn.execute(
            select(
                Touchpoint.episode_id,
                Touchpoint.opens_at,
                Touchpoint.closes_at,
                Touchpoint.resolution,
            )
        ).all()
        worst = conn.scalar(
            select(func.count(TriageAssessment.patient_id.distinct())).where(
                TriageAssessment.chosen_disposition.in_(["urgent", "emergency"])
            )
        )
    last_trip: dict[int, tuple[datetime, int]] = {}
    for episode_id, patient_id, procedure_at in episodes:
        trip = (procedure_at, episode_id)
        last_trip[patient_id] = max(last_trip.get(patient_id, trip), trip)
    main = {episode_id for _, episode_id in last_trip.values()}
    assert len(main) < len(episodes)  # some patients came back for a second trip
    closed = overdue = recent = 0
    previous_resolutions: Counter[str | None] = Counter()
    for episode_id, opens_at, closes_at, resolution in touchpoints:
        if episode_id not in main:
            if opens_at <= now:
                previous_resolutions[resolution] += 1
        elif closes_at <= now:
            closed += 1
            if resolution is None:
                overdue += 1
                recent += now - closes_at <= timedelta(days=21)
    assert previous_resolutions[None] == 0
    assert set(previous_resolutions) == set(TouchpointResolution)
    assert 0.03 < overdue / closed < 0.06
    assert 0.8 < recent / overdue < 1  # mostly recent, a handful older
    assert 0.005 < (worst or 0) / 1000 < 0.03


def test_countries_protocols_and_schedules(engine: Engine, clock: FixedClock) -> None:
    load_demo(engine, patients=N, seed=SEED, now=clock.now())
    with engine.connect() as conn:
        countries = set(conn.scalars(select(Patient.home_country).distinct()))
        languages = {
            country: language
            for country, language in conn.execute(
                select(Patient.home_country, Patient.language).distinct()
            )
        }
        protocols = set(conn.scalars(select(TreatmentEpisode.protocol).distinct()))
        episodes = conn.execute(
            select(TreatmentEpisode.id, TreatmentEpisode.protocol, TreatmentEpisode.procedure_at)
        ).all()
        templates: dict[int, set[str]] = {}
        for episode_id, template in conn.execute(
            select(Touchpoint.episode_id, Touchpoint.template)
        ):
            templates.setdefault(episode_id, set()).add(template)
        emails = conn.scalars(select(Patient.email).where(Patient.email.is_not(None))).all()
    assert countries == COUNTRIES
    assert languages["JP"] == "ja" and languages["CN"] == "zh" and languages["DE"] == "de"
    assert protocols == set(Protocol)
    assert all(str(email).endswith(("@example.org", "@example.com")) for email in emails)
    for episode_id, _protocol, procedure_at in episodes:
        assert procedure_at < clock.now()
        assert "standard" in templates[episode_id]


def test_every_episode_with_an_exosome_product_gets_the_granuloma_watch(
    engine: Engine, clock: FixedClock
) -> None:
    # v2: the watch follows the products, so microneedling with an exosome
    # ampoule gets it as an exosome IV does; episodes without one do not.
    load_demo(engine, patients=N, seed=SEED, now=clock.now())
    with engine.connect() as conn:
        protocols = dict(conn.execute(select(TreatmentEpisode.id, TreatmentEpisode.protocol)).all())
        flags: dict[int, set[bool | None]] = {}
        for episode_id, exosome in conn.execute(
            select(ProductGiven.episode_id, ProductGiven.exosome)
        ):
            flags.setdefault(episode_id, set()).add(exosome)
        watched = set(
            conn.scalars(
                select(Touchpoint.episode_id).where(Touchpoint.template == "granuloma-watch")
            )
        )
        watch_days = conn.execute(
            select(Touchpoint.day, Touchpoint.ask).where(Touchpoint.template == "granuloma-watch")
        ).all()
        listed = {
            episode_id
            for episode_id, names in conn.execute(
                select(TreatmentEpisode.id, TreatmentEpisode.schedule_templates)
            )
            if "granuloma-watch" in names
        }
    assert all(None not in found for found in flags.values())  # every product is marked
    with_exosome = {e for e, found in flags.items() if True in found}
    microneedling = {e for e in with_exosome if protocols[e] == Protocol.MICRONEEDLING}
    assert len(microneedling) > 20  # exosome ampoules applied with microneedling
    assert watched == listed == with_exosome
    assert {e for e, p in protocols.items() if Protocol(p).involves_exosomes} <= watched
    assert {day for day, _ in watch_days} == {30, 60, 90}
    assert all("lump" in ask and "nodule" in ask for _, ask in watch_days)


def test_high_dose_glutathione_is_judged_by_dose_and_gets_the_liver_panel(
    engine: Engine, clock: FixedClock
) -> None:
    load_demo(engine, patients=1000, seed=SEED, now=clock.now())
    with engine.connect() as conn:
        addons: dict[int, list[Any]] = dict(
            conn.execute(select(TreatmentEpisode.id, TreatmentEpisode.addons)).all()
        )
        reminders = conn.execute(
            select(Touchpoint.episode_id, Touchpoint.day, Touchpoint.ask).where(
                Touchpoint.template == "liver-panel"
            )
        ).all()
        triage_addons = conn.execute(
            select(TriageAssessment.episode_id, TriageAssessment.addons, TriageAssessment.labs)
        ).all()
        doses = set(
            conn.scalars(
                select(ProductGiven.dose).where(ProductGiven.name.startswith("Glutathione"))
            )
        )
    high = {e for e, recorded in addons.items() if has_high_dose_glutathione(recorded, 1200)}
    # A plain "glutathione" at 1,200 mg is high by its dose, whatever the code says.
    by_dose = {
        e
        for e in high
        if {"name": "glutathione", "dose": "1,200 mg"} in addons[e]
        and "glutathione_high_dose" not in addons[e]
    }
    assert by_dose and high - by_dose
    assert any("glutathione" in recorded for recorded in addons.values())  # plain code, usual
    assert {"600 mg IV", "1,200 mg IV (2 vials)", "2400 mg IV (high dose)"} <= doses
    assert {e for e, _, _ in reminders} == high
    assert len(reminders) == len(high)
    assert all(day == 28 and "liver function" in ask for _, day, ask in reminders)
    for episode_id, codes, labs in triage_addons:
        assert tuple(codes) == triage_addon_codes(addons[episode_id], 1200)
        assert ("glutathione_high_dose" in codes) == (episode_id in high)
        assert ("liver_panel_week_4" in {lab["lab"] for lab in labs}) == (episode_id in high)


def test_a_higher_clinic_threshold_drops_the_reminder_for_1200_mg(
    engine: Engine, clock: FixedClock
) -> None:
    load_demo(engine, patients=1000, seed=SEED, now=clock.now(), high_dose_glutathione_mg=1500)
    with engine.connect() as conn:
        addons: dict[int, list[Any]] = dict(
            conn.execute(select(TreatmentEpisode.id, TreatmentEpisode.addons)).all()
        )
        reminded = set(
            conn.scalars(select(Touchpoint.episode_id).where(Touchpoint.template == "liver-panel"))
        )
    at_1200 = {
        e
        for e, recorded in addons.items()
        if {"name": "glutathione", "dose": "1,200 mg"} in recorded
    }
    assert at_1200 and not at_1200 & reminded
    assert reminded == {e for e, r in addons.items() if has_high_dose_glutathione(r, 1500)}


def test_contacts_triage_incidents_and_escalations_are_consistent(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    load_demo(engine, patients=N, seed=SEED, now=now)
    heard = {o.value for o in ContactOutcome if o.heard_from_patient}
    with engine.connect() as conn:
        attempts = conn.execute(
            select(
                ContactAttempt.patient_id,
                ContactAttempt.at,
                ContactAttempt.outcome,
                Touchpoint.opens_at,
                Touchpoint.closes_at,
            ).join(Touchpoint, Touchpoint.id == ContactAttempt.touchpoint_id)
        ).all()
        patients = conn.execute(
            select(
                Patient.id,
                Patient.last_contact_at,
                Patient.last_heard_at,
                Patient.latest_disposition,
            )
        ).all()
        triages = conn.execute(
            select(TriageAssessment).order_by(TriageAssessment.assessed_at, TriageAssessment.id)
        ).all()
        incidents = conn.execute(select(Incident)).all()
        escalations = conn.execute(select(Escalation)).all()
        outbox = conn.execute(select(OutboxNotification)).all()
        protocols = dict(conn.execute(select(TreatmentEpisode.id, TreatmentEpisode.protocol)).all())
    last_contact: dict[int, datetime] = {}
    last_heard: dict[int, datetime] = {}
    for patient_id, at, outcome, opens, closes in attempts:
        assert opens <= at < closes and at <= now
        last_contact[patient_id] = max(at, last_contact.get(patient_id, at))
        if outcome in heard:
            last_heard[patient_id] = max(at, last_heard.get(patient_id, at))
    latest: dict[int, str] = {}
    for triage in triages:
        latest[triage.patient_id] = triage.chosen_disposition
        assert set(triage.symptoms) <= VOCABULARY
        assert triage.rules_version == "demo" and triage.reasons
        computed, _ = demo_triage(triage.day, triage.temperature_c, triage.trend, triage.symptoms)
        assert computed == triage.computed_disposition
        assert triage.labs == demo_labs(triage.temperature_c, triage.symptoms, triage.addons)
        assert triage.needs == demo_needs(triage.day, triage.trend, triage.symptoms)
        assert triage.protocol == protocols[triage.episode_id]
        assert (triage.override_reason is None) == (
            triage.computed_disposition == triage.chosen_disposition
        )
    for patient_id, contact_at, heard_at, disposition in patients:
        assert contact_at == last_contact.get(patient_id)
        assert heard_at == last_heard.get(patient_id)
        assert disposition == latest.get(patient_id)
    chosen = {t.id: Disposition(t.chosen_disposition) for t in triages}
    assert incidents and escalations
    for incident in incidents:
        assert chosen[incident.triage_id].opens_incident
    assert any(t.labs for t in triages) and any(t.needs for t in triages)
    assert all(isinstance(t.labs, list) and isinstance(t.addons, list) for t in triages)
    assert {t.protocol for t in triages} <= set(Protocol)
    for escalation in escalations:
        assert chosen[escalation.triage_id].pages_physician
        assert escalation.status != EscalationStatus.OPEN  # the demo never pages anyone
        assert escalation.acknowledged_at is not None and escalation.acknowledged_at <= now
    assert {row.status for row in outbox} == {NotificationStatus.SENT}
    assert len({row.idempotency_key for row in outbox}) == len(outbox)
    assert all(row.sent_at is not None and row.sent_at <= now for row in outbox)


def test_incidents_start_not_assessed_until_a_physician_classifies_them(
    engine: Engine, clock: FixedClock
) -> None:
    # A triage is not a physician's assessment: no seriousness, grade or suspect
    # product until classified, and the clock the triage suggests meanwhile.
    load_demo(engine, patients=1000, seed=SEED, now=clock.now())
    triage_clock = {Disposition.EMERGENCY: 7, Disposition.URGENT: 15, Disposition.REVIEW: 30}
    with engine.connect() as conn:
        # The clock follows the higher of the computed and the chosen disposition.
        clock_by = {
            triage_id: Disposition.highest([Disposition(computed), Disposition(chosen)])
            for triage_id, computed, chosen in conn.execute(
                select(
                    TriageAssessment.id,
                    TriageAssessment.computed_disposition,
                    TriageAssessment.chosen_disposition,
                )
            )
        }
        products: dict[int, set[int]] = {}
        for product_id, episode_id in conn.execute(
            select(ProductGiven.id, ProductGiven.episode_id)
        ):
            products.setdefault(episode_id, set()).add(product_id)
        kinds: dict[int, list[str]] = {}
        for incident_id, kind in conn.execute(
            select(IncidentEntry.incident_id, IncidentEntry.kind).order_by(IncidentEntry.id)
        ):
            kinds.setdefault(incident_id, []).append(kind)
        incidents = conn.execute(select(Incident)).all()
    assessed = [i for i in incidents if i.seriousness != Seriousness.NOT_ASSESSED]
    pending = [i for i in incidents if i.seriousness == Seriousness.NOT_ASSESSED]
    assert assessed and pending
    for incident in pending:
        assert incident.severity_grade is None and incident.suspect_product_id is None
        assert incident.causality is None and incident.reported_on is None
        days = triage_clock[clock_by[incident.triage_id]]
        assert incident.report_due_on == incident.learned_on + timedelta(days=days)
        assert "classified" not in kinds[incident.id]
        assert (clock.now().date() - incident.learned_on).days < 4  # only fresh ones wait
    for incident in assessed:
        seriousness = Seriousness(incident.seriousness)
        days = {Seriousness.NON_SERIOUS: 30, Seriousness.LIFE_THREATENING: 7}.get(seriousness, 15)
        assert incident.report_due_on == incident.learned_on + timedelta(days=days)
        assert incident.severity_grade in {1, 2, 3, 4}
        if incident.severity_grade == 4:
            assert seriousness is not Seriousness.NON_SERIOUS
        assert incident.outcome != "fatal" and seriousness is not Seriousness.DEATH
        assert incident.suspect_product_id in products[incident.episode_id]
        assert kinds[incident.id][:2] == ["opened", "classified"]
    # The physician sometimes names an add-on rather than the main product.
    assert len({i.suspect_product_id for i in assessed}) > 1


def test_refuses_when_real_patients_exist_and_writes_nothing(
    engine: Engine, clock: FixedClock
) -> None:
    _add_real_patient(engine, clock.now())
    with engine.connect() as conn:
        before = _table_counts(conn)
        marker_before = _rows(conn, ChangeMarker)
    with pytest.raises(RealDataPresent) as caught:
        load_demo(engine, patients=N, seed=SEED, now=clock.now())
    message = str(caught.value)
    assert "\n" not in message
    assert "1 non-demo patient;" in message and "never added beside real patients" in message
    with engine.connect() as conn:
        assert _table_counts(conn) == before
        assert _rows(conn, ChangeMarker) == marker_before


def test_demo_data_already_there_stays_when_a_real_patient_arrives(
    engine: Engine, clock: FixedClock
) -> None:
    # A database that held demo data and then got a real patient: a new demo load is
    # refused, and neither the real patient nor the earlier demo rows change.
    load_demo(engine, patients=N, seed=SEED, now=clock.now())
    _add_real_patient(engine, clock.now())
    with engine.connect() as conn:
        before = _table_counts(conn)
    with pytest.raises(RealDataPresent):
        load_demo(engine, patients=N, seed=SEED + 1, now=clock.now())
    with engine.connect() as conn:
        assert _table_counts(conn) == before
        real = conn.scalars(select(Patient.code).where(Patient.is_demo.is_(False))).all()
        assert real == ["P-2026-0001"]


def test_running_twice_replaces_the_demo_data(engine: Engine, clock: FixedClock) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(_table(Staff)).values(
                username="nurse.kim",
                display_name="Kim RN",
                role="coordinator",
                active=True,
                created_at=clock.now(),
                version=1,
            )
        )
    first = load_demo(engine, patients=N, seed=SEED, now=clock.now())
    with engine.connect() as conn:
        rows_before = {model.__name__: _rows(conn, model) for model in STAFF_AND_DEMO}
    second = load_demo(engine, patients=N, seed=SEED, now=clock.now())
    assert second == first
    with engine.connect() as conn:
        assert _demo_counts(conn) == second
        assert conn.scalar(select(ChangeMarker.counter).where(ChangeMarker.id == 1)) == 2
        assert conn.scalar(select(func.count()).select_from(Staff)) == 10
        # Same arguments, same rows: demo staff were reused, ids restart after real rows.
        rows_after = {model.__name__: _rows(conn, model) for model in STAFF_AND_DEMO}
    assert rows_after == rows_before
    smaller = load_demo(engine, patients=N // 3, seed=SEED, now=clock.now())
    with engine.connect() as conn:
        assert _demo_counts(conn) == smaller
        assert conn.scalar(select(func.count()).select_from(Patient)) == N // 3


def test_new_rows_after_the_demo_get_fresh_ids(engine: Engine, clock: FixedClock) -> None:
    # On PostgreSQL explicit ids do not move the SERIAL sequences; load_demo must.
    load_demo(engine, patients=50, seed=SEED, now=clock.now())
    _add_real_patient(engine, clock.now())
    with engine.connect() as conn:
        ids = conn.scalars(select(Patient.id).order_by(Patient.id)).all()
    assert len(ids) == len(set(ids)) == 51


def test_a_failure_leaves_the_database_as_it_was(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_demo(engine, patients=40, seed=SEED, now=clock.now())
    with engine.connect() as conn:
        before = {model.__name__: _rows(conn, model) for model in WITH_MARKER}

    def explode(*_args: object) -> None:
        raise RuntimeError("disk full (simulated)")

    # Fails after the old demo rows were deleted and the new ones written.
    monkeypatch.setattr(write, "bump_change_marker", explode)
    with pytest.raises(RuntimeError, match="simulated"):
        load_demo(engine, patients=N, seed=SEED + 1, now=clock.now())
    with engine.connect() as conn:
        after = {model.__name__: _rows(conn, model) for model in WITH_MARKER}
    assert after == before


def test_sqlite_values_are_stored_as_sqlalchemy_would_store_them(
    tmp_path: Path, clock: FixedClock
) -> None:
    # The SQLite fast path bypasses SQLAlchemy's bind processing; the stored text
    # must still be exactly what the ORM writes, or comparisons and reads break.
    engine = _sqlite_engine(tmp_path / "encoding.db")
    try:
        # Enough patients that every table, escalations included, has rows.
        load_demo(engine, patients=150, seed=SEED, now=clock.now())
        dialect = engine.dialect
        with engine.connect() as conn:
            for model in DEMO_TABLES:
                table = _table(model)
                processed = conn.execute(select(table).order_by(table.c.id)).all()
                names = ", ".join(f'"{column.name}"' for column in table.columns)
                raw = conn.exec_driver_sql(f"SELECT {names} FROM {table.name} ORDER BY id").all()
                assert processed and len(processed) == len(raw)
                for index, column in enumerate(table.columns):
                    bind = column.type.dialect_impl(dialect).bind_processor(dialect)
                    if bind is None:
                        continue
                    for read, stored in zip(processed, raw, strict=True):
                        value = read[index]
                        expected = None if value is None else bind(value)
                        assert stored[index] == expected, f"{table.name}.{column.name}"
    finally:
        engine.dispose()


def test_demo_triage_follows_the_domain_table() -> None:
    assert demo_triage(1, None, None, [])[0] is Disposition.EXPECTED
    assert demo_triage(2, None, None, ["erythema", "mild_swelling"])[0] is Disposition.EXPECTED
    assert demo_triage(5, None, None, ["erythema"])[0] is Disposition.MONITOR
    assert demo_triage(9, None, None, ["erythema"])[0] is Disposition.REVIEW
    assert demo_triage(9, None, None, ["flaking"])[0] is Disposition.MONITOR
    assert demo_triage(40, None, None, ["nodule"])[0] is Disposition.REVIEW
    assert demo_triage(3, None, Trend.WORSENING, ["swelling"])[0] is Disposition.URGENT
    assert demo_triage(1, None, Trend.WORSENING, ["swelling"])[0] is Disposition.EXPECTED
    assert demo_triage(3, 38.2, None, [])[0] is Disposition.URGENT
    assert demo_triage(3, 38.6, None, ["flush"])[0] is Disposition.EMERGENCY
    disposition, reasons = demo_triage(0, None, None, ["hives", "throat_tightness"])
    assert disposition is Disposition.EMERGENCY and len(reasons) == 2
    assert all(set(reason) == {"rule", "text"} for reason in reasons)
    with pytest.raises(ValueError, match="unknown symptom"):
        demo_triage(1, None, None, ["sneezing"])


def test_rejects_bad_arguments(engine: Engine, clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        load_demo(engine, patients=1, seed=1, now=clock.now().replace(tzinfo=None))
    with pytest.raises(ValueError, match="0 or more"):
        load_demo(engine, patients=-1, seed=1, now=clock.now())
    assert load_demo(engine, patients=0, seed=1, now=clock.now()).patients == 0


def test_touchpoint_resolutions_are_known_values(engine: Engine, clock: FixedClock) -> None:
    load_demo(engine, patients=80, seed=SEED, now=clock.now())
    with engine.connect() as conn:
        values = set(conn.scalars(select(Touchpoint.resolution).distinct()))
    assert values == {None, *TouchpointResolution}
