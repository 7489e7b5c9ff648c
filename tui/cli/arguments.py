"""Arguments and options several commands share, declared once so their words agree."""

from __future__ import annotations

from typing import Annotated

import typer

PatientArgument = Annotated[
    str, typer.Argument(help="The patient's code (e.g. AC-000123) or numeric id.")
]
LoginOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Act as this staff login instead of the operating-system user "
        "(demo staff on a database without real patients only).",
    ),
]
