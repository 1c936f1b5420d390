"""Airflow DAG file: one DAG per row of pull_configurations (logic in streamflow.factory)."""

from streamflow.loading import generate_dags

globals().update(generate_dags())
