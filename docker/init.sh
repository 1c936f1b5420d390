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
#   5. the admin user: role Admin of the FAB auth manager (created, or its password reset), or the
#      password of Airflow's SimpleAuthManager (development: scripts/run.sh)
#   6. with STREAMFLOW_LOAD_EXAMPLES=true: the example configurations, when there are none at all
#
# Environment (all optional):
#   STREAMFLOW_POOLS             "name=slots ..."; default "usgs_api=4 eccc_api=4 noaa_api=4"
#   STREAMFLOW_ADMIN_USER        admin user name; default admin
#   STREAMFLOW_ADMIN_PASSWORD    set (or reset) the admin password; else one is generated once
#   STREAMFLOW_LOAD_EXAMPLES     true: create the example configurations on an empty database
#   STREAMFLOW_SKIP_REFERENCE    true: skip step 3 (reference data already loaded elsewhere)
#   STREAMFLOW_ADMIN_PASSWORD_FILE  FAB, no STREAMFLOW_ADMIN_PASSWORD: where a generated password is
#                                kept (0600); default $AIRFLOW_HOME/admin_password
#
# Before anything else it refuses to start (exit 2, naming the variable) while a secret still holds
# a `change-me-...` placeholder from .env.example. Everything it creates (SQLite files, password
# files) is readable by its owner only (umask 077).
# plus where the databases are: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, and STREAMFLOW_DATABASE_URL or
# the connection AIRFLOW_CONN_STREAMFLOW_DB (docs/architecture.md#configuration).
set -euo pipefail
umask 077

PYTHON=${PYTHON:-python}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

step() { echo "init: $*" >&2; }

# The placeholders of .env.example, and the .env variable each one stands for.
placeholder_variable() {
  case "$1" in
    change-me-postgres-superuser) echo POSTGRES_PASSWORD ;;
    change-me-airflow-db) echo AIRFLOW_DB_PASSWORD ;;
    change-me-streamflow-db) echo STREAMFLOW_DB_PASSWORD ;;
    change-me-redis) echo REDIS_PASSWORD ;;
    change-me-admin) echo STREAMFLOW_ADMIN_PASSWORD ;;
    change-me-flower) echo FLOWER_PASSWORD ;;
    *) echo "" ;;
  esac
}
refused=0
while IFS= read -r name; do
  value=${!name}
  [[ "$value" == *change-me* ]] || continue
  placeholder=$(grep -o 'change-me[A-Za-z0-9_-]*' <<<"$value" | head -1)
  variable=$(placeholder_variable "$placeholder")
  echo "init: refusing to start: ${variable:-$name} is still the placeholder '${placeholder}' from .env.example${variable:+ (it reaches $name)}; set a real secret in .env" >&2
  refused=1
done < <(compgen -e | grep -E '^(AIRFLOW|STREAMFLOW|POSTGRES|REDIS|FLOWER)' || true)
[ "$refused" = 0 ] || exit 2

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
if [[ "$auth_manager" == *FabAuthManager ]]; then
  step "admin user for the FAB auth manager (role Admin)"
  "$PYTHON" - <<'PY'
import logging
import os
import secrets
import sys
from pathlib import Path

logging.disable(logging.WARNING)  # FAB's own chatter; our one line below says what happened
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

user_name = os.environ.get("STREAMFLOW_ADMIN_USER") or "admin"
wanted = os.environ.get("STREAMFLOW_ADMIN_PASSWORD")
home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
keep = Path(os.environ.get("STREAMFLOW_ADMIN_PASSWORD_FILE") or home / "admin_password")
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    admin_role = sm.find_role("Admin")
    user = sm.find_user(username=user_name)
    if user is None:
        password = wanted or secrets.token_urlsafe(12)
        created = sm.add_user(user_name, "Streamflow", "Admin", f"{user_name}@localhost", admin_role, password)
        if not created:
            sys.exit(f"init: could not create the FAB user {user_name!r} (see the messages above)")
        action = "created with the password from STREAMFLOW_ADMIN_PASSWORD" if wanted else f"created; password generated into {keep}"
        if not wanted:
            keep.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(keep, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")
    else:
        if admin_role not in user.roles:
            user.roles.append(admin_role)
            sm.update_user(user)
        if wanted:
            sm.reset_password(user.id, wanted)
            action = "exists; password set from STREAMFLOW_ADMIN_PASSWORD"
        else:
            action = "exists; password kept"
print(f"init: user {user_name!r} (Admin): {action}", file=sys.stderr)
PY
elif [ -z "$auth_manager" ] || [[ "$auth_manager" == *SimpleAuthManager ]]; then
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
    tmp.unlink(missing_ok=True)
    # Created 0600 from the first byte (never world-readable, whatever the umask).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(passwords) + "\n")
    tmp.replace(path)
path.chmod(0o600)
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
