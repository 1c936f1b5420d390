"""Pure payload → canonical shape functions, one module per source (no HTTP, no Airflow)."""
