"""Where the streamflow database is: the one place its URL is resolved and normalised.

The rule (``docs/adr/0010-database-url.md``):

1. ``STREAMFLOW_DATABASE_URL`` (an SQLAlchemy URL) wins;
2. else the Airflow connection named by ``conn_id`` (default ``streamflow_db``), looked up only
   when Airflow is already loaded or the connection is given as ``AIRFLOW_CONN_<CONN_ID>``
   (importing Airflow costs the CLI seconds);
3. else the embedded SQLite file ``sqlite:///<STREAMFLOW_HOME>/streamflow.db``
   (``STREAMFLOW_HOME`` defaults to ``./.streamflow``).

Whatever the origin, ``postgres://``/``postgresql://``/``postgresql+psycopg2://`` become the
psycopg 3 driver. The factory's loading, the operators (through ``StreamflowDbHook``), the CLI and
Alembic all get their URL from ``resolve_database_url``. Passwords never reach the log.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "streamflow_db"
URL_ENV = "STREAMFLOW_DATABASE_URL"
HOME_ENV = "STREAMFLOW_HOME"
_POSTGRES_PREFIXES = ("postgres://", "postgresql://", "postgresql+psycopg2://")


def streamflow_home() -> Path:
    return Path(os.environ.get(HOME_ENV, "./.streamflow")).expanduser().resolve()


def default_sqlite_url() -> str:
    return f"sqlite:///{streamflow_home() / 'streamflow.db'}"


def normalize_url(url: str) -> str:
    """Our drivers: psycopg 3 for PostgreSQL, whichever way the URL spells it."""
    url = url.strip()
    for prefix in _POSTGRES_PREFIXES:
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redacted(url: str) -> str:
    """``url`` without its password, for logs and messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable database URL>"


def _airflow_may_know(conn_id: str) -> bool:
    # Inside Airflow processes the connection may live in the metadata DB or a secrets backend;
    # elsewhere (the CLI) only the environment form counts, so Airflow is not imported for nothing.
    return f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ or "airflow.sdk" in sys.modules


def _url_from_connection(conn_id: str) -> str | None:
    try:
        from airflow.sdk.bases.hook import BaseHook
    except ImportError:  # the CLI can run without Airflow on the path
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - any lookup failure means "not configured"
        # The type only: a secrets backend's message may quote the connection's URI.
        log.debug("streamflow database: connection %r not available (%s)", conn_id, type(exc).__name__)
        return None
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    if conn.conn_type == "sqlite":
        # JSON form: the path is the host; URI form (sqlite:////abs/path.db): it is the schema.
        path = conn.host or conn.schema
        if not path:
            log.warning("streamflow database: connection %r is SQLite without a file path; ignored", conn_id)
            return None
        return f"sqlite:///{path}"
    return conn.get_uri()


def resolve_database_url(conn_id: str = DEFAULT_CONN_ID) -> str:
    """The streamflow database's SQLAlchemy URL (see the module docstring for the order)."""
    url, origin = os.environ.get(URL_ENV, "").strip(), URL_ENV
    if not url and _airflow_may_know(conn_id):
        url, origin = _url_from_connection(conn_id) or "", f"connection {conn_id!r}"
    if not url:
        url, origin = default_sqlite_url(), "the embedded SQLite default"
    url = normalize_url(url)
    log.debug("streamflow database from %s: %s", origin, redacted(url))
    return url
