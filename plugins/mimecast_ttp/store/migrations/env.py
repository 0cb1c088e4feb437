"""Alembic's environment for the alert store, run by :mod:`mimecast_ttp.store.migrate`.

The migrations run on the connection handed over in ``config.attributes["connection"]``, inside
the transaction (and under the lock) that ``migrate`` opened, so Alembic neither commits nor
opens connections of its own. The version table is ours, never Airflow's ``alembic_version``.
"""

from __future__ import annotations

from alembic import context

from mimecast_ttp.store.migrate import VERSION_TABLE
from mimecast_ttp.store.schema import metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate compares the store's tables only, whatever else the database holds."""
    if type_ == "table":
        return name in metadata.tables
    return True


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        # SQLite cannot ALTER most things: autogenerate writes batch (copy-and-move) operations there
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # inside the caller's transaction on SQLite too (BEGIN IMMEDIATE): its DDL is transactional
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError(
        "the alert store's migrations run on a connection: use `mimecast-ttp db upgrade` or "
        "mimecast_ttp.store.migrate.alembic_config(connection)"
    )
run_migrations(connection)
