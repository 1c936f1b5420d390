#!/usr/bin/env bash
# The two databases of the deployment on one PostgreSQL server, each owned by its own login role
# that is NOT a superuser (no CREATEDB, no CREATEROLE): Airflow's metadata database (role
# AIRFLOW_DB_USER) and the streamflow database (role STREAMFLOW_DB_USER). Idempotent: an existing
# role or database is left as it is (its password too).
#
# The postgres image runs this once, when it initialises an empty data volume
# (/docker-entrypoint-initdb.d), as the superuser POSTGRES_USER. For an existing volume run it by hand:
#   docker compose -f docker-compose.airflow.yml exec postgres \
#     bash /docker-entrypoint-initdb.d/10-streamflow-db.sh
# scripts/cluster.sh runs the same script against a local server (PGHOST/PGPORT).
# With AIRFLOW_DB_PASSWORD unset only the streamflow database is created (an Airflow metadata
# database elsewhere).
set -euo pipefail
: "${STREAMFLOW_DB_PASSWORD:?set STREAMFLOW_DB_PASSWORD (see .env.example)}"
STREAMFLOW_DB_USER=${STREAMFLOW_DB_USER:-streamflow}
STREAMFLOW_DB_NAME=${STREAMFLOW_DB_NAME:-streamflow}
AIRFLOW_DB_USER=${AIRFLOW_DB_USER:-airflow}
AIRFLOW_DB_NAME=${AIRFLOW_DB_NAME:-airflow}

# psql variables quote the names and the password (:"name" and :'literal'); statements from stdin
# run one by one, outside a transaction, as CREATE DATABASE requires.
create() {  # role password database
  psql -v ON_ERROR_STOP=1 --quiet --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
    -v role="$1" -v password="$2" -v db="$3" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'role', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SQL
  echo "database $3 (owner $1, not a superuser) ready"
}
if [ -n "${AIRFLOW_DB_PASSWORD:-}" ]; then
  create "$AIRFLOW_DB_USER" "$AIRFLOW_DB_PASSWORD" "$AIRFLOW_DB_NAME"
fi
create "$STREAMFLOW_DB_USER" "$STREAMFLOW_DB_PASSWORD" "$STREAMFLOW_DB_NAME"
