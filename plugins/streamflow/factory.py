"""The DAG factory: one DAG per ``pull_configurations`` row, built from value objects (no I/O).

Loading rows (database, snapshot fallback) is ``streamflow.loading``; validating them is
``streamflow.configurations``; this module only turns a ``PullConfig`` (or an ``InvalidConfig``)
into a DAG, and ``build_dags`` makes sure one broken row never hides the others.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, Param

from streamflow.configurations import (
    DAG_ID_PREFIX,
    InvalidConfig,
    PullConfig,
    validate_configuration,
)
from streamflow.vocabulary import Agency, Source

log = logging.getLogger(__name__)

DAG_START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)  # fixed; catchup is off
POOLS = {Source.USGS: "usgs_api", Source.ECCC: "eccc_api", Source.NOAA: "noaa_api"}
PULL_TASK_IDS = {Source.USGS: "pull_usgs", Source.ECCC: "pull_eccc", Source.NOAA: "pull_noaa"}


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def default_args() -> dict[str, Any]:
    from streamflow.retry import StreamflowRetryPolicy

    return {
        "owner": "streamflow",
        "retries": _int_env("STREAMFLOW_TASK_RETRIES", 3),
        "retry_delay": timedelta(seconds=_int_env("STREAMFLOW_RETRY_DELAY_SECONDS", 60)),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "retry_policy": StreamflowRetryPolicy(),
    }


# The trigger Params' keywords (type, items, enum, format) mean the same in draft-07, whose
# metaschema Airflow checks ~4x faster than the 2020-12 default at every parse (docs/benchmarks.md §2).
DRAFT_07 = {"$schema": "http://json-schema.org/draft-07/schema#"}


def trigger_params(config: PullConfig) -> dict[str, Param]:
    """The manual-trigger form (DESIGN §5); the UI renders it and validates on trigger."""
    stations = ", ".join(s.station_number for s in config.stations[:20])
    more = f" … ({len(config.stations)} in all)" if len(config.stations) > 20 else ""
    return {
        "stations": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Stations",
            **DRAFT_07,
            description=f"Subset of this configuration's stations; empty = all. Configured: {stations}{more}",
        ),
        "start_date": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Start date",
            **DRAFT_07,
            description="Pull from here (UTC, e.g. 2024-01-01T00:00:00Z), ignoring recorded progress.",
        ),
        "end_date": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="End date",
            **DRAFT_07,
            description="Pull up to here (UTC). Empty = now.",
        ),
        "data_strategy": Param(
            None,
            type=["null", "string"],
            enum=[None, "append", "overwrite"],
            title="Data strategy",
            **DRAFT_07,
            description=f"Override the configuration's strategy ({config.data_strategy.value}) for this run.",
        ),
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            **DRAFT_07,
            description="Start from pull_start_date regardless of progress.",
        ),
    }


def _tags(config: PullConfig) -> list[str]:
    tags = ["streamflow", config.data_type.value, config.data_strategy.value]
    tags += [a.value for a in config.agencies]
    if not config.is_enabled:
        tags.append("disabled")
    return tags


def _doc(config: PullConfig) -> str:
    lines = [
        f"### {config.name}",
        "",
        config.description or "",
        "",
        f"* configuration id: `{config.id}` — data type `{config.data_type.value}`, strategy "
        f"`{config.data_strategy.value}`, from `{config.pull_start_date.isoformat()}`",
        f"* schedule: `{config.schedule or 'none (manual or disabled)'}`",
        f"* stations ({len(config.stations)}): " + ", ".join(s.station_number for s in config.stations[:50]),
    ]
    return "\n".join(lines)


def _pull_groups(config: PullConfig) -> dict[Source, tuple[str, ...]]:
    """Which pull task handles which agencies' stations."""
    if config.data_type.is_forecast:
        return {Source.NOAA: tuple(a.value for a in config.agencies)}
    groups: dict[Source, tuple[str, ...]] = {}
    if Agency.USGS in config.agencies:
        groups[Source.USGS] = (Agency.USGS.value,)
    if Agency.EC in config.agencies:
        groups[Source.ECCC] = (Agency.EC.value,)
    return groups


# Airflow cannot map over a filtered list, so in a configuration that mixes USGS and EC stations
# each observation task maps over all of the run's stations and a station of the other agency maps
# to None (that task instance skips itself). Plain module functions: Airflow serializes them.
def usgs_station_or_none(station):
    return station if station.get("agency") == "USGS" else None


def ec_station_or_none(station):
    return station if station.get("agency") == "EC" else None


STATION_FILTERS = {Source.USGS: usgs_station_or_none, Source.ECCC: ec_station_or_none}


def _operator_class(source: Source):
    if source == Source.USGS:
        from streamflow.operators.usgs import UsgsObservationsOperator

        return UsgsObservationsOperator
    if source == Source.ECCC:
        from streamflow.operators.eccc import EcccObservationsOperator

        return EcccObservationsOperator
    from streamflow.operators.noaa import NoaaForecastOperator

    return NoaaForecastOperator


def build_dag(config: PullConfig | InvalidConfig) -> DAG:
    """One DAG from one validated configuration (no I/O)."""
    if isinstance(config, InvalidConfig):
        return build_invalid_dag(config)
    from airflow.sdk.definitions.xcom_arg import XComArg

    from streamflow.operators.lifecycle import FinalizeOperator, PlanOperator

    groups = _pull_groups(config)
    with DAG(
        dag_id=config.dag_id,
        dag_display_name=config.name,
        description=(config.description or config.name)[:1000],
        doc_md=_doc(config),
        schedule=config.schedule,
        start_date=DAG_START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=_tags(config),
        params=trigger_params(config),
        default_args=default_args(),
        render_template_as_native_obj=False,
    ) as dag:
        plan = PlanOperator(
            task_id="plan",
            config_id=config.id,
            stations=[{"station_number": s.station_number, "agency": s.agency.value} for s in config.stations],
            retries=1,
        )
        finalize = FinalizeOperator(
            task_id="finalize",
            config_id=config.id,
            pull_task_ids=[PULL_TASK_IDS[src] for src in groups],
            schedule=config.schedule,
            retries=1,
        )
        for source in groups:
            operator = _operator_class(source)
            pull = operator.partial(
                task_id=PULL_TASK_IDS[source],
                pool=POOLS[source],
                config_id=config.id,
                data_type=config.data_type.value,
                data_strategy=config.data_strategy.value,
                pull_start_date=config.pull_start_date.isoformat(),
                map_index_template="{{ task.station['station_number'] if task.station else 'other source' }}",
                **_observation_outlets(config),
            )
            stations = XComArg(plan)
            if len(groups) > 1:
                stations = stations.map(STATION_FILTERS[source])
            pull = pull.expand(station=stations)
            plan >> pull >> finalize
        if not groups:
            plan >> finalize
    return dag


def _observation_outlets(config: PullConfig) -> dict[str, Any]:
    """Observation pulls announce what they landed on their data type's asset (ADR 0013)."""
    if config.data_type.is_forecast:
        return {}
    from streamflow.verification.events import asset_for, record_observation_event

    return {"outlets": [asset_for(config.data_type.value)], "post_execute": record_observation_event}


def build_invalid_dag(config: InvalidConfig) -> DAG:
    from streamflow.operators.lifecycle import InvalidConfigurationOperator

    with DAG(
        dag_id=config.dag_id,
        dag_display_name=f"{config.name} (invalid)",
        description=("INVALID: " + "; ".join(config.errors))[:1000],
        doc_md="### Invalid configuration\n\n" + "\n".join(f"* {e}" for e in config.errors),
        schedule=None,
        start_date=DAG_START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["streamflow", "invalid"],
    ) as dag:
        InvalidConfigurationOperator(task_id="invalid_configuration", config_id=config.id, errors=config.errors)
    return dag


def build_dags(rows: Iterable[Mapping[str, Any]], *, only_dag_id: str | None = None) -> dict[str, DAG]:
    """Validate and build every row; one broken row never hides the others."""
    dags: dict[str, DAG] = {}
    for row in rows:
        dag_id = f"{DAG_ID_PREFIX}{row.get('id')}"
        if only_dag_id is not None and dag_id != only_dag_id:
            continue
        config = validate_configuration(row)
        try:
            dags[config.dag_id] = build_dag(config)
        except Exception as exc:  # noqa: BLE001 - becomes an invalid DAG, never a DAG file error
            log.exception("configuration %s: building its DAG failed", row.get("id"))
            broken = InvalidConfig(row.get("id"), str(row.get("name") or dag_id), (f"building the DAG failed: {exc}",))
            dags[broken.dag_id] = build_invalid_dag(broken)
    from streamflow.verification.dag import VERIFICATION_DAG_ID, build_verification_dag

    if only_dag_id in (None, VERIFICATION_DAG_ID):
        try:
            dags[VERIFICATION_DAG_ID] = build_verification_dag()
        except Exception:  # noqa: BLE001 - never a DAG file error
            log.exception("building the %s DAG failed", VERIFICATION_DAG_ID)
    return dags
