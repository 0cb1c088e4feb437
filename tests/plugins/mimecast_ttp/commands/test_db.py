"""``mimecast-ttp db upgrade`` and ``db current``, run as the installed command on real databases."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mimecast_ttp.store import HEAD_REVISION, VERSION_TABLE, AlertStore, normalise_url
from mimecast_ttp.store.migrate import BASELINE_REVISION
from tests.plugins.mimecast_ttp.store.schemas import (
    assert_kept_with_new_columns_null,
    make_legacy_store,
    make_legacy_tables,
    make_store_at,
    schema_at,
)
from tests.plugins.mimecast_ttp.store_samples import (
    W2,
    dump,
    load,
    postgres_schema,
    sample_records,
    window_batch,
)

COMMAND = Path(__file__).resolve().parents[4] / ".venv" / "bin" / "mimecast-ttp"


@pytest.fixture
def head_schema(request, store_url, tmp_path):
    """The schema at head, as `db upgrade` makes it in an empty database of the store's dialect."""
    with contextlib.ExitStack() as made:
        if store_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / 'fresh.db'}"
        else:
            url = made.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
        done = db("upgrade", "--db", url)
        assert done.returncode == 0, done.stderr
        yield schema_at(url)


def db(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(COMMAND), "db", *args], capture_output=True, text=True, timeout=120,
                          env=env or os.environ.copy())  # fmt: skip


def versions(url: str) -> list[str]:
    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        rows = list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    engine.dispose()
    return rows


def test_upgrade_brings_a_store_made_before_migrations_to_head_with_every_row(store_url, fixtures_dir, head_schema):
    before = make_legacy_store(store_url, fixtures_dir)
    current = db("current", "--db", store_url)
    assert current.returncode == 0, current.stderr
    assert current.stdout.startswith(f"none (tables made before migrations: `db upgrade` or the next load stamps them {BASELINE_REVISION})")

    done = db("upgrade", "--db", store_url)

    assert done.returncode == 0, done.stderr
    assert (f"tables made before migrations, stamped {BASELINE_REVISION}, upgraded to {HEAD_REVISION} (head); "
            "every row kept") in done.stdout  # fmt: skip
    assert versions(store_url) == [HEAD_REVISION]
    assert schema_at(store_url) == head_schema
    store = AlertStore.from_url(store_url)
    # every row of every table, every column the old code wrote; NULL in the ones added since
    assert_kept_with_new_columns_null(before, dump(store))
    written = load(store, window_batch(sample_records(fixtures_dir, "url"), "url", W2))
    assert (written["alerts"], written["alerts_new"]) == (4, 0)
    store.engine.dispose()
    assert db("current", "--db", store_url).stdout.startswith(f"{HEAD_REVISION} (head) in ")


def test_upgrade_brings_a_store_at_an_earlier_revision_to_head_with_every_row(store_url, fixtures_dir, head_schema):
    before = make_store_at(store_url, BASELINE_REVISION, fixtures_dir)
    current = db("current", "--db", store_url)
    assert current.returncode == 0, current.stderr
    assert current.stdout.startswith(f"{BASELINE_REVISION} (head is {HEAD_REVISION}: run `mimecast-ttp db upgrade`) in ")

    done = db("upgrade", "--db", store_url)

    assert done.returncode == 0, done.stderr
    assert f": upgraded from {BASELINE_REVISION} to {HEAD_REVISION} (head)" in done.stdout
    assert "stamped" not in done.stdout and "created" not in done.stdout
    assert versions(store_url) == [HEAD_REVISION]
    assert schema_at(store_url) == head_schema
    store = AlertStore.from_url(store_url)
    assert_kept_with_new_columns_null(before, dump(store))
    store.engine.dispose()
    assert db("current", "--db", store_url).stdout.startswith(f"{HEAD_REVISION} (head) in ")


def test_upgrade_twice_is_a_no_op(store_url):
    first = db("upgrade", "--db", store_url)
    assert first.returncode == 0, first.stderr
    assert f"upgraded from none to {HEAD_REVISION} (head)" in first.stdout
    schema = schema_at(store_url)

    second = db("upgrade", "--db", store_url)

    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith(f"is at {HEAD_REVISION} (head): nothing to do")
    assert schema_at(store_url) == schema
    assert versions(store_url) == [HEAD_REVISION]


def test_current_prints_the_revision_first(store_url):
    make_legacy_tables(store_url)
    assert db("current", "--db", store_url).stdout.split()[0] == "none"
    assert db("upgrade", "--db", store_url).returncode == 0

    current = db("current", "--db", store_url)

    assert current.returncode == 0, current.stderr
    assert current.stdout.split()[:2] == [HEAD_REVISION, "(head)"]
    assert "password" not in current.stdout and current.stderr == ""


def test_the_store_is_found_as_stats_finds_it(tmp_path):
    path = tmp_path / "from-env.db"
    env = {**os.environ, "MIMECAST_TTP_ALERTS_DB_URL": f"sqlite:///{path}"}

    done = db("upgrade", env=env)

    assert done.returncode == 0, done.stderr
    assert f"sqlite:///{path}: created, upgraded from none to {HEAD_REVISION} (head)" in done.stdout
    assert db("current", env=env).stdout.startswith(f"{HEAD_REVISION} (head)")


def test_missing_files_and_folders_are_clear_errors_and_create_nothing(tmp_path):
    missing = tmp_path / "alerts.db"
    current = db("current", "--db", f"sqlite:///{missing}")
    assert current.returncode == 1 and current.stdout == ""
    assert f"no alert store at {missing} (from --db)" in current.stderr
    assert not missing.exists()

    nowhere = tmp_path / "typo" / "alerts.db"
    upgrade = db("upgrade", "--db", f"sqlite:///{nowhere}")
    assert upgrade.returncode == 1
    assert f"no folder {nowhere.parent} for a new alert store alerts.db" in upgrade.stderr
    assert not nowhere.parent.exists()


def test_an_unreachable_database_is_a_clear_error():
    done = db("upgrade", "--db", "postgresql://nobody:s3cret-pw@127.0.0.1:1/none?connect_timeout=2")
    assert done.returncode == 1
    assert done.stderr.startswith("mimecast-ttp db: error: cannot upgrade the alert store at ")
    assert "s3cret" not in done.stderr + done.stdout


def test_a_revision_this_version_does_not_know_is_named_and_not_upgraded(store_url):
    assert db("upgrade", "--db", store_url).returncode == 0
    engine = create_engine(normalise_url(store_url))
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()

    current = db("current", "--db", store_url)
    upgrade = db("upgrade", "--db", store_url)

    assert current.returncode == 0
    assert current.stdout.startswith(f"9999 (not a revision of this version of the package, whose head is {HEAD_REVISION})")
    assert upgrade.returncode == 1 and upgrade.stdout == ""
    assert "from revision 9999" in upgrade.stderr and "newer version of this package" in upgrade.stderr
    assert versions(store_url) == ["9999"]
