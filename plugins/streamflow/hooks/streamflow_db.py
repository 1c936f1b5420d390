"""The streamflow database as an Airflow hook (connection ``streamflow_db`` by default).

``STREAMFLOW_DATABASE_URL`` wins, else the connection named by this hook's ``conn_id``, else the
embedded SQLite default: ``streamflow.db.url.resolve_database_url`` owns that rule
(``docs/adr/0010-database-url.md``). Tasks get their engine here.
"""

from __future__ import annotations

from airflow.sdk import BaseHook
from sqlalchemy import Engine, text

from streamflow.db.engine import get_engine
from streamflow.db.url import DEFAULT_CONN_ID, resolve_database_url


class StreamflowDbHook(BaseHook):
    conn_name_attr = "conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "postgres"
    hook_name = "Streamflow database"

    def __init__(self, conn_id: str = DEFAULT_CONN_ID) -> None:
        super().__init__()
        self.conn_id = conn_id

    def get_uri(self) -> str:
        """The SQLAlchemy URL this hook connects to (it carries the password: do not log it)."""
        return resolve_database_url(self.conn_id)

    def get_engine(self) -> Engine:
        return get_engine(self.get_uri())

    def test_connection(self) -> tuple[bool, str]:
        try:
            with self.get_engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - reported to the UI, not raised
            return False, f"streamflow database unreachable: {type(exc).__name__}"
        return True, "streamflow database reachable"
