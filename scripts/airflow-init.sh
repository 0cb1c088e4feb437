#!/usr/bin/env bash
# One-shot setup run by the `airflow-init` service before the other Airflow services start, and
# safe to run again at every `docker compose up`:
#   1. refuse to start without the secrets every service must share;
#   2. migrate the metadata database;
#   3. create the alerts database when it is missing (PostgreSQL URI only);
#   4. write the simple auth manager's admin password from the environment;
#   5. create or resize the `mimecast_api` pool that throttles calls to the Mimecast API;
#   6. import the connections given in the environment into the metadata database
#      (encrypted with the Fernet key; the other services never see these variables).
# Secrets are read from the environment and never echoed.
set -euo pipefail

missing=()
for name in AIRFLOW__CORE__FERNET_KEY AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY \
            AIRFLOW_ADMIN_PASSWORD AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE; do
  [[ -n "${!name:-}" ]] || missing+=("$name")
done
if (( ${#missing[@]} )); then
  echo "airflow-init: not set: ${missing[*]} (see .env.example and docs/deploy.md)" >&2
  exit 1
fi

echo "airflow-init: migrating the metadata database"
airflow db migrate

echo "airflow-init: checking the alerts database"
python - <<'PY'
"""Create the alerts database named by AIRFLOW_CONN_MIMECAST_ALERTS_DB when it does not exist."""
import os
import sys

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

value = os.environ.get("AIRFLOW_CONN_MIMECAST_ALERTS_DB", "").strip()
if not value.startswith(("postgres://", "postgresql://", "postgresql+psycopg2://")):
    print("airflow-init: AIRFLOW_CONN_MIMECAST_ALERTS_DB is not a PostgreSQL URI; not creating a database")
    sys.exit(0)
try:
    url = make_url(value.replace("postgres://", "postgresql://", 1))
except Exception:
    sys.exit("airflow-init: AIRFLOW_CONN_MIMECAST_ALERTS_DB is not a valid database URI")
if not url.database:
    sys.exit("airflow-init: AIRFLOW_CONN_MIMECAST_ALERTS_DB names no database")
params = dict(host=url.host, port=url.port or 5432, user=url.username, password=url.password)
try:
    server = psycopg2.connect(dbname="postgres", connect_timeout=10, **params)
except psycopg2.Error as error:
    print(f"airflow-init: cannot reach the server of the alerts database ({error.pgcode or 'connect'});"
          " assuming the database exists")
    sys.exit(0)
server.autocommit = True
with server.cursor() as cursor:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
    if cursor.fetchone():
        print(f"airflow-init: alerts database {url.database!r} exists")
    else:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))
        print(f"airflow-init: created alerts database {url.database!r}")
server.close()
PY

echo "airflow-init: writing the admin password for the simple auth manager"
python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
user = os.environ.get("AIRFLOW_ADMIN_USERNAME") or "admin"
path.touch(mode=0o600)
path.write_text(json.dumps({user: os.environ["AIRFLOW_ADMIN_PASSWORD"]}) + "\n")
print(f"airflow-init: user {user!r} can log in with AIRFLOW_ADMIN_PASSWORD")
PY

slots="${MIMECAST_API_POOL_SLOTS:-2}"
echo "airflow-init: pool mimecast_api with ${slots} slots"
airflow pools set mimecast_api "${slots}" "Concurrent calls to the rate-limited Mimecast API"

echo "airflow-init: importing connections from the environment"
workdir="$(mktemp -d)"
trap 'rm -rf "${workdir}"' EXIT
chmod 700 "${workdir}"
python - "${workdir}/connections.json" <<'PY'
"""Collect the connections set in the environment into a private file for `connections import`."""
import json
import os
import sys

connections = {}
for conn_id, variable in (("mimecast_default", "AIRFLOW_CONN_MIMECAST_DEFAULT"),
                          ("mimecast_alerts_db", "AIRFLOW_CONN_MIMECAST_ALERTS_DB")):
    value = os.environ.get(variable, "").strip()
    if not value:
        print(f"airflow-init: {variable} is empty; connection {conn_id!r} left as it is")
        continue
    if value.startswith("{"):
        try:
            connections[conn_id] = json.loads(value)
        except json.JSONDecodeError as error:
            sys.exit(f"airflow-init: {variable} starts like JSON but is not JSON (line {error.lineno},"
                     f" column {error.colno})")
    elif "://" in value:
        connections[conn_id] = value
    else:
        sys.exit(f"airflow-init: {variable} is neither a connection URI nor connection JSON")
with open(sys.argv[1], "w", opener=lambda path, flags: os.open(path, flags, 0o600)) as file:
    json.dump(connections, file)
PY
airflow connections import --overwrite "${workdir}/connections.json"

echo "airflow-init: done"
