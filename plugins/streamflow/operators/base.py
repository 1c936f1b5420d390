"""The shape every per-station pull operator shares: params → pull → outcome XCom."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from streamflow.configurations import StationSpec
from streamflow.errors import StreamflowError
from streamflow.hooks.streamflow_db import StreamflowDbHook
from streamflow.trigger_params import RunParams, parse_params
from streamflow.pulls import PullTarget, StationOutcome
from streamflow.vocabulary import Agency, DataStrategy, DataType

OUTCOME_KEY = "outcome"


class StationPullOperator(BaseOperator):
    """Pull one station of one configuration; mapped over the stations ``plan`` selected.

    ``station`` is ``{"station_number": ..., "agency": ..., "province": ...}``. The outcome
    (window, chunks, rows fetched/written, progress, error) is pushed as XCom ``outcome`` whether
    the pull succeeds or fails, so ``finalize`` can report every station.
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

    def station_spec(self) -> StationSpec:
        return StationSpec(self.station["station_number"], Agency(self.station["agency"]))

    def execute(self, context) -> dict[str, Any]:
        if not self.station:
            raise AirflowSkipException("this station belongs to another source's pull task")
        params = parse_params(context["params"])  # already validated by plan
        engine = StreamflowDbHook().get_engine()
        spec = self.station_spec()
        try:
            outcome = self.pull(engine, spec, params)
        except StreamflowError as exc:
            failed = StationOutcome(
                spec.station_number, self.source, status="failed", message=str(exc), retryable=exc.retryable
            )
            context["ti"].xcom_push(key=OUTCOME_KEY, value=failed.to_dict())
            raise
        except Exception as exc:
            failed = StationOutcome(
                spec.station_number, self.source, status="failed", message=f"{self.source}: station "
                f"{spec.station_number}: {type(exc).__name__}: {exc}", retryable=True,
            )
            context["ti"].xcom_push(key=OUTCOME_KEY, value=failed.to_dict())
            raise
        context["ti"].xcom_push(key=OUTCOME_KEY, value=outcome.to_dict())
        return outcome.to_dict()

    def pull(self, engine, station: StationSpec, params: RunParams) -> StationOutcome:
        raise NotImplementedError
