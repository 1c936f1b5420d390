"""Pull configurations for the DAG file: read from the database, else from the last-known-good
snapshot written after the previous successful read; ``generate_dags`` is the DAG file's entry
point and never raises (a DAG file that raises marks every DAG it produced stale: see
``docs/architecture.md``). Building DAGs from rows is ``streamflow.factory``'s job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamflow.configurations import DAG_ID_PREFIX
from streamflow.factory import build_dags

if TYPE_CHECKING:
    from airflow.sdk import DAG

log = logging.getLogger(__name__)


def snapshot_path() -> Path:
    explicit = os.environ.get("STREAMFLOW_SNAPSHOT_PATH")
    if explicit:
        return Path(explicit)
    airflow_home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return airflow_home / "streamflow_configurations_snapshot.json"


def _encode(rows: list[dict[str, Any]]) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        # A value JSON cannot hold (a BLOB left in a text column) is kept as a marker that
        # validation refuses again after a fallback, as it refused the original.
        return {"unsupported_value": type(value).__name__}

    return json.dumps({"version": 1, "configurations": rows}, default=default, sort_keys=True)


def write_snapshot(rows: list[dict[str, Any]], path: Path | None = None) -> None:
    """Atomically replace the snapshot (write a temp file beside it, then rename).

    Never raises: the snapshot is a fallback, and failing to write it must not stop the DAGs.
    """
    path = path or snapshot_path()
    try:
        payload = _encode(rows)
        if path.exists() and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(payload.encode()).digest():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".snapshot-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("could not write the configuration snapshot %s: %s: %s", path, type(exc).__name__, exc)


def read_snapshot(path: Path | None = None) -> list[dict[str, Any]] | None:
    path = path or snapshot_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error("the configuration snapshot %s is unreadable: %s", path, exc)
        return None
    rows = data.get("configurations") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        log.error("the configuration snapshot %s is unreadable: no list of configurations", path)
        return None
    return rows  # ISO strings in pull_start_date are read by validation, like any other value


@contextmanager
def _dates_python_cannot_hold_as_text(session) -> Iterator[None]:
    """PostgreSQL keeps timestamps Python cannot (after year 9999, BC) and psycopg refuses to read
    them, which would fail the whole read. While the configurations are read, such a value arrives
    as its text instead, and validation refuses that row alone."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    import psycopg
    from psycopg.pq import Format
    from psycopg.types.datetime import TimestamptzLoader

    class TextWhenOutOfRange(TimestamptzLoader):
        def load(self, data):
            try:
                return super().load(data)
            except psycopg.DataError:
                return bytes(data).decode("utf-8", "replace")

    adapters = connection.connection.driver_connection.adapters
    oid = adapters.types["timestamptz"].oid
    previous = adapters.get_loader(oid, Format.TEXT)
    adapters.register_loader(oid, TextWhenOutOfRange)
    try:
        yield
    finally:
        adapters.register_loader(oid, previous)


def load_rows(*, config_id: int | None = None) -> tuple[list[dict[str, Any]], str]:
    """Configuration rows from the database, else from the last-known-good snapshot.

    Returns ``(rows, origin)`` with origin ``database``, ``snapshot`` or ``none``.
    """
    from streamflow.db import repository as repo
    from streamflow.db.engine import session_scope
    from streamflow.hooks.streamflow_db import StreamflowDbHook

    try:
        with session_scope(StreamflowDbHook().get_engine()) as session, _dates_python_cannot_hold_as_text(session):
            rows = repo.load_configuration_rows(session, config_id)
    except Exception as exc:  # noqa: BLE001 - any database failure falls back to the snapshot
        snapshot = read_snapshot()
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if snapshot is None:
            log.error("streamflow: cannot read pull_configurations (%s) and no snapshot exists: no DAGs", reason)
            return [], "none"
        if config_id is not None:
            snapshot = [r for r in snapshot if isinstance(r, dict) and r.get("id") == config_id]
        log.warning(
            "streamflow: cannot read pull_configurations (%s); building %d DAG(s) from the snapshot %s",
            reason, len(snapshot), snapshot_path(),
        )
        return snapshot, "snapshot"
    if config_id is None:
        write_snapshot(rows)
    return rows, "database"


def _wanted_dag_id() -> str | None:
    """On a worker, the DAG being run (only that one needs building)."""
    try:
        from airflow.sdk import get_parsing_context

        dag_id = get_parsing_context().dag_id
    except Exception:  # noqa: BLE001
        return None
    from streamflow.verification.dag import VERIFICATION_DAG_ID

    if dag_id and (dag_id.startswith(DAG_ID_PREFIX) or dag_id == VERIFICATION_DAG_ID):
        return dag_id
    return None


def generate_dags() -> dict[str, DAG]:
    """Entry point for the DAG file. Never raises."""
    try:
        wanted = _wanted_dag_id()
        config_id = None
        if wanted is not None:
            suffix = wanted[len(DAG_ID_PREFIX):]
            config_id = int(suffix) if suffix.isdigit() else None
        rows, origin = load_rows(config_id=config_id)
        dags = build_dags(rows, only_dag_id=wanted)
        log.info("streamflow: %d DAG(s) from %d configuration(s) (%s)", len(dags), len(rows), origin)
        return dags
    except Exception:  # noqa: BLE001 - the DAG file must not raise (docs/adr/0006-dag-file-never-raises.md)
        log.exception("streamflow: building DAGs failed")
        return {}
