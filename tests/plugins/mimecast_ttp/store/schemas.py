"""Stores as the code before migrations made them, and schemas in a form two databases compare in.

A "store made by the old code" is built from ``tests/fixtures/store/schema_before_migrations.
<dialect>.sql`` (the exact DDL the single-module store's ``create_all`` emitted, checked in once)
and filled with real rows through the store's load path with its first-use step skipped: the old
first use was ``create_all(checkfirst=True)``, a no-op on those tables, so the rows are what that
code wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect

from mimecast_ttp.store import VERSION_TABLE, AlertStore, metadata, normalise_url
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


def make_legacy_store(url: str, fixtures_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """A store made and filled as by the old code: every endpoint, quarantine, a later window and a
    not-licensed one. Returns every row (as :func:`store_samples.dump` reads them)."""
    make_legacy_tables(url)
    store = AlertStore.from_url(url)
    store._tables_ready = True  # the old first use (create_all on existing tables) did nothing
    try:
        for endpoint in ("attachment", "impersonation", "url"):
            records = sample_records(fixtures_dir, endpoint)
            load(store, window_batch(records + broken_copies(records, endpoint), endpoint, W1))
        load(store, window_batch(sample_records(fixtures_dir, "url", pages=(2,)), "url", W3))
        store.record_status(endpoint="attachment", window_start=W3[0], window_end=W3[1], status="not_licensed")
        rows = dump(store)
    finally:
        store.engine.dispose()
    assert not inspect_tables(url) - set(metadata.tables), "the legacy store has only the three tables"
    return rows


def inspect_tables(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_of(engine: Engine, *, without: tuple[str, ...] = (VERSION_TABLE,)) -> dict[str, Any]:
    """Tables, columns (type as the dialect spells it, nullability, default), primary keys and indexes."""
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
