"""The shape every per-station pull operator shares: station dict → pull → outcome XCom.

``plan`` maps each pull task over station dicts ``{"station_number", "agency", "region",
"params"}``: ``region`` is the station's state or province from ``master_stations`` (any agency),
``params`` the run parameters ``plan`` already parsed (:meth:`RunParams.to_dict`), so a pull task
never parses the trigger params again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException
from sqlalchemy import Engine, select

from streamflow.configurations import StationSpec
from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import MasterStation, Station
from streamflow.errors import SourceError, StreamflowError, detach_library_traceback, end_of_task_line, retry_outlook
from streamflow.hooks.base import PullStation
from streamflow.hooks.streamflow_db import StreamflowDbHook
from streamflow.outcomes import StationOutcome
from streamflow.trigger_params import RunParams
from streamflow.vocabulary import FORECAST_SOURCE, Agency, DataStrategy, DataType

OUTCOME_KEY = "outcome"
#: A mapped item holding several stations: ``{"batch": [station dict, ...]}`` (docs/adr/0017-station-batches.md).
BATCH_KEY = "batch"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PullTarget:
    """The configuration facts a station pull needs (a slice of ``PullConfig``)."""

    config_id: int
    data_type: DataType
    strategy: DataStrategy
    pull_start_date: datetime


def ensure_station_id(engine: Engine, station: StationSpec, metadata_source: Callable[[], dict | None]) -> int:
    """``stations.id``, creating the row from master_stations or the service's metadata."""
    with session_scope(engine) as session:
        existing = session.execute(select(Station.id).where(Station.station_number == station.station_number)).scalar()
        if existing is not None:
            return existing
        listed = session.execute(
            select(MasterStation.id).where(MasterStation.station_number == station.station_number)
        ).scalar()
    metadata = None
    if listed is None:
        try:
            metadata = metadata_source()
        except StreamflowError as exc:  # metadata is a nicety; the data is what matters
            log.warning("could not read site metadata (%s); the station row is created from its id", exc)
    with session_scope(engine) as session:
        return repo.ensure_station(session, station.station_number, station.agency.value, metadata)


class StationPullOperator(BaseOperator):
    """Pull one station of one configuration; mapped over the stations ``plan`` selected.

    The outcome (window, chunks, rows fetched/written, progress, error) is pushed as XCom
    ``outcome`` whether the pull succeeds or fails, so ``finalize`` can report every station.
    """

    template_fields = ("station",)
    source = ""

    def __init__(
        self,
        *,
        station: Mapping[str, Any] | None,
        config_id: int,
        data_type: str,
        data_strategy: str,
        pull_start_date: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.station = station
        self.config_id = config_id
        self.data_type = data_type
        self.data_strategy = data_strategy
        self.pull_start_date = pull_start_date

    @property
    def target(self) -> PullTarget:
        return PullTarget(
            config_id=self.config_id,
            data_type=DataType(self.data_type),
            strategy=DataStrategy(self.data_strategy),
            pull_start_date=datetime.fromisoformat(self.pull_start_date),
        )

    def station_spec(self, station: Mapping[str, Any] | None = None) -> PullStation:
        station = self.station if station is None else station
        return PullStation(station["station_number"], Agency(station["agency"]), region=station.get("region"))

    def execute(self, context) -> Any:
        if not self.station:
            raise AirflowSkipException("this station belongs to another source's pull task")
        if BATCH_KEY in self.station:
            return self.execute_batch(context, list(self.station[BATCH_KEY]))
        params = RunParams.from_dict(self.station.get("params"))  # parsed and validated by plan
        engine = StreamflowDbHook().get_engine()
        spec = self.station_spec()
        attempt, attempts = self.attempts(context)
        self.log.info(
            "%s: station %s: attempt %d of %d (%d retr%s left after this one)",
            self.source, spec.station_number, attempt, attempts, attempts - attempt,
            "y" if attempts - attempt == 1 else "ies",
        )
        try:
            outcome = self.pull(engine, spec, params)
        except StreamflowError as exc:
            failed = StationOutcome(
                spec.station_number, self.source, status="failed", message=str(exc), retryable=exc.retryable
            )
            context["ti"].xcom_push(key=OUTCOME_KEY, value=failed.to_dict())
            self._log_source_failure(exc, attempt, attempts)
            raise detach_library_traceback(exc, self.log) from None
        except Exception as exc:
            failed = StationOutcome(
                spec.station_number, self.source, status="failed", message=f"{self.source}: station "
                f"{spec.station_number}: {type(exc).__name__}: {exc}", retryable=True,
            )
            context["ti"].xcom_push(key=OUTCOME_KEY, value=failed.to_dict())
            self._log_failed_attempt(spec, attempt, attempts, True, exc)
            raise
        context["ti"].xcom_push(key=OUTCOME_KEY, value=outcome.to_dict())
        return outcome.to_dict()

    def execute_batch(self, context, batch: list[Mapping[str, Any]]) -> dict[str, Any]:
        """Pull a batch's stations one by one: a failing station does not stop the others; the task
        fails at the end naming the failed ones (retryable if any of them is). The outcome XCom is
        the list of the batch's station outcomes."""
        engine = StreamflowDbHook().get_engine()
        attempt, attempts = self.attempts(context)
        numbers = [item["station_number"] for item in batch]
        self.log.info(
            "%s: batch of %d station(s) %s … %s: attempt %d of %d (%d retr%s left after this one)",
            self.source, len(batch), numbers[0], numbers[-1], attempt, attempts, attempts - attempt,
            "y" if attempts - attempt == 1 else "ies",
        )
        outcomes: list[dict[str, Any]] = []
        failed: list[tuple[str, bool]] = []
        for item in batch:
            spec = self.station_spec(item)
            params = RunParams.from_dict(item.get("params"))  # parsed and validated by plan
            try:
                outcome = self.pull(engine, spec, params)
            except StreamflowError as exc:
                outcome = StationOutcome(
                    spec.station_number, self.source, status="failed", message=str(exc), retryable=exc.retryable
                )
                failed.append((spec.station_number, bool(exc.retryable)))
                self.log.error("%s (the batch goes on)", exc)
            except Exception as exc:  # noqa: BLE001 - recorded as the station's outcome; the batch goes on
                outcome = StationOutcome(
                    spec.station_number, self.source, status="failed", message=f"{self.source}: station "
                    f"{spec.station_number}: {type(exc).__name__}: {exc}", retryable=True,
                )
                failed.append((spec.station_number, True))
                self.log.exception("%s: station %s failed (the batch goes on)", self.source, spec.station_number)
            outcomes.append(outcome.to_dict())
        context["ti"].xcom_push(key=OUTCOME_KEY, value=outcomes)
        if failed:
            retryable = any(flag for _number, flag in failed)
            error = SourceError(
                f"{len(failed)} of {len(batch)} station(s) of this batch failed: "
                + ", ".join(number for number, _flag in failed),
                source=self.source, retryable=retryable,
            )
            self.log.error(
                "%s: attempt %d of %d failed: %s; %s", self.source, attempt, attempts, error,
                "Airflow retries the batch" if retryable and attempt < attempts else "the task fails now",
            )
            raise error
        return {"stations": len(batch), "failed": 0}

    def attempts(self, context) -> tuple[int, int]:
        """(this attempt, all attempts): Airflow's try number and ``retries`` + 1."""
        attempt = max(1, int(getattr(context["ti"], "try_number", 1) or 1))
        return attempt, max(attempt, int(self.retries or 0) + 1)

    def _log_failed_attempt(self, spec: PullStation, attempt: int, attempts: int, retryable: bool | None, exc) -> None:
        self.log.error(
            "%s: station %s: attempt %d of %d failed: %s; %s",
            self.source, spec.station_number, attempt, attempts, exc, retry_outlook(retryable, attempt, attempts),
        )

    def pull(self, engine: Engine, station: PullStation, params: RunParams) -> StationOutcome:
        raise NotImplementedError

    def _log_source_failure(self, exc: StreamflowError, attempt: int, attempts: int) -> None:
        """One clear ERROR line (source, station, window, cause, attempt n of m); the traceback goes to DEBUG."""
        window = exc.window or (
            f"latest {self.data_type} run" if DataType(self.data_type) in FORECAST_SOURCE else "before the first chunk"
        )
        self.log.error("%s", end_of_task_line(exc, window=window, attempt=attempt, attempts=attempts))
