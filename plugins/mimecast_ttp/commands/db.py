"""``mimecast-ttp db``: the alert store's schema version, for operators and deploy scripts.

``db upgrade`` applies the store's migrations (what the first load of a new version does anyway),
so a deployment can upgrade the schema before the DAG runs, with a user allowed to change it, and
see the result. ``db current`` prints the revision the store is at. The store is found as
``mimecast-ttp stats`` finds it: ``--db URL``, ``MIMECAST_TTP_ALERTS_DB_URL``, the Airflow
connection, the SQLite file in the data directory.
"""

from __future__ import annotations

import argparse
import sys

PROG = "mimecast-ttp db"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text in (
        ("upgrade", "apply the migrations the store lacks (a new store gets every table); safe to repeat"),
        ("current", "print the store's revision (first word: the revision, or none)"),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the alert store (as for `stats`)")


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from mimecast_ttp.commands.stats import missing_sqlite_file, resolve_store_url
    from mimecast_ttp.settings import SettingsError
    from mimecast_ttp.store import AlertStore, AlertStoreError

    try:
        url, source = resolve_store_url(args.db)
    except (AlertStoreError, SettingsError, ValueError) as err:
        return _fail(f"cannot tell where the alert store is: {err}")
    missing = missing_sqlite_file(url)
    if missing and args.action == "current":
        return _fail(f"no alert store at {missing} (from {source}): nothing has been loaded there yet; pass --db URL")
    if missing and not missing.parent.is_dir():  # a new store, yes; a new folder, no: more likely a typo
        return _fail(f"no folder {missing.parent} for a new alert store {missing.name} (from {source}); "
                     "create it, or pass --db URL")
    try:
        store = AlertStore.from_url(url)
    except AlertStoreError as err:
        return _fail(str(err))
    try:
        return _upgrade(store, created=bool(missing)) if args.action == "upgrade" else _current(store)
    except AlertStoreError as err:
        return _fail(str(err))
    except SQLAlchemyError as err:
        return _fail(f"cannot {args.action} the alert store at {store.location} (from {source}): "
                     f"{getattr(err, 'orig', None) or err}")
    finally:
        store.engine.dispose()


def _upgrade(store, *, created: bool) -> int:
    from mimecast_ttp.store import migrate

    made_before_migrations = migrate.current_revision(store.engine) is None and bool(
        migrate.present_tables(store.engine)
    )
    before, after = migrate.upgrade(store.engine)
    if before == after:
        print(f"{store.location} is at {after} (head): nothing to do")
    elif made_before_migrations:
        print(f"{store.location}: tables made before migrations, stamped {migrate.BASELINE_REVISION}, "
              f"upgraded to {after} (head); every row kept")
    else:
        print(f"{store.location}: {'created, ' if created else ''}upgraded from {before or 'none'} to {after} (head)")
    return 0


def _current(store) -> int:
    from mimecast_ttp.store import migrate

    revision = migrate.current_revision(store.engine)
    head = migrate.script_head()
    if revision == head:
        note = "head"
    elif revision is None and migrate.present_tables(store.engine):
        note = f"tables made before migrations: `db upgrade` or the next load stamps them {migrate.BASELINE_REVISION}"
    elif revision is None:
        note = "no tables yet: `db upgrade` or the first load creates them"
    elif revision in _known_revisions():
        note = f"head is {head}: run `mimecast-ttp db upgrade`"
    else:
        note = f"not a revision of this version of the package, whose head is {head}"
    print(f"{revision or 'none'} ({note}) in {store.location}")
    return 0


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from mimecast_ttp.store.migrate import alembic_config

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1
