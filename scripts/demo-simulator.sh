#!/usr/bin/env bash
# The `mimecast-simulator` service of the `demo` profile: point the `mimecast_default` connection
# at the simulator, then run it. The service shares the scheduler container's network namespace,
# so tasks (LocalExecutor: they run in the scheduler container) reach it on loopback, the only
# place the hook accepts plain http. Its credentials are the simulator's public demo keys.
set -euo pipefail

port="${MIMECAST_SIMULATOR_PORT:-8089}"
workdir="$(mktemp -d)"
trap 'rm -rf "${workdir}"' EXIT
python - "${workdir}/connections.json" "${port}" <<'PY'
import json
import sys

from mimecast_ttp.simulator.credentials import demo_connection

with open(sys.argv[1], "w") as file:
    json.dump({"mimecast_default": demo_connection(f"http://127.0.0.1:{sys.argv[2]}")}, file)
PY
airflow connections import --overwrite "${workdir}/connections.json"
rm -rf "${workdir}"
trap - EXIT

echo "demo: mimecast_default now points at the simulator on 127.0.0.1:${port}"
exec mimecast-ttp simulate --host 127.0.0.1 --port "${port}"
