"""Stores as earlier versions of the code made them, and schemas in a form two databases compare in.

A "store made by the old code" is built from ``tests/fixtures/store/schema_before_migrations.
<dialect>.sql`` (the exact DDL the single-module store's ``create_all`` emitted, checked in once);
a "store made at revision R" by running the migrations of an empty database only up to R. Either
is filled with the rows the code of its time wrote: the same real batches are loaded through the
current load path into a scratch store (a temporary SQLite file), and its rows are copied into the
target's tables with only the columns those tables have (reflected), through the current Table
objects (a Core insert of a subset of the keys; ``UtcDateTime`` binds per dialect). A column a
later revision added is one the code of the earlier time never wrote; every other one it wrote as
the current code does. (The current load path cannot write into the old tables directly: it
writes every column ``schema.py`` declares.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect

from mimecast_ttp.store import VERSION_TABLE, AlertStore, metadata, migrate, normalise_url
from tests.plugins.mimecast_ttp.store_samples import (
    W1,
    W3,
    broken_copies,
    dump,
    load,
    sample_records,
    window_batch,
)

SCHEMA_FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "store"
Rows = dict[str, list[dict[str, Any]]]


def legacy_ddl(dialect: str) -> list[str]:
    """The statements of the pre-migration DDL for ``dialect`` (``sqlite`` or ``postgresql``)."""
    text = (SCHEMA_FIXTURES / f"schema_before_migrations.{dialect}.sql").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [statement.strip() for statement in body.split(";") if statement.strip()]


def make_legacy_tables(url: str) -> None:
    """The three tables, no version table: what the old code's first use made."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.begin() as conn:
            for statement in legacy_ddl(engine.dialect.name):
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def upgrade_to(url: str, revision: str) -> None:
    """Run the store's migrations on ``url`` up to ``revision`` only (in one transaction), as the
    code whose head ``revision`` was would have; nothing is stamped."""
    from alembic import command

    engine = create_engine(normalise_url(url))
    try:
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), revision)
    finally:
        engine.dispose()


def make_legacy_store(url: str, fixtures_dir: Path) -> Rows:
    """A store made and filled as by the old code: every endpoint, quarantine, a later window and a
    not-licensed one. Returns every row, with the columns the old tables have."""
    make_legacy_tables(url)
    rows = fill_as_written_then(url, fixtures_dir)
    assert not inspect_tables(url) - set(metadata.tables), "the legacy store has only the three tables"
    return rows


def make_store_at(url: str, revision: str, fixtures_dir: Path) -> Rows:
    """A store made and filled by the code whose head was ``revision`` (the same rows as
    :func:`make_legacy_store`); returns every row, with the columns the tables at ``revision`` have."""
    upgrade_to(url, revision)
    return fill_as_written_then(url, fixtures_dir)


def fill_as_written_then(url: str, fixtures_dir: Path) -> Rows:
    """Fill the (empty) tables at ``url`` with the sample rows, only in the columns they have, and
    return the rows as read back from ``url``."""
    with tempfile.TemporaryDirectory(prefix="scratch-store-") as scratch:
        store = AlertStore.from_url(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            for endpoint in ("attachment", "impersonation", "url"):
                records = sample_records(fixtures_dir, endpoint)
                load(store, window_batch(records + broken_copies(records, endpoint), endpoint, W1))
            load(store, window_batch(sample_records(fixtures_dir, "url", pages=(2,)), "url", W3))
            store.record_status(endpoint="attachment", window_start=W3[0], window_end=W3[1], status="not_licensed")
            written = dump(store)
        finally:
            store.engine.dispose()

    engine = create_engine(normalise_url(url))
    try:
        present = stored_columns(engine)
        rows = {name: [{k: v for k, v in row.items() if k in present[name]} for row in table_rows]
                for name, table_rows in written.items()}  # fmt: skip
        with engine.begin() as conn:
            for name, table_rows in rows.items():
                table = metadata.tables[name]
                # the quarantine id is the database's (a PostgreSQL sequence must count these rows),
                # given in the scratch store's order: each row gets the id it had there
                serial = table.autoincrement_column
                by_id = sorted(table_rows, key=lambda r: r[serial.name]) if serial is not None else table_rows
                conn.execute(table.insert(), [{k: v for k, v in r.items() if serial is None or k != serial.name}
                                              for r in by_id])  # fmt: skip
        stored = dump_stored(engine)
    finally:
        engine.dispose()
    assert stored == rows, "the rows read back are the rows written, in the columns the tables have"
    assert {name: len(table_rows) for name, table_rows in stored.items()} == {
        "mimecast_alerts": 9, "mimecast_quarantine": 9, "mimecast_run_stats": 5,
    }  # fmt: skip
    return stored


def stored_columns(engine: Engine) -> dict[str, set[str]]:
    """The columns each of the store's tables has in the database (reflected)."""
    inspector = inspect(engine)
    return {name: {c["name"] for c in inspector.get_columns(name)} for name in metadata.tables}


def dump_stored(engine_or_url: Engine | str) -> Rows:
    """:func:`store_samples.dump` of a store at any revision: only the columns its tables have."""
    if isinstance(engine_or_url, str):
        engine = create_engine(normalise_url(engine_or_url))
        try:
            return dump_stored(engine)
        finally:
            engine.dispose()
    return dump(engine_or_url, columns=stored_columns(engine_or_url))


def assert_kept_with_new_columns_null(before: Rows, after: Rows) -> None:
    """``after`` holds every row of ``before``, in order, each column of ``before`` equal, and NULL
    in every column ``before`` lacks (the columns later revisions added; old rows never had them)."""
    assert set(after) == set(before)
    for name, old_rows in before.items():
        assert old_rows, name
        new_rows = after[name]
        kept = set(old_rows[0])
        added = set(metadata.tables[name].c.keys()) - kept
        assert [{k: v for k, v in row.items() if k in kept} for row in new_rows] == old_rows, name
        assert [{k: row[k] for k in added} for row in new_rows] == [dict.fromkeys(added) for _ in old_rows], name


def inspect_tables(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_of(engine: Engine, *, without: tuple[str, ...] = (VERSION_TABLE,)) -> dict[str, Any]:
    """Tables, columns in order (type as the dialect spells it, nullability, default), primary keys
    and indexes."""
    inspector = inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - set(without)):
        schema[table] = {
            "columns": [
                (c["name"], c["type"].compile(dialect=engine.dialect).upper(), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), bool(ix.get("unique"))) for ix in inspector.get_indexes(table)
            ),
            "foreign_keys": inspector.get_foreign_keys(table),
            "unique": inspector.get_unique_constraints(table),
        }
    return schema


def schema_at(url: str) -> dict[str, Any]:
    engine = create_engine(normalise_url(url))
    try:
        return schema_of(engine)
    finally:
        engine.dispose()


def declared_schema(url: str) -> dict[str, Any]:
    """The schema ``schema.py`` declares, as ``create_all`` makes it in the empty database ``url``."""
    engine = create_engine(normalise_url(url))
    try:
        metadata.create_all(engine)
        return schema_of(engine)
    finally:
        engine.dispose()
