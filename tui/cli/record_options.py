"""The episode options of `aftercare episode add|edit` and `patient add`, as typed:
the Typer options, what each names in the record of care, the text of
--product and --addon ("name=ASCE+; lot=A1"), and the words a problem is said
in, naming both the field and the option it was typed with.

Shared by tui.cli.episode and tui.cli.patient so that the three commands take
the same options with the same help, and neither command module loads the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from core.records import FieldProblem

PRODUCT_KEYS = {
    "name": "name",
    "mfds": "mfds_reference",
    "lot": "lot_number",
    "expiry": "expiry_date",
    "exosome": "exosome",
}
"""What a person types in --product (name=...; lot=...) -> the field of a product row."""
ADDON_KEYS = {"name": "name", "dose": "dose_mg"}
"""What a person types in --addon (name=...; dose=...) -> the field of an add-on row."""
PAIR_SEPARATOR = ";"

# The episode options' names, each once: (option, field key of core.records).
SCALAR_OPTIONS = {
    "procedure": ("--procedure", "procedure_at"),
    "protocol": ("--protocol", "protocol"),
    "schedule": ("--schedule", "schedule"),
    "treating": ("--treating", "treating_physician"),
    "nurse": ("--nurse", "nurse_name"),
    "nurse_licence": ("--nurse-licence", "nurse_license_ref"),
    "departure": ("--departure", "departure_date"),
    "insurer": ("--insurer", "travel_insurer"),
    "policy": ("--policy", "travel_policy_number"),
    "khidi_ref": ("--khidi-ref", "khidi_cover_ref"),
    "vasovagal": ("--vasovagal", "vasovagal_history"),
    "sensitive_skin": ("--sensitive-skin", "sensitive_skin"),
}
OPTION_OF = {key: option for option, key in SCALAR_OPTIONS.values()} | {
    "has_allergies": "--allergies / --no-allergies",
    "allergies": "--allergies",
    "products": "--product / --no-products",
    "addons": "--addon / --no-addons",
}
"""Field key -> the option a person types it with, said beside each problem."""


ProcedureOption = Annotated[
    str | None,
    typer.Option(
        "--procedure", help='When, in clinic time (Seoul): "YYYY-MM-DD HH:MM".', metavar="TIME"
    ),
]
ProtocolOption = Annotated[
    str | None,
    typer.Option(
        "--protocol",
        help="exosome_iv, microneedling, exosome_iv+microneedling or prp.",
        metavar="PROTOCOL",
    ),
]
ScheduleOption = Annotated[
    str | None,
    typer.Option(
        "--schedule",
        help='Follow-up templates, several separated by ";" ("standard;extended"); '
        "`aftercare schedules` lists them.",
        metavar="NAMES",
    ),
]
TreatingOption = Annotated[
    str | None,
    typer.Option(
        "--treating",
        help="The treating physician's staff login (dr.kim); they get the pages about it.",
        metavar="LOGIN",
    ),
]
NurseOption = Annotated[
    str | None, typer.Option("--nurse", help="The nurse who gave the treatment.", metavar="TEXT")
]
NurseLicenceOption = Annotated[
    str | None, typer.Option("--nurse-licence", help="The nurse's licence number.", metavar="TEXT")
]
DepartureOption = Annotated[
    str | None, typer.Option("--departure", help="The flight home: YYYY-MM-DD.", metavar="DATE")
]
InsurerOption = Annotated[
    str | None, typer.Option("--insurer", help="The travel insurer.", metavar="TEXT")
]
PolicyOption = Annotated[
    str | None, typer.Option("--policy", help="The travel insurance policy number.", metavar="TEXT")
]
KhidiOption = Annotated[
    str | None, typer.Option("--khidi-ref", help="The KHIDI cover reference.", metavar="TEXT")
]
AllergiesOption = Annotated[
    str | None,
    typer.Option(
        "--allergies", help='What the patient is allergic to ("penicillin").', metavar="TEXT"
    ),
]
NoAllergiesOption = Annotated[
    bool, typer.Option("--no-allergies", help="Asked: no allergies known.")
]
VasovagalOption = Annotated[
    str | None,
    typer.Option(
        "--vasovagal",
        help="Has the patient fainted at needles or blood before? yes or no.",
        metavar="yes|no",
    ),
]
SensitiveSkinOption = Annotated[
    str | None,
    typer.Option("--sensitive-skin", help="Sensitive skin? yes or no.", metavar="yes|no"),
]
ProductOption = Annotated[
    list[str] | None,
    typer.Option(
        "--product",
        help='A product given, as key=value pairs separated by ";": name (required), mfds '
        "(MFDS reference), lot, expiry (YYYY-MM or YYYY-MM-DD), exosome (yes or no). "
        'Repeat for each product. "edit": any --product replaces the whole list.',
        metavar='"name=..; lot=.."',
    ),
]
NoProductsOption = Annotated[
    bool, typer.Option("--no-products", help="Asked: no products were given.")
]
AddonOption = Annotated[
    list[str] | None,
    typer.Option(
        "--addon",
        help='An add-on infusion given, as "name=glutathione; dose=1200" (dose in mg). '
        'Repeat for each add-on. "edit": any --addon replaces the whole list.',
        metavar='"name=..; dose=.."',
    ),
]
NoAddonsOption = Annotated[bool, typer.Option("--no-addons", help="Asked: no add-ons were given.")]


@dataclass(frozen=True)
class EpisodeOptions:
    """The episode options as typed; None (or False, or empty): not given."""

    procedure: str | None = None
    protocol: str | None = None
    schedule: str | None = None
    treating: str | None = None
    nurse: str | None = None
    nurse_licence: str | None = None
    departure: str | None = None
    insurer: str | None = None
    policy: str | None = None
    khidi_ref: str | None = None
    allergies: str | None = None
    no_allergies: bool = False
    vasovagal: str | None = None
    sensitive_skin: str | None = None
    product: Sequence[str] | None = None
    no_products: bool = False
    addon: Sequence[str] | None = None
    no_addons: bool = False

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> EpisodeOptions:
        """The episode options among a command's arguments (its `locals()`): the
        three commands share them without listing eighteen names three times."""
        return cls(**{f.name: arguments[f.name] for f in fields(cls)})

    @property
    def given(self) -> bool:
        """Whether any episode option was given at all."""
        return any(getattr(self, f.name) not in (None, False, [], ()) for f in fields(self))

    def values(self) -> dict[str, str]:
        """The text of every field given, by field key (an empty value clears it)."""
        from core.records import NONE_GIVEN

        typed = {
            key: getattr(self, name)
            for name, (_, key) in SCALAR_OPTIONS.items()
            if getattr(self, name) is not None
        }
        if self.no_allergies:
            # Both given is said once, by `problems`.
            typed.update(has_allergies="no", allergies="")
        elif self.allergies is not None:
            # Typing what the allergy is answers the question; empty: not asked.
            typed.update(has_allergies="yes" if self.allergies.strip() else "")
            typed.update(allergies=self.allergies)
        if self.product or self.no_products:
            typed["products"] = NONE_GIVEN if self.no_products else ""
        if self.addon or self.no_addons:
            typed["addons"] = NONE_GIVEN if self.no_addons else ""
        return typed

    def problems(self) -> list[FieldProblem]:
        """What is wrong with the options themselves, before any value is read."""
        from core.records import FieldProblem

        found = []
        if self.no_allergies and self.allergies:
            found.append(FieldProblem("allergies", "give --allergies or --no-allergies, not both"))
        for kind, typed, keys in (
            ("product", self.product, PRODUCT_KEYS),
            ("addon", self.addon, ADDON_KEYS),
        ):
            for n, text in enumerate(typed or (), start=1):
                found.extend(FieldProblem(f"{kind}-{n}", p) for p in _pairs(text, keys)[1])
        return found

    def rows(self, kind: str) -> list[dict[str, str]]:
        """The --product (kind "product") or --addon rows, by field of core.records."""
        if kind == "product":
            return [_pairs(text, PRODUCT_KEYS)[0] for text in self.product or ()]
        return [_pairs(text, ADDON_KEYS)[0] for text in self.addon or ()]


def _pairs(text: str, keys: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """ "name=ASCE+; lot=A1" -> ({"name": "ASCE+", "lot_number": "A1"}, problems)."""
    row: dict[str, str] = {}
    problems = []
    known = ", ".join(keys)
    for part in (p.strip() for p in text.split(PAIR_SEPARATOR)):
        if not part:
            continue
        typed, equals, value = part.partition("=")
        key = typed.strip().lower()
        if not equals:
            problems.append(f"{part!r} is not key=value; keys: {known}")
        elif key not in keys:
            problems.append(f"{key!r} is not a key; keys: {known}")
        elif keys[key] in row:
            problems.append(f"{key} is given twice")
        else:
            row[keys[key]] = value.strip()
    return row, problems


def problem_words(problem: FieldProblem, options: Mapping[str, str] = OPTION_OF) -> str:
    """'Product 2 lot: <problem> [--product 2: lot]': the field in words, what is
    wrong, and the option it was typed with."""
    from core.records import field_words

    kind, _, rest = problem.field.partition("-")
    if kind in ("product", "addon") and rest:
        n, _, key = rest.partition("-")
        typed = PRODUCT_KEYS if kind == "product" else ADDON_KEYS
        shown = next((k for k, v in typed.items() if v == key), "")
        words = field_words(problem.field) if key else f"{kind.title()} {n}"
        option = f"--{kind} {n}" + (f": {shown}" if shown else "")
    else:
        words, option = field_words(problem.field), options.get(problem.field, "")
    return f"{words}: {problem.problem}" + (f" [{option}]" if option else "")
