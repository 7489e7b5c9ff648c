"""Reading a shipped TOML data table (countries, triage rules) into its checked model.

Each table describes its rows as a pydantic model; this turns a malformed file
or a bad row into one ValueError that names the table and the field, so a
broken data file stops the program with a sentence rather than a traceback.
"""

from __future__ import annotations

import tomllib
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Table = TypeVar("Table", bound=BaseModel)


def read_table(model: type[Table], text: str, named: str) -> Table:
    """`text` (TOML) checked against `model`; `named` ("country table x.toml") leads errors."""
    try:
        return model.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{named}: malformed TOML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{named}: {where}: {first['msg']}") from exc
