#!/usr/bin/env bash
# Initialise or upgrade a Streamflow deployment. Idempotent: run it on every start and after
# every upgrade; a second run changes nothing.
#
# The one place the init steps live. Run by
#   - the `airflow-init` service of docker-compose.airflow.yml (PostgreSQL + CeleryExecutor),
#   - scripts/run.sh (embedded SQLite + LocalExecutor),
#   - tests/deploy/test_init.py (against fresh PostgreSQL databases),
# so the tests exercise exactly what the deployments run.
#
# Steps:
#   1. `airflow db migrate`            Airflow's metadata database (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)
#   2. `streamflow db upgrade`         the streamflow database to the newest schema (Alembic)
#   3. `streamflow db load-reference`  station mappings + master station list (idempotent)
#   4. pools usgs_api / eccc_api / noaa_api, created when missing (slots an operator changed stay)
#   5. the admin user's password for Airflow's SimpleAuthManager
#   6. with STREAMFLOW_LOAD_EXAMPLES=true: the example configurations, when there are none at all
#
# Environment (all optional):
#   STREAMFLOW_POOLS             "name=slots ..."; default "usgs_api=4 eccc_api=4 noaa_api=4"
#   STREAMFLOW_ADMIN_USER        admin user name; default admin
#   STREAMFLOW_ADMIN_PASSWORD    set (or reset) the admin password; else one is generated once
#   STREAMFLOW_LOAD_EXAMPLES     true: create the example configurations on an empty database
#   STREAMFLOW_SKIP_REFERENCE    true: skip step 3 (reference data already loaded elsewhere)
# plus where the databases are: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, and STREAMFLOW_DATABASE_URL or
# the connection AIRFLOW_CONN_STREAMFLOW_DB (DESIGN §3).
set -euo pipefail

PYTHON=${PYTHON:-python}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

step() { echo "init: $*" >&2; }

step "Airflow metadata database: airflow db migrate"
airflow db migrate >/dev/null

step "streamflow database: streamflow db upgrade"
streamflow db upgrade

if [ "${STREAMFLOW_SKIP_REFERENCE:-false}" != "true" ]; then
  step "reference data: streamflow db load-reference"
  streamflow db load-reference
fi

pools=${STREAMFLOW_POOLS:-usgs_api=4 eccc_api=4 noaa_api=4}
step "pools: ${pools}"
pool_file=$(mktemp)
trap 'rm -f "$pool_file"' EXIT
# Only the missing pools are written: re-running never resets slots an operator has tuned.
airflow pools list -o json 2>/dev/null | "$PYTHON" -c '
import json, sys
text = sys.stdin.read()
have = {p["pool"] for p in json.loads(text[text.index("["):])}
missing = {}
for spec in sys.argv[2].split():
    name, _, slots = spec.partition("=")
    if not slots.isdigit():
        sys.exit(f"init: STREAMFLOW_POOLS: {spec!r} is not name=slots")
    if name not in have:
        missing[name] = {"slots": int(slots), "include_deferred": False,
                         "description": f"streamflow: concurrent requests to the {name[:-4].upper()} services"}
with open(sys.argv[1], "w") as handle:
    json.dump(missing, handle)
note = "creating " + ", ".join(missing) if missing else "all present (slots left as they are)"
print("init:   " + note, file=sys.stderr)
' "$pool_file" "$pools"
if [ "$(cat "$pool_file")" != "{}" ]; then
  airflow pools import "$pool_file" >/dev/null
fi

auth_manager=${AIRFLOW__CORE__AUTH_MANAGER:-}
if [ -z "$auth_manager" ] || [[ "$auth_manager" == *SimpleAuthManager ]]; then
  step "admin user for SimpleAuthManager"
  "$PYTHON" - <<'PY'
import json
import os
import secrets
import sys
from pathlib import Path

home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
path = Path(os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
            or home / "simple_auth_manager_passwords.json.generated")
user = os.environ.get("STREAMFLOW_ADMIN_USER") or "admin"
wanted = os.environ.get("STREAMFLOW_ADMIN_PASSWORD")
try:
    passwords = json.loads(path.read_text() or "{}")
except FileNotFoundError:
    passwords = {}
if wanted:
    action = "unchanged" if passwords.get(user) == wanted else "set from STREAMFLOW_ADMIN_PASSWORD"
    passwords[user] = wanted
elif user in passwords:
    action = "kept"
else:
    passwords[user] = secrets.token_urlsafe(12)
    action = "generated"
if action != "kept":
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(passwords) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
print(f"init: user {user!r}: password {action} ({path})", file=sys.stderr)
PY
fi

if [ "${STREAMFLOW_LOAD_EXAMPLES:-false}" = "true" ]; then
  if [ "$(streamflow config list --json | "$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))')" = "0" ]; then
    step "example configurations: streamflow config examples"
    streamflow config examples
  else
    step "example configurations: skipped (configurations exist)"
  fi
fi
step "done"
