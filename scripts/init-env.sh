#!/usr/bin/env bash
# Write .env for docker compose from .env.example, with fresh random secrets and your user id.
# Usage: scripts/init-env.sh [TARGET]   (default .env; an existing file is never overwritten)
# Prints the admin login; every other value stays as in .env.example, to edit by hand.
set -euo pipefail

cd "$(dirname "$0")/.."
target="${1:-.env}"
if [[ -e "${target}" ]]; then
  echo "${target} exists; not overwriting it (delete it first to start over)" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "init-env needs openssl" >&2; exit 1; }

hex() { openssl rand -hex "$1"; }
uid="$(id -u)"
[[ "${uid}" != 0 ]] || uid=50000  # never run the containers as root; the image's user is 50000
declare -A generated=(
  [AIRFLOW__CORE__FERNET_KEY]="$(openssl rand -base64 32 | tr '+/' '-_')"
  [AIRFLOW__API_AUTH__JWT_SECRET]="$(hex 32)"
  [AIRFLOW__API__SECRET_KEY]="$(hex 32)"
  [POSTGRES_PASSWORD]="$(hex 16)"
  [AIRFLOW_ADMIN_PASSWORD]="$(hex 12)"
  [AIRFLOW_UID]="${uid}"
)

umask 077
while IFS= read -r line || [[ -n "${line}" ]]; do
  key="${line%%=*}"
  if [[ "${line}" != \#* && "${line}" == *=* && -n "${generated[${key}]+set}" ]]; then
    line="${key}=${generated[${key}]}"
  fi
  printf '%s\n' "${line}"
done < .env.example > "${target}"

echo "wrote ${target}; log in as $(grep '^AIRFLOW_ADMIN_USERNAME=' "${target}" | cut -d= -f2-)" \
     "with password ${generated[AIRFLOW_ADMIN_PASSWORD]}"
