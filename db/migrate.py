"""Schema migrations with Alembic, driven from code (no alembic.ini needed).

`aftercare init` upgrades to head; every other command refuses to run on a
database that is not at head, and says which command fixes it.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from db.errors import DatabaseNotAtHead, StorageError, explain_operational_error, masked


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations shipped in this package.

    No URL is set: migrations run on the connection `_run` hands over, so a
    password never passes through Alembic's config parser or its logs.
    """
    config = Config()
    config.set_main_option("script_location", "db:migrations")
    return config


def head_revision() -> str:
    """The newest migration this version of aftercare ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        raise explain_operational_error(exc, engine.url) from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema; running it again changes nothing."""
    _run(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Step the schema back (tests and emergency rollbacks)."""
    _run(engine, lambda cfg: command.downgrade(cfg, revision))


def _run(engine: Engine, step: object) -> None:
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config)  # type: ignore[operator]
    except DBAPIError as exc:
        raise explain_operational_error(exc, engine.url) from exc


def require_head(engine: Engine) -> None:
    """Refuse to work on a database whose schema this version does not expect."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    where = masked(engine.url)
    if current is None:
        raise DatabaseNotAtHead(
            f"database {where} has no aftercare schema: run `aftercare init` to create it"
        )
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise DatabaseNotAtHead(
            f"database {where} is at revision {current}, newer than this aftercare "
            f"(head {head}): upgrade the aftercare package"
        )
    raise DatabaseNotAtHead(
        f"database {where} is at revision {current}, this aftercare needs {head}: "
        "run `aftercare init` to upgrade it"
    )


__all__ = [
    "StorageError",
    "alembic_config",
    "current_revision",
    "downgrade",
    "head_revision",
    "require_head",
    "upgrade",
]
