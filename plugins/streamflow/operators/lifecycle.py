"""``plan`` and ``finalize``: the two ends of every configuration's DAG run (docs/adr/0004-dag-shape-and-outcomes.md)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import AirflowFailException
from croniter import croniter

from sqlalchemy import select

from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import DataPullLog
from streamflow.errors import ConfigurationError
from streamflow.hooks.streamflow_db import StreamflowDbHook
from streamflow.operators.base import BATCH_KEY, OUTCOME_KEY
from streamflow.outcomes import summarize
from streamflow.trigger_params import parse_params, select_stations
from streamflow.vocabulary import PullStatus

STATIONS_KEY = "stations"
LOG_ID_KEY = "log_id"

log = logging.getLogger(__name__)


def record_failed_run(context, config_id: int | None, reason: str, *, stations_total: int = 0) -> None:
    """Leave the run's ``data_pull_logs`` row closed as ``failed`` with ``reason``.

    Opens the row if the run has none yet; a row already closed (by ``plan``) keeps its reason.
    Best effort: a database that cannot be reached is logged, never raised over the run's own error.
    """
    if config_id is None:
        return
    dag_id, run_id = context["dag"].dag_id, context["run_id"]
    now = datetime.now(timezone.utc)
    try:
        engine = StreamflowDbHook().get_engine()
        with session_scope(engine) as session:
            existing = session.execute(
                select(DataPullLog).where(DataPullLog.dag_id == dag_id, DataPullLog.dag_run_id == run_id)
            ).scalar()
            if existing is not None and existing.status != PullStatus.RUNNING.value:
                return
            log_id = existing.id if existing is not None else repo.open_pull_log(
                session, config_id=config_id, dag_id=dag_id, dag_run_id=run_id,
                stations_total=stations_total, start_time=now,
            )
            repo.close_pull_log(
                session, log_id, status=PullStatus.FAILED.value, records_processed=0,
                stations_failed=stations_total, details={}, error_message=reason, end_time=now,
            )
    except Exception:  # noqa: BLE001 - the run already fails with `reason`; this is its record
        log.exception("configuration %s: run %s: could not record the failed run in data_pull_logs", config_id, run_id)


class PlanOperator(BaseOperator):
    """Validate the trigger params, choose the run's stations, open the ``data_pull_logs`` row.

    Returns the station dicts the pull tasks are mapped over (``station_number``, ``agency``,
    ``region`` from ``master_stations`` and the parsed ``params``), and pushes ``stations``
    (their numbers) and ``log_id`` for ``finalize``.
    """

    ui_color = "#e8f5e9"

    def __init__(
        self,
        *,
        config_id: int,
        stations: Sequence[dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config_id = config_id
        self.stations = [dict(s) for s in stations]

    def execute(self, context) -> list[dict[str, Any]]:
        configured = [s["station_number"] for s in self.stations]
        try:
            params = parse_params(context["params"], configured=configured)
            chosen = select_stations(configured, params.stations)
        except ConfigurationError as exc:
            reason = f"configuration {self.config_id}: plan refused the run: {exc}"
            record_failed_run(context, self.config_id, reason)
            raise AirflowFailException(reason) from exc
        by_number = {s["station_number"]: s for s in self.stations}
        engine = StreamflowDbHook().get_engine()
        with session_scope(engine) as session:
            masters = repo.get_master_stations(session, chosen)
            log_id = repo.open_pull_log(
                session,
                config_id=self.config_id,
                dag_id=context["dag"].dag_id,
                dag_run_id=context["run_id"],
                stations_total=len(chosen),
                start_time=datetime.now(timezone.utc),
            )
        handed_on = params.to_dict()
        selected = []
        for number in chosen:
            master = masters.get(number)
            region = master.state_code if master is not None and master.state_code else None
            selected.append({**by_number[number], "region": region, "params": handed_on})
        selected = batched(selected, max_mapped_tasks())
        ti = context["ti"]
        ti.xcom_push(key=STATIONS_KEY, value=chosen)
        ti.xcom_push(key=LOG_ID_KEY, value=log_id)
        listed = ", ".join(chosen[:50]) + (f" … ({len(chosen)} in all)" if len(chosen) > 50 else "")
        self.log.info(
            "configuration %s: run %s pulls %d station(s): %s; params %s%s",
            self.config_id, context["run_id"], len(chosen), listed, params.to_dict(),
            f"; in {len(selected)} batches" if selected and BATCH_KEY in selected[0] else "",
        )
        return selected


#: Airflow's ``[core] max_map_length`` default is 1,024; stay below it.
MAX_MAPPED_TASKS = 1000


def max_mapped_tasks() -> int:
    """How many pull tasks a run maps at most (``STREAMFLOW_MAX_MAPPED_TASKS``, 1 … 1,000)."""
    try:
        value = int(os.environ.get("STREAMFLOW_MAX_MAPPED_TASKS", MAX_MAPPED_TASKS))
    except ValueError:
        value = MAX_MAPPED_TASKS
    return min(max(value, 1), MAX_MAPPED_TASKS)


def batched(stations: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """One mapped item per station up to ``limit`` stations; above, ``limit`` or fewer batches of
    consecutive stations of (nearly) equal size (docs/adr/0017-station-batches.md)."""
    if len(stations) <= limit:
        return stations
    size = math.ceil(len(stations) / limit)
    return [{BATCH_KEY: stations[i:i + size]} for i in range(0, len(stations), size)]


def next_run_after(schedule: str | None, after: datetime) -> datetime | None:
    """The schedule's next fire time after ``after``; None for none, or one that never fires."""
    if not schedule:
        return None
    try:
        return croniter(schedule, after).get_next(datetime).astimezone(timezone.utc)
    except Exception as exc:  # noqa: BLE001 - croniter raises several kinds for a schedule that never fires
        log.warning("schedule %r: no next run after %s (%s: %s)", schedule, after.isoformat(), type(exc).__name__, exc)
        return None


class FinalizeOperator(BaseOperator):
    """Close the run's log row whatever happened upstream; fail the run if any station failed."""

    ui_color = "#fff3e0"

    def __init__(self, *, config_id: int, pull_task_ids: Sequence[str], schedule: str | None, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(**kwargs)
        self.config_id = config_id
        self.pull_task_ids = list(pull_task_ids)
        self.schedule = schedule

    def execute(self, context) -> dict[str, Any]:
        ti = context["ti"]
        log_id = ti.xcom_pull(task_ids="plan", key=LOG_ID_KEY)
        expected = ti.xcom_pull(task_ids="plan", key=STATIONS_KEY)
        if log_id is None or expected is None:
            reason = (
                f"configuration {self.config_id}: plan did not complete (bad params or database error); "
                "see the plan task's log"
            )
            record_failed_run(context, self.config_id, reason)
            raise AirflowFailException(reason)
        try:
            summary = self._close(ti, log_id, list(expected))
        except Exception as exc:  # noqa: BLE001 - the row must never stay `running`
            reason = f"configuration {self.config_id}: finalize failed while summarising the run: {type(exc).__name__}: {exc}"
            self.log.exception("%s", reason)
            record_failed_run(context, self.config_id, reason, stations_total=len(expected))
            raise AirflowFailException(reason) from exc
        if summary.status == "failed":
            raise AirflowFailException(f"configuration {self.config_id}: {summary.error_message}")
        return {"status": summary.status, "records_processed": summary.records_processed}

    def _close(self, ti, log_id: int, expected: list[str]):
        outcomes: list[dict[str, Any]] = []
        if self.pull_task_ids:
            pulled = ti.xcom_pull(task_ids=list(self.pull_task_ids), key=OUTCOME_KEY) or []
            for item in pulled if isinstance(pulled, list) else [pulled]:
                # one station's outcome, or a batch's list of them
                outcomes += [o for o in (item if isinstance(item, list) else [item]) if isinstance(o, dict)]
        summary = summarize(outcomes, expected)
        now = datetime.now(timezone.utc)
        engine = StreamflowDbHook().get_engine()
        with session_scope(engine) as session:
            repo.close_pull_log(
                session,
                log_id,
                status=summary.status,
                records_processed=summary.records_processed,
                stations_failed=len(summary.stations_failed),
                details=summary.details,
                error_message=summary.error_message,
                end_time=now,
            )
            repo.update_run_times(session, self.config_id, last_run_at=now, next_run_at=next_run_after(self.schedule, now))
        for number, detail in summary.details.items():
            self.log.info(
                "station %s: %s; window %s; %s row(s) fetched, %s written; progress %s%s",
                number, detail.get("status"), detail.get("window"), detail.get("rows_fetched"),
                detail.get("rows_written"), detail.get("progress"),
                f"; {detail['message']}" if detail.get("message") else "",
            )
        self.log.info(
            "configuration %s: run %s: %d row(s) written, %d of %d station(s) failed",
            self.config_id, summary.status, summary.records_processed, len(summary.stations_failed), len(expected),
        )
        return summary


class InvalidConfigurationOperator(BaseOperator):
    """The single task of an ``invalid`` DAG: fails with the row's validation messages."""

    ui_color = "#ffcdd2"

    def __init__(self, *, config_id: int | None, errors: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.config_id = config_id
        self.errors = list(errors)

    def execute(self, context) -> None:
        for message in self.errors:
            self.log.error("configuration %s: %s", self.config_id, message)
        reason = (
            f"configuration {self.config_id} is invalid: " + "; ".join(self.errors)
            + " (fix the pull_configurations row; the DAG updates on the next parse)"
        )
        record_failed_run(context, self.config_id, reason)
        raise AirflowFailException(reason)
