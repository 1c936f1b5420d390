"""Airflow DAG file: one DAG per row of pull_configurations (logic in streamflow.factory)."""

from streamflow.factory import generate_dags

globals().update(generate_dags())
