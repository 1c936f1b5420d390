"""The ``streamflow_verification`` DAG: scheduled on the observation assets (ADR 0013).

Any observation pull that lands rows emits an event on its data type's asset
(``streamflow.verification.events``); this DAG then verifies the forecast runs whose horizons those
observations touch. It can also be triggered by hand for chosen stations and a time range.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import reduce

from airflow.sdk import DAG, Param

from streamflow.verification.events import asset_for, observation_assets  # noqa: F401 - re-exported

VERIFICATION_DAG_ID = "streamflow_verification"
START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
DRAFT_07 = {"$schema": "http://json-schema.org/draft-07/schema#"}

DOC = """### Forecast verification

Pairs every forecast run with the observations at its valid times and scores it per lead-time bin
(RMSE, mean error, MAE, NSE, KGE, skill against persistence) into `forecast_verifications`, and the
whole run's RMSE into `forecast_runs.rmse`. Runs when observation pulls land rows (assets
`streamflow://observations/daily_mean`, `streamflow://observations/realtime_15min`); a manual run
verifies the chosen stations and period (default: every station, the last 7 days).
The pairing rule: `docs/adr/0013-forecast-verification.md`.
"""


def build_verification_dag() -> DAG:
    from streamflow.factory import default_args
    from streamflow.operators.verification import VerifyForecastsOperator

    schedule = reduce(lambda a, b: a | b, observation_assets())
    with DAG(
        dag_id=VERIFICATION_DAG_ID,
        dag_display_name="Streamflow forecast verification",
        description="Score stored forecasts against the observations that arrived since",
        doc_md=DOC,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["streamflow", "verification"],
        default_args=default_args(),  # bad params / unverifiable runs fail at once; DB errors retry
        params={
            "stations": Param([], type="array", items={"type": "string"}, title="Stations", **DRAFT_07,
                              description="Stations to verify (manual runs); empty = all."),
            "start_date": Param(None, type=["null", "string"], format="date-time", title="Start date", **DRAFT_07,
                                description="Observations from (UTC). Empty = 7 days before the end."),
            "end_date": Param(None, type=["null", "string"], format="date-time", title="End date", **DRAFT_07,
                              description="Observations up to (UTC). Empty = now."),
        },
    ) as dag:
        VerifyForecastsOperator(task_id="verify_forecasts")
    return dag
