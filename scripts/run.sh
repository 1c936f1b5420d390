#!/usr/bin/env bash
# Run the whole system locally with one command (fresh machine with Python 3.11):
#
#   bash scripts/run.sh
#
# 1. builds .venv from the pinned requirements (scripts/bootstrap.sh; skipped when up to date),
# 2. initialises or upgrades everything with docker/init.sh (the same script the compose
#    deployment runs): Airflow's metadata DB and the streamflow DB (embedded SQLite under
#    ./.airflow and ./.streamflow), reference data, pools, the admin password, and the example
#    configurations when there are no configurations at all,
# 3. starts the Airflow API server, scheduler, DAG processor and triggerer (LocalExecutor) bound to
#    127.0.0.1:8080 with this repo's dags/ and plugins/ (not `airflow standalone`: it listens on
#    0.0.0.0), waits until they are up and prints the URL and the admin login.
#
# Re-running is safe: every step is idempotent. Ctrl-C (or SIGTERM) stops every process it started.
# Settings (port, homes, database) are in scripts/airflow_env.sh; component logs go to
# .airflow/logs/components/<name>.log.
set -euo pipefail
# Databases, logs and the admin password file under .airflow/.streamflow: owner only (0600/0700).
umask 077
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
# shellcheck source=scripts/airflow_env.sh
source scripts/airflow_env.sh

say() { echo "run: $*" >&2; }
started=$(date +%s)
component_logs=$AIRFLOW_HOME/logs/components
pid_file=$AIRFLOW_HOME/components.pids
mkdir -p "$AIRFLOW_HOME" "$STREAMFLOW_HOME" "$component_logs"

port_busy() {
  python - "$STREAMFLOW_API_HOST" "$STREAMFLOW_API_PORT" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}
if port_busy; then
  say "something already listens on $STREAMFLOW_API_HOST:$STREAMFLOW_API_PORT (an earlier run?)"
  [ -f "$pid_file" ] && say "process groups of the last run: $(tr '\n' ' ' <"$pid_file")(stop them: kill -- -PID)"
  say "stop it, or choose another port: STREAMFLOW_API_PORT=8081 bash scripts/run.sh"
  exit 1
fi

STREAMFLOW_LOAD_EXAMPLES=true bash docker/init.sh

pids=()
names=()
stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  [ ${#pids[@]} -eq 0 ] && return
  say "stopping ${names[*]}"
  local pid deadline
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  deadline=$(( $(date +%s) + 20 ))
  for pid in "${pids[@]}"; do
    while kill -0 -- "-$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.3; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -f "$pid_file"
  say "stopped"
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

# Each component leads its own session and process group (os.setsid, then exec: $! is the
# component itself), so stopping the group also stops the task, parsing and uvicorn processes it
# forks. Python rather than setsid(1), which macOS lacks.
start() {
  local name=$1
  shift
  python -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' "$@" \
    >"$component_logs/$name.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
  echo "$!" >>"$pid_file"
}
: >"$pid_file"
# Log serving (ports 8793/8794, all interfaces) is not needed: the API server reads the task
# logs from this machine's log folder.
start api-server airflow api-server
start scheduler airflow scheduler --skip-serve-logs
start dag-processor airflow dag-processor
start triggerer airflow triggerer --skip-serve-logs
say "started ${names[*]} (pids ${pids[*]}); logs in $component_logs"

# Ready when the API answers, the scheduler and DAG processor report healthy and our DAGs are
# listed; a component that exits meanwhile ends the wait.
python - "${pids[@]}" <<'PY'
import json
import os
import sys
import time
import urllib.error
import urllib.request

base = os.environ["AIRFLOW__API__BASE_URL"]
user = os.environ["STREAMFLOW_ADMIN_USER"]
password = json.load(open(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]))[user]
timeout = float(os.environ.get("STREAMFLOW_START_TIMEOUT", "300"))
deadline = time.monotonic() + timeout


def call(path, *, token=None, body=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_until_ready() -> None:
    state = "waiting for the API server"
    print(f"run: {state} …", file=sys.stderr)
    while True:
        for pid in sys.argv[1:]:
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                sys.exit(f"run: a component (pid {pid}) exited while starting; see its log")
        if time.monotonic() > deadline:
            sys.exit(f"run: not ready after {timeout:.0f} s ({state}); see the component logs")
        try:
            health = call("/api/v2/monitor/health")
            unhealthy = [k for k in ("metadatabase", "scheduler", "dag_processor")
                         if (health.get(k) or {}).get("status") != "healthy"]
            if unhealthy:
                state = "waiting for " + ", ".join(unhealthy)
            else:
                token = call("/auth/token", body={"username": user, "password": password})["access_token"]
                dags = call("/api/v2/dags?limit=1000&tags=streamflow", token=token)
                if dags["total_entries"] > 0:
                    print(f"run: {dags['total_entries']} streamflow DAG(s) loaded", file=sys.stderr)
                    return
                state = "waiting for the DAG processor to parse dags/"
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            state = f"waiting for the API server ({type(exc).__name__})"
        time.sleep(1)


try:
    wait_until_ready()
except KeyboardInterrupt:
    sys.exit(130)
PY

database=$(python -c 'from streamflow.db.url import redacted, resolve_database_url
print(redacted(resolve_database_url()))')
password=$(python -c 'import json, os; print(json.load(open(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]))[os.environ["STREAMFLOW_ADMIN_USER"]])')
cat <<EOF

  Streamflow DataOps is running ($(( $(date +%s) - started )) s to start)

    Airflow UI / API   $AIRFLOW__API__BASE_URL
    login              $STREAMFLOW_ADMIN_USER / $password
                       (kept in $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE)
    streamflow DB      $database
    component logs     $component_logs
    CLIs               source scripts/airflow_env.sh; streamflow config list; airflow dags list

  New DAGs start paused: unpause one in the UI to let it run on its schedule.
  Ctrl-C stops everything.

EOF

# Run until Ctrl-C, or until a component dies (then stop the others and fail).
set +e
wait -n "${pids[@]}"
status=$?
set -e
if [ "$stopping" = 0 ]; then
  say "a component exited (status $status); see $component_logs"
  exit 1
fi
