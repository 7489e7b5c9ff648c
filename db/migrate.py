"""Schema migrations with Alembic, driven from code (no alembic.ini needed).

`aftercare init` upgrades to head; every other command refuses to run on a
database that is not at head, and says which command fixes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from db.errors import DatabaseNotAtHead, StorageError, explain_operational_error, masked

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0013"
"""The newest migration shipped, named here so that every command can check the
schema without loading Alembic (tests/db/test_migrations.py holds it to
Alembic's own head)."""


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations shipped in this package.

    No URL is set: migrations run on the connection `_run` hands over, so a
    password never passes through Alembic's config parser or its logs.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "db:migrations")
    return config


def head_revision() -> str:
    """The newest migration this version of aftercare ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        raise explain_operational_error(exc, engine.url) from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema; running it again changes nothing."""
    from alembic import command

    _run(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Step the schema back (tests and emergency rollbacks)."""
    from alembic import command

    _run(engine, lambda cfg: command.downgrade(cfg, revision))


def _run(engine: Engine, step: Callable[[Config], None]) -> None:
    config = alembic_config()
    try:
        if engine.dialect.name == "sqlite":
            _run_on_sqlite(engine, config, step)
            return
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config)
    except DBAPIError as exc:
        raise explain_operational_error(exc, engine.url) from exc


def _run_on_sqlite(engine: Engine, config: Config, step: Callable[[Config], None]) -> None:
    """All the steps in one SQLite transaction, with foreign keys checked at the end.

    Two things SQLite needs that PostgreSQL does not:
    - pysqlite opens a transaction only before an INSERT, UPDATE or DELETE, so a
      migration's CREATE, ALTER and DROP statements would each commit on their
      own and a failure half-way would leave half a schema behind. The
      transaction is opened here, explicitly, and covers every statement.
    - Batch mode rebuilds a table (copy, drop the old one, rename): with foreign
      keys enforced, dropping a table that other rows point at fails. So they
      are switched off for the migration (this only works outside a
      transaction) and `PRAGMA foreign_key_check` must find nothing broken
      before the transaction commits.
    """
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        level = driver.isolation_level
        driver.isolation_level = None  # statements pass through; we say BEGIN and COMMIT
        try:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                config.attributes["connection"] = connection
                step(config)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    tables = sorted({str(row[0]) for row in broken})
                    raise StorageError(
                        f"database {masked(engine.url)}: {len(broken)} rows in "
                        f"{', '.join(tables)} point at rows that do not exist; the schema "
                        "was not changed (repair those rows, or restore a backup, first)"
                    )
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
            driver.isolation_level = level


def require_head(engine: Engine) -> None:
    """Refuse to work on a database whose schema this version does not expect."""
    # The usual case, one query and no Alembic: it loads in about 0.1 s, which
    # every command would pay (bench/cli_start.py).
    try:
        with engine.connect() as connection:
            if connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD:
                return
    except DBAPIError:
        pass  # no alembic_version table, or unreadable: the full check below says why
    from alembic.script import ScriptDirectory

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
