"""The store's schema migrations on a real SQLite file and the real PostgreSQL.

Revision 0001 is exactly the tables the pre-migration code's ``create_all`` made, and head is
exactly what ``schema.py`` declares; first use of an empty database runs them all; a store that
code made is recognised, stamped and kept row for row, as is a store made at any earlier revision;
first uses racing in separate processes upgrade once; at head, first use costs one query and no
Alembic.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from mimecast_ttp.store import VERSION_TABLE, AlertStore, AlertStoreError, metadata, migrate, normalise_url
from tests.plugins.mimecast_ttp.store.schemas import (
    assert_kept_with_new_columns_null,
    declared_schema,
    dump_stored,
    legacy_ddl,
    make_legacy_store,
    make_legacy_tables,
    make_store_at,
    schema_at,
    schema_of,
    upgrade_to,
)
from tests.plugins.mimecast_ttp.store_samples import (
    W2,
    dump,
    load,
    postgres_schema,
    sample_records,
    window_batch,
)

REPO = Path(__file__).resolve().parents[4]
# every revision before head, oldest first: a store made by the code of each is upgraded in a test
EARLIER_REVISIONS = [
    script.revision
    for script in reversed(list(ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions()))
    if script.revision != migrate.HEAD_REVISION
]


@pytest.fixture
def new_url(request, store_url, tmp_path):
    """Makes more empty databases of the store's dialect: ``new_url("name")``."""
    with contextlib.ExitStack() as made:

        def make(name: str) -> str:
            if store_url.startswith("sqlite"):
                return f"sqlite:///{tmp_path / f'{name}.db'}"
            return made.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))

        yield make


@pytest.fixture
def other_url(new_url):
    """A second, empty database of the same dialect."""
    return new_url("other")


def versions(url: str) -> list[str]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    finally:
        engine.dispose()


def assert_writes_a_later_window(store: AlertStore, fixtures_dir: Path, endpoint: str) -> None:
    """The same events of ``endpoint`` again, in window W2, with the run statistics of today's
    pipeline (the columns later revisions added too): its 4 alerts updated, none new, the stats kept."""
    batch = window_batch(sample_records(fixtures_dir, endpoint), endpoint, W2)
    batch["stats"] |= {"tokens_minted": 2, "pace_waits": 3, "pace_wait_seconds": 1.5}
    written = load(store, batch)
    assert (written["alerts"], written["alerts_new"]) == (4, 0)
    assert store.count_alerts() == 9
    (row,) = [r for r in dump(store)["mimecast_run_stats"] if (r["endpoint"], r["window_start"]) == (endpoint, W2[0])]
    assert (row["tokens_minted"], row["pace_waits"], row["pace_wait_seconds"]) == (2, 3, 1.5)


def test_head_revision_names_the_newest_migration_script():
    # the quick first-use check compares with HEAD_REVISION: it must follow the scripts
    assert migrate.HEAD_REVISION == migrate.script_head()
    scripts = sorted((migrate.MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    assert scripts[0].name == "0001_initial.py"
    for script in scripts:  # files are named after their revision id, in order
        revision = re.search(r"""^revision = ["'](\w+)["']$""", script.read_text(), re.MULTILINE).group(1)
        assert script.name.startswith(f"{revision}_")
    assert scripts[-1].name.startswith(migrate.HEAD_REVISION)
    assert (migrate.MIGRATIONS_DIR / "script.py.mako").is_file()


def test_the_baseline_revision_is_the_schema_create_all_made(store_url, other_url):
    upgrade_to(store_url, migrate.BASELINE_REVISION)
    make_legacy_tables(other_url)

    migrated = schema_at(store_url)
    assert set(migrated) == set(migrate.BASELINE_TABLES)
    assert migrated == schema_at(other_url)  # the pre-migration code's DDL, column for column
    assert versions(store_url) == [migrate.BASELINE_REVISION]


def test_first_use_of_an_empty_database_runs_every_migration(store_url):
    store = AlertStore.from_url(store_url)
    store.ensure_tables()
    store.engine.dispose()

    assert set(schema_at(store_url)) == set(metadata.tables) == set(migrate.BASELINE_TABLES)
    assert versions(store_url) == [migrate.HEAD_REVISION]  # its schema: the test below
    # the version table is ours alone: Airflow's alembic_version is never made or read
    engine = create_engine(normalise_url(store_url))
    assert "alembic_version" not in schema_of(engine, without=())
    assert VERSION_TABLE in schema_of(engine, without=())
    engine.dispose()


def test_the_migrations_give_what_the_schema_module_declares(store_url, other_url):
    # schema.py is what the code reads and writes through: the migrations must make exactly it
    # (tables, columns in order, types, nullability, keys, indexes: schema.py lists a column a
    # migration adds at the end of its table, where ALTER TABLE ... ADD COLUMN puts it)
    AlertStore.from_url(store_url).ensure_tables()
    assert schema_at(store_url) == declared_schema(other_url)


def test_on_sqlite_the_baseline_ddl_is_the_old_ddl_statement_for_statement(tmp_path):
    upgrade_to(f"sqlite:///{tmp_path / 'new.db'}", migrate.BASELINE_REVISION)
    make_legacy_tables(f"sqlite:///{tmp_path / 'old.db'}")

    def ddl(path: Path) -> dict[str, str]:
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        return {name: " ".join(sql.split()) for name, sql in rows if name != VERSION_TABLE}

    assert ddl(tmp_path / "new.db") == ddl(tmp_path / "old.db")
    assert len(ddl(tmp_path / "old.db")) == len(legacy_ddl("sqlite")) == 8  # 3 tables, 5 indexes


def test_a_store_made_before_migrations_is_stamped_on_first_use_and_keeps_every_row(
    store_url, new_url, fixtures_dir, caplog
):
    before = make_legacy_store(store_url, fixtures_dir)
    assert {name: len(rows) for name, rows in before.items()} == {
        "mimecast_alerts": 9, "mimecast_quarantine": 9, "mimecast_run_stats": 5,
    }  # fmt: skip
    assert set(before["mimecast_run_stats"][0]) < set(metadata.tables["mimecast_run_stats"].c.keys())

    store = AlertStore.from_url(store_url)
    with caplog.at_level("INFO", logger="mimecast_ttp.store"):
        assert store.count_alerts() == 9  # the first use: stamped, upgraded
    assert f"stamped {migrate.BASELINE_REVISION}" in caplog.text
    assert f"schema upgraded from none to {migrate.HEAD_REVISION}" in caplog.text

    assert versions(store_url) == [migrate.HEAD_REVISION]
    # every row, every column the old code wrote; NULL in the columns later revisions added
    assert_kept_with_new_columns_null(before, dump(store))
    # the schema is head's: as an empty database's first use makes it, and as schema.py declares
    fresh = new_url("fresh")
    AlertStore.from_url(fresh).ensure_tables()
    assert schema_at(store_url) == schema_at(fresh)
    assert schema_at(store_url) == declared_schema(new_url("declared"))
    # and the code writes into it as into any store: the same events in a later window
    assert_writes_a_later_window(store, fixtures_dir, "impersonation")
    store.engine.dispose()


@pytest.mark.parametrize("revision", EARLIER_REVISIONS)
def test_a_store_made_at_an_earlier_revision_is_upgraded_on_first_use_and_keeps_every_row(
    store_url, new_url, fixtures_dir, revision, caplog
):
    # a store made and filled by the code whose head was `revision` (the first migrations-era code
    # for 0001): its tables as the migrations up to `revision` made them, rows in their columns
    before = make_store_at(store_url, revision, fixtures_dir)
    assert versions(store_url) == [revision]
    at_revision = schema_at(store_url)

    store = AlertStore.from_url(store_url)
    with caplog.at_level("INFO", logger="mimecast_ttp.store"):
        assert store.count_alerts() == 9  # the first use: upgraded, not stamped
    assert f"schema upgraded from {revision} to {migrate.HEAD_REVISION}" in caplog.text
    assert "stamped" not in caplog.text

    assert versions(store_url) == [migrate.HEAD_REVISION]
    assert_kept_with_new_columns_null(before, dump(store))
    fresh = new_url("fresh")
    AlertStore.from_url(fresh).ensure_tables()
    assert schema_at(store_url) == schema_at(fresh) != at_revision
    assert_writes_a_later_window(store, fixtures_dir, "url")
    store.engine.dispose()


def test_a_part_of_a_store_is_refused_and_left_as_it_was(store_url):
    engine = create_engine(normalise_url(store_url))
    with engine.begin() as conn:
        conn.exec_driver_sql(next(s for s in legacy_ddl(engine.dialect.name) if "TABLE mimecast_alerts " in s))
    engine.dispose()

    store = AlertStore.from_url(store_url)
    with pytest.raises(AlertStoreError, match=r"^the alert store at \S+ has mimecast_alerts but not mimecast_quarantine, mimecast_run_stats, and no"):
        store.count_alerts()
    assert set(schema_at(store_url)) == {"mimecast_alerts"}
    with pytest.raises(AlertStoreError):  # and again on the next call: nothing was half-done
        store.count_alerts()
    store.engine.dispose()


def test_a_store_at_a_revision_this_code_does_not_know_is_refused(store_url):
    AlertStore.from_url(store_url).ensure_tables()
    engine = create_engine(normalise_url(store_url))
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()

    store = AlertStore.from_url(store_url)
    with pytest.raises(AlertStoreError, match=r"from revision 9999.*newer version of this package"):
        store.count_alerts()
    assert versions(store_url) == ["9999"]
    store.engine.dispose()


def test_airflows_own_alembic_version_is_left_alone(store_url):
    # the store pointed at a database that already has an alembic_version (Airflow's metadata DB)
    engine = create_engine(normalise_url(store_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('29ce7909c52b')"))
    store = AlertStore.from_url(store_url)
    assert store.count_alerts() == 0

    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["29ce7909c52b"]
    assert versions(store_url) == [migrate.HEAD_REVISION]
    store.engine.dispose()
    engine.dispose()


# --- first uses in separate processes, at once ----------------------------------------------------

CHILD = """
import json, logging, sys, time
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
from mimecast_ttp.store import AlertStore, migrate
from tests.plugins.mimecast_ttp.store_samples import load, sample_records, window_batch

url, job, fixtures, ready, go = sys.argv[1:6]
store = AlertStore.from_url(url)
batch = None if job == "upgrade" else window_batch(sample_records(Path(fixtures), job), job)
Path(ready).touch()
deadline = time.monotonic() + 120
while not Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.002)
if job == "upgrade":
    print(json.dumps(migrate.upgrade(store.engine)))  # what `mimecast-ttp db upgrade` does
else:
    print(json.dumps(load(store, batch)["alerts"]))
"""


def race(url: str, jobs: list[str], folder: Path, fixtures_dir: Path) -> list[subprocess.CompletedProcess]:
    """Run ``jobs`` in separate processes that start their first use of ``url`` together."""
    go = folder / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url, job, str(fixtures_dir), str(folder / f"ready-{i}"), str(go)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i, job in enumerate(jobs)
    ]  # fmt: skip
    deadline = time.monotonic() + 120
    while not all((folder / f"ready-{i}").exists() for i in range(len(jobs))):
        assert time.monotonic() < deadline, "the children never got ready"
        assert all(child.poll() is None for child in children), [c.communicate() for c in children]
        time.sleep(0.01)
    go.touch()
    results = []
    for child in children:
        out, err = child.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(child.args, child.returncode, out, err))
    return results


@pytest.mark.parametrize("made_before_migrations", [False, True], ids=["empty", "made-before-migrations"])
def test_concurrent_first_use_in_separate_processes_upgrades_once(
    store_url, tmp_path, fixtures_dir, made_before_migrations
):
    before = make_legacy_store(store_url, fixtures_dir) if made_before_migrations else None
    folder = tmp_path / "race"
    folder.mkdir()

    results = race(store_url, ["attachment", "impersonation", "url", "upgrade"], folder, fixtures_dir)

    for result in results:
        assert result.returncode == 0, result.stderr
    assert [json.loads(r.stdout) for r in results[:3]] == [1, 4, 4]
    logs = "".join(r.stderr for r in results)
    assert logs.count(f"schema upgraded from none to {migrate.HEAD_REVISION}") == 1, logs
    assert logs.count(f"stamped {migrate.BASELINE_REVISION}") == (1 if made_before_migrations else 0), logs
    assert versions(store_url) == [migrate.HEAD_REVISION]
    store = AlertStore.from_url(store_url)
    assert store.count_alerts() == 9
    if before is not None:
        assert {r["alert_id"] for r in before["mimecast_alerts"]} <= {r["alert_id"] for r in dump(store)["mimecast_alerts"]}
    store.engine.dispose()


def test_first_use_at_head_is_one_look_at_the_version_table_without_alembic(tmp_path, fixtures_dir):
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    AlertStore.from_url(url).ensure_tables()
    code = (
        "import sys; from pathlib import Path; from mimecast_ttp.store import AlertStore;"
        "from tests.plugins.mimecast_ttp.store_samples import load, sample_records, window_batch;"
        f"s = AlertStore.from_url({url!r});"
        f"print(load(s, window_batch(sample_records(Path({str(fixtures_dir)!r}), 'url'), 'url'))['alerts'],"
        " sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert done.stdout.split() == ["4", "[]"]


BROKEN_REVISION = "broken"
BROKEN_MIGRATION = '''
"""A migration that fails half-way: for the test only."""
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("mimecast_scratch", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("mimecast_run_stats", sa.Column("note", sa.Text))
    op.execute("DELETE FROM mimecast_alerts")
    raise RuntimeError("half-way")
'''


def test_a_migration_that_fails_changes_nothing(store_url, fixtures_dir, tmp_path, monkeypatch):
    # a migration after head (as a developer would add one) that breaks after changing things
    head = migrate.HEAD_REVISION
    before = make_legacy_store(store_url, fixtures_dir)
    AlertStore.from_url(store_url).ensure_tables()
    schema = schema_at(store_url)
    at_head = dump_stored(store_url)
    assert_kept_with_new_columns_null(before, at_head)
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / f"{BROKEN_REVISION}.py").write_text(
        BROKEN_MIGRATION.format(revision=BROKEN_REVISION, down_revision=head)
    )
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", scripts)
    monkeypatch.setattr(migrate, "HEAD_REVISION", BROKEN_REVISION)
    assert migrate.script_head() == BROKEN_REVISION

    store = AlertStore.from_url(store_url)
    with pytest.raises(AlertStoreError, match=rf"from revision {head} failed \(RuntimeError: half-way\); nothing was changed"):
        store.count_alerts()

    assert versions(store_url) == [head]
    assert schema_at(store_url) == schema  # no scratch table, no new column
    assert dump(store) == at_head  # the deleted alerts are back
    store.engine.dispose()
