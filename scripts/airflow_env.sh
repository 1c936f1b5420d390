# shellcheck shell=bash
# Environment of the local (embedded SQLite) deployment; sourced by scripts/run.sh.
#
# Everything lives under the checkout: Airflow's home (config, metadata DB, logs, generated admin
# password) in ./.airflow and the streamflow database in ./.streamflow (both gitignored). A value
# already set in the caller's environment wins (except AIRFLOW_HOME: see below), so
# `STREAMFLOW_API_PORT=8081 bash scripts/run.sh` or
# `STREAMFLOW_DATABASE_URL=postgresql://... bash scripts/run.sh` work without editing anything.
#
# Source it yourself to use the CLIs against the running system:
#   source scripts/airflow_env.sh && airflow dags list && streamflow config list

STREAMFLOW_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export STREAMFLOW_REPO

# Project-local even when the shell has a global AIRFLOW_HOME (~/airflow) or AIRFLOW_CONFIG set;
# STREAMFLOW_AIRFLOW_HOME chooses another directory.
export AIRFLOW_HOME=${STREAMFLOW_AIRFLOW_HOME:-$STREAMFLOW_REPO/.airflow}
export AIRFLOW_CONFIG=$AIRFLOW_HOME/airflow.cfg
export STREAMFLOW_HOME=${STREAMFLOW_HOME:-$STREAMFLOW_REPO/.streamflow}
export STREAMFLOW_API_HOST=${STREAMFLOW_API_HOST:-127.0.0.1}
export STREAMFLOW_API_PORT=${STREAMFLOW_API_PORT:-8080}
export STREAMFLOW_ADMIN_USER=${STREAMFLOW_ADMIN_USER:-admin}

# This repo's DAGs and plugins; no example DAGs.
export AIRFLOW__CORE__DAGS_FOLDER=$STREAMFLOW_REPO/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$STREAMFLOW_REPO/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# plugins/.airflowignore is read as regexps: glob syntax makes Airflow 3.3 build pathspec
# GitWildMatchPatterns, whose deprecation warning would open every task log.
export AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX=regexp
# New DAGs start paused: the examples pull from the real services once unpaused.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}

# Airflow's metadata DB: SQLite under AIRFLOW_HOME (absolute path: Airflow refuses relative ones).
# Airflow 3 task processes reach the metadata DB only through the API server's execution API, so
# the LocalExecutor works on SQLite; the streamflow DB sets WAL + busy_timeout itself (docs/architecture.md#trap-sqlite-wal).
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}
export AIRFLOW__CORE__EXECUTOR=${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}
# The LocalExecutor forks this many task processes up front (Airflow's default, 32, is a lot for a
# laptop); the pools still cap each service.
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-8}

# The API server on loopback only (`airflow standalone` would listen on 0.0.0.0, docs/architecture.md#trap-standalone-bind);
# base_url also tells the executor where the execution API is.
export AIRFLOW__API__HOST=$STREAMFLOW_API_HOST
export AIRFLOW__API__PORT=$STREAMFLOW_API_PORT
export AIRFLOW__API__BASE_URL=http://$STREAMFLOW_API_HOST:$STREAMFLOW_API_PORT
export AIRFLOW__API__WORKERS=${AIRFLOW__API__WORKERS:-1}

# SimpleAuthManager (Airflow 3's default): one admin user; its password is kept in this file
# (docker/init.sh generates it on the first run, or sets it from STREAMFLOW_ADMIN_PASSWORD).
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=$STREAMFLOW_ADMIN_USER:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/simple_auth_manager_passwords.json}

# The factory's last-known-good snapshot (docs/adr/0006-dag-file-never-raises.md) next to Airflow's other state.
export STREAMFLOW_SNAPSHOT_PATH=${STREAMFLOW_SNAPSHOT_PATH:-$AIRFLOW_HOME/streamflow_configurations_snapshot.json}

# The venv's commands first (airflow, streamflow).
case ":$PATH:" in
  *":$STREAMFLOW_REPO/.venv/bin:"*) ;;
  *) export PATH=$STREAMFLOW_REPO/.venv/bin:$PATH ;;
esac
