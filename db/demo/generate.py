"""Invented patients and their treatment episodes, one block of patients at a time.

`Generator.block` returns the rows of every table for a range of patients,
keyed by table name, ready for `write.Writer`. This module decides who the
patients are (country, name, contact, assigned coordinator, one trip or a
return visit) and what was done on each trip (protocol, add-ons as the clinic
records them, products with their lots and exosome flag, schedule templates:
the granuloma watch wherever an exosome product was given, the week-4 liver
panel reminder after high-dose glutathione); `touchpoints` fills in the follow-up and
`events` the triages and what follows. The patient row is written after its
episodes so it can carry their caches: last contact, latest triage and its
severity, and the next touchpoint.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.addons import has_high_dose_glutathione, triage_addon_codes
from core.domain import Channel
from core.schedules import CLINIC_TZ, event_plans, gets_granuloma_watch
from db.demo import catalog, people
from db.demo.context import Context, EpisodeFacts, PatientState, Weighted, pick, randint
from db.demo.events import Events
from db.demo.tables import INSERT_ORDER, EpisodeRow, PatientRow, ProductRow, Rows
from db.demo.touchpoints import Touchpoints

# Share of episodes with a triage, among those where the patient replied at least once.
_TRIAGE_SHARE = 0.17
# Share of patients on a return visit; their previous trip was six to fourteen months earlier.
_RETURNING_SHARE = 0.10


class Generator:
    """Builds the rows for a range of patients; all randomness comes from the context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.touchpoints = Touchpoints(ctx)
        self.events = Events(ctx)
        self.countries = Weighted([(c, c.weight) for c in people.COUNTRIES])
        self.tz_pick = {c.code: Weighted(c.timezones) for c in people.COUNTRIES}
        self.channel_pick = {c.code: Weighted(c.channels) for c in people.COUNTRIES}
        self.protocols = Weighted(catalog.PROTOCOL_WEIGHTS)
        self.slugs: dict[str, str] = {}
        self.lots = self._make_lots()
        self.usable_lots: dict[tuple[str, date], list[tuple[date, str, date]]] = {}
        self.addon_effects: dict[tuple[str, ...], tuple[list[str], tuple[str, ...]]] = {}

    def block(self, first: int, stop: int) -> Rows:
        """Rows for patients number `first` (0-based) up to `stop`, keyed by table name."""
        rows: Rows = {table.name: [] for table in INSERT_ORDER}
        for index in range(first, stop):
            self._patient(index, rows)
        return rows

    def _patient(self, index: int, rows: Rows) -> None:
        ctx = self.ctx
        rng = ctx.rng
        country = self.countries.pick(rng)
        if country.native_names and rng.random() < 0.15:
            family, given, family_latin, given_latin = pick(rng, country.native_names)
        else:
            female = rng.random() < 0.82  # most aesthetic patients are women
            family = family_latin = pick(rng, country.family_names)
            given = given_latin = pick(rng, country.female_given if female else country.male_given)
        number = randint(rng, 10, 99)
        channel = self.channel_pick[country.code].pick(rng)
        phone = None
        if country.phone_style == "us":
            phone = f"+1-555-01{randint(rng, 0, 99):02d}"
        elif country.phone_style == "gb":
            phone = f"+44-7700-900{randint(rng, 0, 999):03d}"
        email = None
        if channel is Channel.EMAIL or rng.random() < 0.7:
            domain = "example.org" if rng.random() < 0.5 else "example.com"
            email = f"{self._slug(given_latin)}.{self._slug(family_latin)}{number}@{domain}"
        handle = _handle(
            channel,
            f"{self._slug(given_latin)}_{self._slug(family_latin)[:1]}{number}",
            phone,
            email,
        )
        current = country.code
        if rng.random() < 0.03:
            current = pick(rng, [c for c in people.TRAVEL_COUNTRIES if c != country.code])
        coordinator = pick(rng, ctx.staff.coordinators) if rng.random() < 0.75 else None
        state = PatientState(
            id=ctx.take("patient"),
            code=f"D-{index + 1:06d}",
            channel=channel.value,
            fallback=Channel.EMAIL.value if email else channel.value,
            coordinator=coordinator,
            country=current,
        )
        tz_name = self.tz_pick[country.code].pick(rng)
        age_days = int(rng.triangular(24, 66, 41) * 365.25)
        trips = [(randint(rng, 1, 120), False)]  # (days ago on the clinic calendar, previous?)
        if rng.random() < _RETURNING_SHARE:
            trips.insert(0, (trips[0][0] + randint(rng, 180, 420), True))
        created = [
            self._episode(state, country, tz_name, ago, previous, rows) for ago, previous in trips
        ]
        ts = ctx.ts
        latest = state.latest_triage[1] if state.latest_triage else None
        following = state.next_touchpoint  # (closes_at, opens_at, id)
        rows["patient"].append(
            PatientRow(
                id=state.id,
                code=state.code,
                given_name=given,
                family_name=family,
                birth_date=ctx.day(ctx.today - timedelta(days=age_days)),
                home_country=country.code,
                current_country=current,
                language=country.language,
                timezone=tz_name,
                channel=channel.value,
                channel_handle=handle,
                phone=phone,
                email=email,
                assigned_to_id=coordinator,
                latest_disposition=latest.value if latest else None,
                latest_severity=latest.severity if latest else 0,
                next_touchpoint_id=following[2] if following else None,
                next_opens_at=ts(following[1]) if following else None,
                next_closes_at=ts(following[0]) if following else None,
                last_contact_at=ts(state.last_contact) if state.last_contact else None,
                last_heard_at=ts(state.last_heard) if state.last_heard else None,
                is_demo=True,
                created_at=ts(created[0] - timedelta(days=randint(rng, 2, 40))),
                version=1,
            )
        )

    def _episode(
        self,
        patient: PatientState,
        country: people.CountryProfile,
        tz_name: str,
        days_ago: int,
        previous_trip: bool,
        rows: Rows,
    ) -> datetime:
        """One episode with its products, touchpoints and maybe a triage; returns created_at."""
        ctx = self.ctx
        rng = ctx.rng
        local_day = ctx.today - timedelta(days=days_ago)
        # Clinic hours in Seoul, on the quarter hour.
        at = time(randint(rng, 9, 17), pick(rng, (0, 15, 30, 45)))
        procedure_at = datetime.combine(local_day, at, CLINIC_TZ).astimezone(UTC)
        protocol = self.protocols.pick(rng)
        iv = protocol in catalog.IV_PROTOCOLS
        addon_keys = ["b_complex"] if rng.random() < (0.35 if iv else 0.08) else []
        roll = rng.random()
        if roll < (0.08 if iv else 0.02):
            addon_keys.append(pick(rng, catalog.GLUTATHIONE_HIGH))
        elif roll < (0.35 if iv else 0.10):
            addon_keys.append(pick(rng, catalog.GLUTATHIONE_USUAL))
        addons = [catalog.ADDONS[key].recorded for key in addon_keys]
        main_keys = catalog.PROTOCOL_PRODUCTS[protocol]
        addon_product_keys = tuple(catalog.ADDONS[key].product for key in addon_keys)
        templates = ["standard"]
        if rng.random() < 0.30:
            templates.append("extended")
        exosome_flags = (catalog.PRODUCTS[key].exosome for key in (*main_keys, *addon_product_keys))
        if gets_granuloma_watch(protocol, exosome_flags):
            templates.append("granuloma-watch")
        if rng.random() < 0.20:
            templates.append("return-cycle")
        # Touchpoints added by what was given, written beside the templates' ones.
        events, triage_addons = self._addon_effects(tuple(addon_keys), addons)
        physician = pick(rng, ctx.staff.physicians)
        nurse, nurse_licence = pick(rng, people.TREATMENT_NURSES)
        insurer = policy = None
        if rng.random() < 0.65:
            insurer = pick(rng, country.insurers)
            policy = f"TP-{randint(rng, 10_000_000, 99_999_999)}"
        checklist = tuple(rng.random() < share for _, share in catalog.DOCUMENT_ITEMS)
        created_at = procedure_at - timedelta(hours=randint(rng, 2, 24 * 21))
        episode_id = ctx.take("treatment_episode")
        rows["treatment_episode"].append(
            EpisodeRow(
                id=episode_id,
                patient_id=patient.id,
                procedure_at=ctx.ts(procedure_at),
                protocol=protocol.value,
                treating_physician_id=physician,
                nurse_name=nurse,
                nurse_license_ref=nurse_licence,
                addons=ctx.json(("addons", *addon_keys), list, addons),
                schedule_templates=ctx.json(("templates", *templates), list, templates),
                departure_date=ctx.day(local_day + timedelta(days=randint(rng, 1, 5))),
                travel_insurer=insurer,
                travel_policy_number=policy,
                khidi_cover_ref=catalog.KHIDI_COVER_REF,
                # Drawn here, in the generator's fixed order, so the demo stays the same.
                allergies=(
                    allergies := pick(rng, catalog.ALLERGIES) if rng.random() < 0.12 else None
                ),
                vasovagal_history=rng.random() < 0.05,
                sensitive_skin=rng.random() < 0.15,
                # The demo clinic asks everything: its "no" and "none" are answers.
                has_allergies=allergies is not None,
                products_recorded=True,
                addons_recorded=True,
                documentation=ctx.json(("docs", *checklist), _checklist, checklist),
                created_at=ctx.ts(created_at),
                version=1,
            )
        )
        main_products = self._products(episode_id, main_keys, local_day, rows)
        addon_products = self._products(episode_id, addon_product_keys, local_day, rows)
        facts = EpisodeFacts(
            id=episode_id,
            protocol=protocol,
            physician=physician,
            coordinator=patient.coordinator or pick(rng, ctx.staff.coordinators),
            procedure_at=procedure_at,
            local_day=local_day,
            main_products=main_products,
            addon_products=addon_products,
            triage_addons=triage_addons,
        )
        heard = self.touchpoints.write(
            patient, facts, [*templates, *events], tz_name, previous_trip, rows
        )
        if heard and rng.random() < _TRIAGE_SHARE:
            touchpoint_id, assessed_at = pick(rng, heard)
            self.events.triage(patient, facts, touchpoint_id, assessed_at, rows)
        return created_at

    def _products(
        self, episode_id: int, keys: tuple[str, ...], local_day: date, rows: Rows
    ) -> tuple[int, ...]:
        """Write the products `keys` name, each with its exosome flag; returns their ids."""
        ids: list[int] = []
        for key in keys:
            product = catalog.PRODUCTS[key]
            usable = self.usable_lots.get((key, local_day))
            if usable is None:
                # The two newest lots made at least two weeks before the procedure.
                made_by = local_day - timedelta(days=14)
                fits = [lot for lot in self.lots[key] if lot[0] <= made_by][-2:]
                usable = self.usable_lots[(key, local_day)] = fits or self.lots[key][:1]
            _, lot_number, expiry = pick(self.ctx.rng, usable)
            product_id = self.ctx.take("product_given")
            ids.append(product_id)
            rows["product_given"].append(
                ProductRow(
                    id=product_id,
                    episode_id=episode_id,
                    name=product.name,
                    mfds_reference=product.mfds_reference,
                    manufacturer=product.manufacturer,
                    lot_number=lot_number,
                    expiry_date=self.ctx.day(expiry),
                    dose=product.dose,
                    exosome=product.exosome,
                )
            )
        return tuple(ids)

    def _addon_effects(
        self, keys: tuple[str, ...], addons: list[Any]
    ) -> tuple[list[str], tuple[str, ...]]:
        """The event touchpoints and the triage add-on codes of one set of add-ons.

        Judged by `core.addons` at the clinic's threshold, once per distinct set.
        """
        found = self.addon_effects.get(keys)
        if found is None:
            threshold = self.ctx.high_dose_glutathione_mg
            high = has_high_dose_glutathione(addons, threshold)
            events = [name for name, _ in event_plans(high_dose_glutathione=high)]
            found = self.addon_effects[keys] = (events, triage_addon_codes(addons, threshold))
        return found

    def _make_lots(self) -> dict[str, list[tuple[date, str, date]]]:
        """Per product: lots (made on, lot number, expiry), oldest first, shared by patients."""
        rng, today = self.ctx.rng, self.ctx.today
        lots: dict[str, list[tuple[date, str, date]]] = {}
        for key, product in catalog.PRODUCTS.items():
            lots[key] = []
            for age in (620, 470, 330, 210, 120, 45):
                made = today - timedelta(days=age + randint(rng, 0, 20))
                number = f"{product.lot_prefix}{made:%y}{made:%m}{randint(rng, 1, 999):03d}"
                # Two years' shelf life, expiring at the start of the month.
                lots[key].append((made, number, date(made.year + 2, made.month, 1)))
        return lots

    def _slug(self, name: str) -> str:
        slug = self.slugs.get(name)
        if slug is None:
            ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
            slug = self.slugs[name] = "".join(ch for ch in ascii_name.lower() if ch.isalnum())
        return slug


def _checklist(given: tuple[bool, ...]) -> dict[str, bool]:
    """The documentation checklist a patient leaves with: item -> given."""
    return dict(zip((item for item, _ in catalog.DOCUMENT_ITEMS), given, strict=True))


def _handle(channel: Channel, base: str, phone: str | None, email: str | None) -> str:
    """A placeholder messenger handle such as "line:yuki_t82"."""
    if channel is Channel.EMAIL and email:
        return email
    if channel in (Channel.SMS, Channel.WHATSAPP, Channel.PHONE) and phone:
        return f"{channel.value}:{phone}"
    prefix = {Channel.WECHAT: "wechat:wxid_", Channel.KAKAOTALK: "kakao:"}
    return prefix.get(channel, f"{channel.value}:") + base
