"""The schema's version: Alembic migrations, applied on first use and by ``mimecast-ttp db upgrade``.

Why it works this way:

- The tables are made by the migrations in ``migrations/versions/``, not by ``create_all``, so a
  store made by any earlier version of this package is brought to the current schema with its
  rows kept.
- The version is kept in a table of our own, ``mimecast_ttp_alembic_version``: the store may be
  pointed at a database that already has an ``alembic_version`` (Airflow's metadata database has),
  and the two histories must never meet.
- A store made before there were migrations (the three tables, no version table) is stamped
  ``0001``, which creates exactly what ``create_all`` made then, and upgraded from there.
- First use is cheap when the store is at head: one look at the version table, without importing
  Alembic (about 150 ms a process). :data:`HEAD_REVISION` names the newest migration for that
  look; a test holds it to the scripts, and a stale value only costs the slow path.
- Otherwise the upgrade runs in one transaction under a lock, and the version is read again under
  it: ``pg_advisory_xact_lock`` on PostgreSQL (DDL is transactional there), ``BEGIN IMMEDIATE`` on
  SQLite (the write lock, waited for up to the busy timeout). Three endpoint loads starting
  together on a fresh database upgrade it once; the others wait, then find it at head. A failed
  migration leaves the database as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, func, inspect, select

from mimecast_ttp.store.errors import AlertStoreError

log = logging.getLogger("mimecast_ttp.store")

VERSION_TABLE = "mimecast_ttp_alembic_version"
HEAD_REVISION = "0002"  # the newest file in migrations/versions/ (test_migrations.py checks it)
BASELINE_REVISION = "0001"  # the schema create_all made before there were migrations
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
SCHEMA_LOCK_KEY = 0x6D696D65  # PostgreSQL advisory lock held while the schema is changed
# the tables create_all made before migrations: how such a store is recognised (fixed, unlike schema.py)
BASELINE_TABLES = ("mimecast_alerts", "mimecast_quarantine", "mimecast_run_stats")

# Alembic's version table, read here without Alembic; its own MetaData: never created by create_all
_version_table = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32), nullable=False))


def ensure_schema(engine: Engine) -> None:
    """The store at head: nothing to do when it is (a look at the version table), else :func:`upgrade` it."""
    with engine.connect() as conn:
        if _revision(conn) == HEAD_REVISION:
            return
    _upgrade(engine, skip_at_head=True)


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the store to the newest migration, under the lock; return (revision before, after).

    ``None`` before means there was no version table: a new database, or tables made before
    migrations (those are stamped :data:`BASELINE_REVISION` first).
    """
    return _upgrade(engine, skip_at_head=False)


def current_revision(engine: Engine) -> str | None:
    """The store's recorded revision; ``None`` when it has no version table (or an empty one)."""
    with engine.connect() as conn:
        return _revision(conn)


def present_tables(engine: Engine) -> list[str]:
    """Which of the tables of a store made before migrations exist (:data:`BASELINE_TABLES`)."""
    with engine.connect() as conn:
        return _present_tables(conn)


def script_head() -> str:
    """The newest revision among the migration scripts (imports Alembic and reads the scripts)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def alembic_config(connection: Connection | None = None):
    """Alembic's configuration, made in code (no alembic.ini): the scripts shipped in this package,
    and the connection ``migrations/env.py`` runs them on."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _upgrade(engine: Engine, *, skip_at_head: bool) -> tuple[str | None, str | None]:
    where = engine.url.render_as_string(hide_password=True)
    with engine.begin() as conn:
        _lock(conn)
        before = _revision(conn)
        if skip_at_head and before == HEAD_REVISION:
            return before, before  # another process upgraded it while this one waited for the lock
        from alembic import command
        from alembic.script.revision import RevisionError
        from alembic.util import CommandError

        config = alembic_config(conn)
        made_before_migrations = before is None and _made_before_migrations(conn, where)
        try:
            if made_before_migrations:
                command.stamp(config, BASELINE_REVISION)
            command.upgrade(config, "head")
        except (CommandError, RevisionError) as err:
            raise AlertStoreError(
                f"cannot upgrade the alert store at {where} from revision {before}: {err} "
                "(was it upgraded by a newer version of this package?)"
            ) from err
        except Exception as err:  # a migration failed: the transaction rolls back, all of it
            reason = getattr(err, "orig", None) or err
            raise AlertStoreError(
                f"upgrading the alert store at {where} from revision {before} failed "
                f"({type(reason).__name__}: {reason}); nothing was changed"
            ) from err
        after = _revision(conn)
    if made_before_migrations:
        log.info("alert store at %s: tables made before migrations, stamped %s", where, BASELINE_REVISION)
    if after != before:
        log.info("alert store at %s: schema upgraded from %s to %s", where, before or "none", after)
    return before, after


def _made_before_migrations(conn: Connection, where: str) -> bool:
    """Whether the database holds a store made before migrations (to be stamped); refuses a part of one."""
    present = _present_tables(conn)
    if not present:
        return False
    if len(present) < len(BASELINE_TABLES):
        missing = [name for name in BASELINE_TABLES if name not in present]
        raise AlertStoreError(
            f"the alert store at {where} has {', '.join(present)} but not {', '.join(missing)}, and no "
            f"{VERSION_TABLE}: not a store this package made; restore the missing tables or use another database"
        )
    return True


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # the write lock before the version is read, so no two processes both find it behind
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    versions: list[Any] = conn.execute(select(_version_table.c.version_num)).scalars().all()
    return "+".join(sorted(versions)) or None  # one row unless someone branched the history


def _present_tables(conn: Connection) -> list[str]:
    inspector = inspect(conn)
    return [name for name in BASELINE_TABLES if inspector.has_table(name)]
