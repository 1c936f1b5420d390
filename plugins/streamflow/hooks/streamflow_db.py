"""The streamflow database as an Airflow hook (connection ``streamflow_db``).

Resolution order is DESIGN §3: ``STREAMFLOW_DATABASE_URL`` wins, else the connection, else the
embedded SQLite default. Tasks get their engine here so connection handling lives in one place.
"""

from __future__ import annotations

from airflow.sdk import BaseHook
from sqlalchemy import Engine, text

from streamflow.db.engine import get_engine
from streamflow.settings import STREAMFLOW_DB_CONN_ID, database_url


class StreamflowDbHook(BaseHook):
    conn_name_attr = "conn_id"
    default_conn_name = STREAMFLOW_DB_CONN_ID
    conn_type = "postgres"
    hook_name = "Streamflow database"

    def __init__(self, conn_id: str = STREAMFLOW_DB_CONN_ID) -> None:
        super().__init__()
        self.conn_id = conn_id

    def get_engine(self) -> Engine:
        return get_engine(database_url())

    def test_connection(self) -> tuple[bool, str]:
        try:
            with self.get_engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - reported to the UI, not raised
            return False, f"streamflow database unreachable: {type(exc).__name__}"
        return True, "streamflow database reachable"
