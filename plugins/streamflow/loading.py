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
    def default(value: Any) -> str:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"cannot snapshot {type(value).__name__}")

    return json.dumps({"version": 1, "configurations": rows}, default=default, sort_keys=True)


def write_snapshot(rows: list[dict[str, Any]], path: Path | None = None) -> None:
    """Atomically replace the snapshot (write a temp file beside it, then rename)."""
    path = path or snapshot_path()
    payload = _encode(rows)
    try:
        if path.exists() and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(payload.encode()).digest():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".snapshot-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write the configuration snapshot %s: %s", path, exc)


def read_snapshot(path: Path | None = None) -> list[dict[str, Any]] | None:
    path = path or snapshot_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error("the configuration snapshot %s is unreadable: %s", path, exc)
        return None
    rows = data.get("configurations", [])
    for row in rows:
        if isinstance(row.get("pull_start_date"), str):
            row["pull_start_date"] = datetime.fromisoformat(row["pull_start_date"])
    return rows


def load_rows(*, config_id: int | None = None) -> tuple[list[dict[str, Any]], str]:
    """Configuration rows from the database, else from the last-known-good snapshot.

    Returns ``(rows, origin)`` with origin ``database``, ``snapshot`` or ``none``.
    """
    from streamflow.db import repository as repo
    from streamflow.db.engine import get_engine, session_scope

    try:
        with session_scope(get_engine()) as session:
            rows = repo.load_configuration_rows(session, config_id)
    except Exception as exc:  # noqa: BLE001 - any database failure falls back to the snapshot
        snapshot = read_snapshot()
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if snapshot is None:
            log.error("streamflow: cannot read pull_configurations (%s) and no snapshot exists: no DAGs", reason)
            return [], "none"
        if config_id is not None:
            snapshot = [r for r in snapshot if r.get("id") == config_id]
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
    except Exception:  # noqa: BLE001 - the DAG file must not raise (DESIGN §10)
        log.exception("streamflow: building DAGs failed")
        return {}
