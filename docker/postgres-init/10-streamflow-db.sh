#!/usr/bin/env bash
# Second database on the compose PostgreSQL server: the streamflow database, owned by its own
# role (Airflow's metadata database is POSTGRES_DB, created by the image itself).
#
# The postgres image runs this once, when it initialises an empty data volume
# (/docker-entrypoint-initdb.d). For an existing volume run the same statements by hand, e.g.
#   docker compose -f docker-compose.airflow.yml exec postgres \
#     bash /docker-entrypoint-initdb.d/10-streamflow-db.sh
set -euo pipefail
: "${STREAMFLOW_DB_PASSWORD:?set STREAMFLOW_DB_PASSWORD (see .env.example)}"
STREAMFLOW_DB_USER=${STREAMFLOW_DB_USER:-streamflow}
STREAMFLOW_DB_NAME=${STREAMFLOW_DB_NAME:-streamflow}

# psql variables quote the names and the password (:"name" and :'literal'); statements from stdin
# run one by one, outside a transaction, as CREATE DATABASE requires.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  -v sf_user="$STREAMFLOW_DB_USER" -v sf_password="$STREAMFLOW_DB_PASSWORD" -v sf_db="$STREAMFLOW_DB_NAME" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'sf_user', :'sf_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'sf_user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'sf_db', :'sf_user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'sf_db') \gexec
SQL
echo "streamflow database ${STREAMFLOW_DB_NAME} (owner ${STREAMFLOW_DB_USER}) ready"
