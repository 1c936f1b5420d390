"""Where the streamflow database is (DESIGN §3) and other process-wide settings."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

STREAMFLOW_DB_CONN_ID = "streamflow_db"


def streamflow_home() -> Path:
    return Path(os.environ.get("STREAMFLOW_HOME", "./.streamflow")).expanduser().resolve()


def default_sqlite_url() -> str:
    return f"sqlite:///{streamflow_home() / 'streamflow.db'}"


def normalize_url(url: str) -> str:
    """Pick our drivers: psycopg 3 for PostgreSQL; accept ``postgres://`` spellings."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _url_from_airflow_connection() -> str | None:
    try:
        from airflow.sdk.bases.hook import BaseHook
    except ImportError:  # the CLI can run without Airflow on the path
        return None
    try:
        conn = BaseHook.get_connection(STREAMFLOW_DB_CONN_ID)
    except Exception:  # noqa: BLE001 - any lookup failure means "not configured"
        return None
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    if conn.conn_type in ("sqlite",):
        return f"sqlite:///{conn.host}"
    return conn.get_uri()


def database_url() -> str:
    """``STREAMFLOW_DATABASE_URL`` wins; else connection ``streamflow_db``; else embedded SQLite."""
    url = os.environ.get("STREAMFLOW_DATABASE_URL")
    if not url and (f"AIRFLOW_CONN_{STREAMFLOW_DB_CONN_ID.upper()}" in os.environ or "airflow.sdk" in sys.modules):
        # Inside Airflow processes the connection may live in the metadata DB or a secrets
        # backend; elsewhere (the CLI) importing Airflow costs seconds, so only the env form counts.
        url = _url_from_airflow_connection()
    return normalize_url(url or default_sqlite_url())
