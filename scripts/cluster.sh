#!/usr/bin/env bash
# Run the production deployment of docker-compose.airflow.yml on this machine, without Docker:
# the same processes (API server, scheduler, DAG processor, triggerer and two Celery workers) with
# the same settings (docker/airflow.env and each service's environment, resolved from the compose
# file by docker/compose_env.py), against PostgreSQL and a password-protected Redis, all on loopback.
#
#   bash scripts/cluster.sh up                 # create the databases, init, start, wait until ready
#   bash scripts/cluster.sh status
#   bash scripts/cluster.sh stop worker1 KILL  # lose a worker (TERM = warm shutdown: tasks finish)
#   bash scripts/cluster.sh start worker1      # start one component again (or worker3, worker4, ...)
#   bash scripts/cluster.sh env airflow-worker # the environment a component gets (secrets included!)
#   bash scripts/cluster.sh down [--purge]     # stop everything; --purge also drops the databases
#
# Components: api-server, scheduler, dag-processor, triggerer, workerN (N = 1, 2, ...).
# State lives in STREAMFLOW_CLUSTER_HOME (default ./.cluster): .env (generated secrets, 0600),
# local.env, logs/<component>.log, pids/. Settings (environment):
#   STREAMFLOW_CLUSTER_NAME      prefix of the databases and roles (default sfcluster):
#                                <name>_airflow and <name>_streamflow
#   PGHOST PGPORT PGUSER         the PostgreSQL server and a role that may create roles and
#                                databases (default 127.0.0.1 5432 postgres)
#   STREAMFLOW_CLUSTER_PORT      the API server's port (default: a free one)
#   STREAMFLOW_CLUSTER_WORKERS   workers `up` starts (default 2)
#   STREAMFLOW_CLUSTER_OVERRIDES a KEY=value file that deliberately overrides compose settings
#   STREAMFLOW_POOLS, STREAMFLOW_TASK_RETRIES, STREAMFLOW_RETRY_DELAY_SECONDS, AIRFLOW_CONN_*
#                                as in .env.example (copied into the cluster's .env on `up`)
# Redis: its own redis-server on a free loopback port with a generated password (requirepass), so
# nothing is shared with other users of the machine's Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

HOME_DIR=${STREAMFLOW_CLUSTER_HOME:-$REPO/.cluster}
NAME=${STREAMFLOW_CLUSTER_NAME:-sfcluster}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
PY=${PYTHON:-$REPO/.venv/bin/python}
[ -x "$PY" ] || PY=python3
export PATH=$(dirname "$PY"):$PATH
DOTENV=$HOME_DIR/.env
LOCAL=$HOME_DIR/local.env
LOGS=$HOME_DIR/logs
PIDS=$HOME_DIR/pids
STOP_TIMEOUT=${STREAMFLOW_CLUSTER_STOP_TIMEOUT:-120}

say() { echo "cluster: $*" >&2; }
die() { say "$*"; exit 1; }

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secret() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(24))'; }
value() { sed -n "s/^$1=//p" "$DOTENV" | head -1; }

# ------------------------------------------------------------------ the two env files
write_env_files() {
  umask 077
  mkdir -p "$HOME_DIR" "$LOGS" "$PIDS" "$HOME_DIR/airflow" "$HOME_DIR/redis"
  if [ ! -f "$DOTENV" ]; then
    local port redis_port fernet
    port=${STREAMFLOW_CLUSTER_PORT:-$(free_port)}
    redis_port=$(free_port)
    fernet=$("$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
    {
      echo "# scripts/cluster.sh: what .env is to docker-compose.airflow.yml (generated once; 0600)"
      echo "POSTGRES_HOST=$PGHOST"
      echo "POSTGRES_PORT=$PGPORT"
      echo "AIRFLOW_DB_NAME=${NAME}_airflow"
      echo "AIRFLOW_DB_USER=${NAME}_airflow"
      echo "AIRFLOW_DB_PASSWORD=$(secret)"
      echo "STREAMFLOW_DB_HOST=$PGHOST"
      echo "STREAMFLOW_DB_PORT=$PGPORT"
      echo "STREAMFLOW_DB_NAME=${NAME}_streamflow"
      echo "STREAMFLOW_DB_USER=${NAME}_streamflow"
      echo "STREAMFLOW_DB_PASSWORD=$(secret)"
      echo "REDIS_HOST=127.0.0.1"
      echo "REDIS_PORT=$redis_port"
      echo "REDIS_PASSWORD=$(secret)"
      echo "AIRFLOW__CORE__FERNET_KEY=$fernet"
      echo "AIRFLOW__API_AUTH__JWT_SECRET=$(secret)"
      echo "AIRFLOW__API__SECRET_KEY=$(secret)"
      echo "STREAMFLOW_ADMIN_USER=${STREAMFLOW_ADMIN_USER:-admin}"
      echo "STREAMFLOW_ADMIN_PASSWORD=$(secret)"
      echo "FLOWER_PASSWORD=$(secret)"
      echo "AIRFLOW_API_PORT=$port"
      echo "AIRFLOW_BASE_URL=http://127.0.0.1:$port"
      echo "AIRFLOW_EXECUTION_API_URL=http://127.0.0.1:$port/execution/"
    } >"$DOTENV"
  fi
  # Settings taken from the caller on every `up` (the tests point the services at stand-ins).
  local key
  for key in STREAMFLOW_POOLS STREAMFLOW_TASK_RETRIES STREAMFLOW_RETRY_DELAY_SECONDS STREAMFLOW_LOAD_EXAMPLES \
             AIRFLOW_CONN_USGS_WATERDATA AIRFLOW_CONN_ECCC_DATAMART AIRFLOW_CONN_ECCC_WATEROFFICE AIRFLOW_CONN_NOAA_NWPS; do
    sed -i "/^$key=/d" "$DOTENV"
    if [ -n "${!key:-}" ]; then printf "%s='%s'\n" "$key" "${!key}" >>"$DOTENV"; fi
  done
  local port
  port=$(value AIRFLOW_API_PORT)
  # Only what differs because there is no container (compose_env.py refuses a key the compose file sets).
  cat >"$LOCAL" <<EOF
AIRFLOW_HOME=$HOME_DIR/airflow
AIRFLOW__CORE__DAGS_FOLDER=$REPO/dags
AIRFLOW__CORE__PLUGINS_FOLDER=$REPO/plugins
AIRFLOW__API__HOST=127.0.0.1
AIRFLOW__API__PORT=$port
AIRFLOW__API__WORKERS=1
STREAMFLOW_HOME=$HOME_DIR/streamflow
STREAMFLOW_SNAPSHOT_PATH=$HOME_DIR/airflow/streamflow_configurations_snapshot.json
EOF
}

compose_env() {  # action service [args...]
  local action=$1 service=$2
  shift 2
  local override=()
  [ -n "${STREAMFLOW_CLUSTER_OVERRIDES:-}" ] && override=(--override "$STREAMFLOW_CLUSTER_OVERRIDES")
  "$PY" docker/compose_env.py "$action" "$service" --dotenv "$DOTENV" --local "$LOCAL" "${override[@]}" "$@"
}

# ------------------------------------------------------------------ components
service_of() {
  case "$1" in
    api-server) echo airflow-apiserver ;;
    scheduler) echo airflow-scheduler ;;
    dag-processor) echo airflow-dag-processor ;;
    triggerer) echo airflow-triggerer ;;
    worker[0-9]*) echo airflow-worker ;;
    *) die "unknown component $1 (api-server, scheduler, dag-processor, triggerer, workerN)" ;;
  esac
}

alive() { [ -f "$PIDS/$1" ] && kill -0 -- "-$(cat "$PIDS/$1")" 2>/dev/null; }

start() {
  local name=$1 service
  service=$(service_of "$name")
  alive "$name" && die "$name is already running (pid $(cat "$PIDS/$name"))"
  local args=()
  case "$name" in
    api-server) args=(airflow api-server) ;;
    # Log serving (ports 8793/8794, all interfaces) is not needed: one machine, one log folder.
    scheduler) args=(airflow scheduler --skip-serve-logs) ;;
    dag-processor) args=(airflow dag-processor) ;;
    triggerer) args=(airflow triggerer --skip-serve-logs) ;;
    worker*) args=(airflow celery worker --celery-hostname "$name@%h" --skip-serve-logs) ;;
  esac
  local extra=()
  # Each worker reports its own name as the task instances' hostname (containers have their own).
  [[ "$name" == worker* ]] && extra=(--set "STREAMFLOW_WORKER_HOSTNAME=$name"
                                     --set "AIRFLOW__CORE__HOSTNAME_CALLABLE=streamflow.testing.cluster.worker_hostname")
  local override=()
  [ -n "${STREAMFLOW_CLUSTER_OVERRIDES:-}" ] && override=(--override "$STREAMFLOW_CLUSTER_OVERRIDES")
  # Not through the compose_env function: a backgrounded function is a subshell, and $! must be
  # the component itself (compose_env.py makes it a process-group leader, then execs it).
  "$PY" docker/compose_env.py exec "$service" --dotenv "$DOTENV" --local "$LOCAL" "${override[@]}" "${extra[@]}" \
    -- "${args[@]}" >>"$LOGS/$name.log" 2>&1 &
  echo "$!" >"$PIDS/$name"
  say "started $name (pid $!, $service; log $LOGS/$name.log)"
}

# TERM goes to the component itself (as `docker stop` signals the container's main process: a
# Celery worker's warm shutdown lets running tasks finish); KILL goes to the whole process group
# (a lost container). Whatever is left after STREAMFLOW_CLUSTER_STOP_TIMEOUT seconds is killed.
stop() {
  local name=$1 signal=${2:-TERM} pid deadline
  [ -f "$PIDS/$name" ] || { say "$name is not running"; return 0; }
  pid=$(cat "$PIDS/$name")
  if [ "$signal" = KILL ]; then
    kill -KILL -- "-$pid" 2>/dev/null || true
  else
    kill "-$signal" "$pid" 2>/dev/null || true
  fi
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.3; done
  # The leader is gone (or timed out): its leftover children go too.
  kill -KILL -- "-$pid" 2>/dev/null || true
  local tries=0
  while kill -0 -- "-$pid" 2>/dev/null && [ "$tries" -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
  rm -f "$PIDS/$name"
  say "stopped $name ($signal)"
}

redis_up() {
  alive redis && return 0
  local conf=$HOME_DIR/redis/redis.conf
  # The password reaches the server through a 0600 file, never argv.
  printf 'bind 127.0.0.1\nport %s\nrequirepass %s\nsave ""\nappendonly no\ndir %s\n' \
    "$(value REDIS_PORT)" "$(value REDIS_PASSWORD)" "$HOME_DIR/redis" >"$conf"
  "$PY" -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' redis-server "$conf" \
    >>"$LOGS/redis.log" 2>&1 &
  echo "$!" >"$PIDS/redis"
  local i
  for i in $(seq 50); do
    REDISCLI_AUTH=$(value REDIS_PASSWORD) redis-cli -p "$(value REDIS_PORT)" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  die "redis-server did not start; see $LOGS/redis.log"
}

databases_up() {
  # The compose deployment's own script: two databases, two non-superuser roles.
  POSTGRES_USER=$PGUSER POSTGRES_DB=${PGDATABASE:-postgres} \
  AIRFLOW_DB_USER=$(value AIRFLOW_DB_USER) AIRFLOW_DB_NAME=$(value AIRFLOW_DB_NAME) \
  AIRFLOW_DB_PASSWORD=$(value AIRFLOW_DB_PASSWORD) STREAMFLOW_DB_USER=$(value STREAMFLOW_DB_USER) \
  STREAMFLOW_DB_NAME=$(value STREAMFLOW_DB_NAME) STREAMFLOW_DB_PASSWORD=$(value STREAMFLOW_DB_PASSWORD) \
    bash docker/postgres-init/10-streamflow-db.sh | sed 's/^/cluster: /' >&2
}

wait_ready() {
  local workers=$1
  "$PY" - "$(value AIRFLOW_BASE_URL)" "$LOGS" "$PIDS" "$workers" <<'PY'
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

base, logs, pids, workers = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
deadline = time.monotonic() + float(os.environ.get("STREAMFLOW_CLUSTER_START_TIMEOUT", "300"))
state = "the API server"
while time.monotonic() < deadline:
    for pid_file in pids.iterdir():
        try:
            os.kill(int(pid_file.read_text()), 0)
        except ProcessLookupError:
            sys.exit(f"cluster: {pid_file.name} exited while starting; see {logs / (pid_file.name + '.log')}")
    try:
        with urllib.request.urlopen(base + "/api/v2/monitor/health", timeout=5) as response:
            health = json.load(response)
        waiting = [k for k in ("metadatabase", "scheduler", "dag_processor", "triggerer")
                   if (health.get(k) or {}).get("status") != "healthy"]
        ready = [n for n in range(1, workers + 1)
                 if " ready." in (logs / f"worker{n}.log").read_text(errors="replace")]
        waiting += [f"worker{n}" for n in range(1, workers + 1) if n not in ready]
        if not waiting:
            sys.exit(0)
        state = ", ".join(waiting)
    except OSError as exc:
        state = f"the API server ({type(exc).__name__})"
    time.sleep(1)
sys.exit(f"cluster: not ready in time (waiting for {state}); see {logs}")
PY
}

up() {
  command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
  write_env_files
  redis_up
  databases_up
  say "init: docker/init.sh with the airflow-init service's environment"
  compose_env exec airflow-init -- bash docker/init.sh >>"$LOGS/init.log" 2>&1 \
    || { tail -20 "$LOGS/init.log" >&2; die "docker/init.sh failed; see $LOGS/init.log"; }
  local n workers=${STREAMFLOW_CLUSTER_WORKERS:-2}
  for name in api-server scheduler dag-processor triggerer; do alive "$name" || start "$name"; done
  for n in $(seq "$workers"); do alive "worker$n" || start "worker$n"; done
  wait_ready "$workers"
  cat >&2 <<EOF

  Streamflow cluster is running (CeleryExecutor, $workers worker(s), FAB auth manager)
    Airflow UI / API  $(value AIRFLOW_BASE_URL)
    login             $(value STREAMFLOW_ADMIN_USER) / (STREAMFLOW_ADMIN_PASSWORD in $DOTENV)
    logs              $LOGS
    stop              bash scripts/cluster.sh down

EOF
}

down() {
  local name
  for name in $(ls "$PIDS" 2>/dev/null | grep -v '^redis$'); do stop "$name" TERM; done
  [ -f "$PIDS/redis" ] && stop redis TERM
  if [ "${1:-}" = "--purge" ] && [ -f "$DOTENV" ]; then
    local db
    for db in "$(value AIRFLOW_DB_NAME)" "$(value STREAMFLOW_DB_NAME)"; do
      psql -v ON_ERROR_STOP=1 --quiet -d "${PGDATABASE:-postgres}" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" \
        -c "DROP ROLE IF EXISTS \"$db\"" >/dev/null
    done
    rm -rf "$HOME_DIR"
    say "databases, roles and $HOME_DIR removed"
  fi
}

status() {
  local f
  for f in "$PIDS"/*; do
    [ -e "$f" ] || { say "nothing running"; return 0; }
    if alive "$(basename "$f")"; then echo "$(basename "$f") running (pid $(cat "$f"))"
    else echo "$(basename "$f") exited"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down "${2:-}" ;;
  start) [ -n "${2:-}" ] || die "start COMPONENT"; [ -f "$DOTENV" ] || die "run up first"; start "$2" ;;
  stop) [ -n "${2:-}" ] || die "stop COMPONENT [TERM|KILL]"; stop "$2" "${3:-TERM}" ;;
  status) status ;;
  env)
    [ -n "${2:-}" ] || die "env SERVICE (a service of docker-compose.airflow.yml)"
    write_env_files
    compose_env env "$2" ;;
  *) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
