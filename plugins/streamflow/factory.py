"""The DAG factory: one DAG per ``pull_configurations`` row, built from value objects (no I/O).

Loading rows (database, snapshot fallback) is ``streamflow.loading``; validating them is
``streamflow.configurations``; this module only turns a ``PullConfig`` (or an ``InvalidConfig``)
into a DAG, and ``build_dags`` makes sure one broken row never hides the others.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG

from streamflow.configurations import (
    DAG_ID_PREFIX,
    InvalidConfig,
    PullConfig,
    validate_configuration,
)
from streamflow.trigger_params import trigger_params
from streamflow.vocabulary import Agency, Source

log = logging.getLogger(__name__)

DAG_START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)  # fixed; catchup is off


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


#: Retries of a pull task when neither its source's variable nor STREAMFLOW_TASK_RETRIES is set:
#: with the 60 s first delay doubling, a service outage turns the run red after ~3 min of waits
#: (60 s + 120 s) plus the attempts themselves, not ~11.5 min as with 3.
DEFAULT_RETRIES = 2
#: The per-service retry budget of each source's pull tasks (docs/operations.md).
RETRIES_ENV: dict[Source, str] = {
    Source.USGS: "STREAMFLOW_RETRIES_USGS",
    Source.ECCC: "STREAMFLOW_RETRIES_ECCC",
    Source.NOAA: "STREAMFLOW_RETRIES_NOAA",
}


def task_retries() -> int:
    """The global default: ``STREAMFLOW_TASK_RETRIES`` (negative values count as 0)."""
    return max(0, _int_env("STREAMFLOW_TASK_RETRIES", DEFAULT_RETRIES))


def pull_retries(source: Source) -> int:
    """Retries of ``source``'s pull tasks: its own variable, else the global default."""
    return max(0, _int_env(RETRIES_ENV[source], task_retries()))


def default_args() -> dict[str, Any]:
    from streamflow.retry import StreamflowRetryPolicy

    return {
        "owner": "streamflow",
        "retries": task_retries(),
        "retry_delay": timedelta(seconds=_int_env("STREAMFLOW_RETRY_DELAY_SECONDS", 60)),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "retry_policy": StreamflowRetryPolicy(),
    }


#: Airflow's limit on a DAG's display name (``dag.dag_display_name``, a 2,000-character column).
DISPLAY_NAME_MAX = 2000
DESCRIPTION_MAX = 1000
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def display_name(name: str, suffix: str = "") -> str:
    """``name`` + ``suffix`` cut to Airflow's display-name limit (the suffix always shows)."""
    room = DISPLAY_NAME_MAX - len(suffix)
    return (name if len(name) <= room else name[: room - 1] + "…") + suffix


def literal_markdown(text: str) -> str:
    """``text`` as literal Markdown: every ASCII punctuation character backslash-escaped, so no link,
    image, HTML, emphasis or heading can come from user text (CommonMark escapes all of them)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def finish_doc(markdown: str) -> str:
    """A ``doc_md`` Airflow never reads as a file path (it opens any ``doc_md`` ending in ``.md``)."""
    return markdown.rstrip() + "\n"


DELETE_NOTE = (
    "To remove this DAG use `streamflow config delete <id>`: deleting it in the Airflow UI wipes its "
    "run history, and it comes straight back at the next parse while its configuration exists."
)


def _tags(config: PullConfig) -> list[str]:
    tags = ["streamflow", config.data_type.value, config.data_strategy.value]
    tags += [a.value for a in config.agencies]  # whose stations
    if config.data_type.is_forecast:
        tags.append("NOAA")  # which service is pulled
    if not config.is_enabled:
        tags.append("disabled")
    return tags


def _doc(config: PullConfig) -> str:
    status = "" if config.is_enabled else " (disabled: no schedule; `streamflow config enable` to resume)"
    lines = [
        f"### {literal_markdown(config.name)}{status}",
        "",
        *(literal_markdown(line) for line in (config.description or "").splitlines()),
        "",
        f"* configuration id: `{config.id}` — data type `{config.data_type.value}`, strategy "
        f"`{config.data_strategy.value}`, from `{config.pull_start_date.isoformat()}`",
        f"* schedule: `{config.schedule or 'none (manual or disabled)'}`",
        f"* stations ({len(config.stations)}): "
        + ", ".join(literal_markdown(s.station_number) for s in config.stations[:50])
        + (" …" if len(config.stations) > 50 else ""),
        "",
        DELETE_NOTE.replace("<id>", str(config.id)),
    ]
    return finish_doc("\n".join(lines))


# Airflow cannot map over a filtered list, so in a configuration that mixes USGS and EC stations
# each observation task maps over all of the run's stations and a station of the other agency maps
# to None (that task instance skips itself). Plain module functions: Airflow serializes them.
def _of_agency(item, agency):
    if item is None:
        return None
    if "batch" in item:  # a batch of stations (docs/adr/0017-station-batches.md)
        kept = [station for station in item["batch"] if station.get("agency") == agency]
        return {"batch": kept} if kept else None
    return item if item.get("agency") == agency else None


def usgs_station_or_none(station):
    return _of_agency(station, "USGS")


def ec_station_or_none(station):
    return _of_agency(station, "EC")


#: A mapped pull is named by its station, or by the first and last station of its batch.
MAP_INDEX_TEMPLATE = (
    "{% set s = task.station %}{% if not s %}other source"
    "{% elif s.batch is defined %}{{ s.batch[0].station_number }} … {{ s.batch[-1].station_number }}"
    " ({{ s.batch | length }} stations){% else %}{{ s.station_number }}{% endif %}"
)


@dataclass(frozen=True)
class SourcePull:
    """How one source's pull task is built: task id, pool, operator (module, class) and stations."""

    task_id: str
    pool: str
    operator: tuple[str, str]
    agency: Agency | None  # the observation source of this agency's stations; None: forecasts
    station_filter: Callable[[dict], dict | None] | None  # keeps this source's stations in a mixed run


OBSERVATION_OPERATOR = ("streamflow.operators.observations", "ObservationPullOperator")
#: The one table of sources: which pull task, pool, operator and stations serve each one.
SOURCE_PULLS: dict[Source, SourcePull] = {
    Source.USGS: SourcePull("pull_usgs", "usgs_api", OBSERVATION_OPERATOR, Agency.USGS, usgs_station_or_none),
    Source.ECCC: SourcePull("pull_eccc", "eccc_api", OBSERVATION_OPERATOR, Agency.EC, ec_station_or_none),
    Source.NOAA: SourcePull("pull_noaa", "noaa_api", ("streamflow.operators.forecasts", "ForecastPullOperator"), None, None),
}


def _pull_sources(config: PullConfig) -> list[Source]:
    """The sources whose pull tasks this configuration's DAG has."""
    if config.data_type.is_forecast:
        return [Source.NOAA]
    return [source for source, pull in SOURCE_PULLS.items() if pull.agency in config.agencies]


def _operator_class(source: Source):
    module, name = SOURCE_PULLS[source].operator
    return getattr(importlib.import_module(module), name)


def build_dag(config: PullConfig | InvalidConfig) -> DAG:
    """One DAG from one validated configuration (no I/O)."""
    if isinstance(config, InvalidConfig):
        return build_invalid_dag(config)
    from airflow.sdk.definitions.xcom_arg import XComArg

    from streamflow.operators.lifecycle import FinalizeOperator, PlanOperator

    sources = _pull_sources(config)
    with DAG(
        dag_id=config.dag_id,
        dag_display_name=display_name(config.name, "" if config.is_enabled else " (disabled)"),
        description=(config.description or config.name)[:DESCRIPTION_MAX],
        doc_md=_doc(config),
        is_paused_upon_creation=True if not config.is_enabled else None,
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
            pull_task_ids=[SOURCE_PULLS[source].task_id for source in sources],
            schedule=config.schedule,
            retries=1,
        )
        for source in sources:
            spec = SOURCE_PULLS[source]
            extra = {"source": source.value} if spec.agency is not None else {}
            pull = _operator_class(source).partial(
                task_id=spec.task_id,
                pool=spec.pool,
                retries=pull_retries(source),
                **extra,
                config_id=config.id,
                data_type=config.data_type.value,
                data_strategy=config.data_strategy.value,
                pull_start_date=config.pull_start_date.isoformat(),
                map_index_template=MAP_INDEX_TEMPLATE,
                **_observation_outlets(config),
            )
            stations = XComArg(plan)
            if len(sources) > 1:
                stations = stations.map(spec.station_filter)
            pull = pull.expand(station=stations)
            plan >> pull >> finalize
        if not sources:
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
        dag_display_name=display_name(config.name, " (invalid)"),
        description=("INVALID: " + "; ".join(config.errors))[:DESCRIPTION_MAX],
        doc_md=finish_doc(
            "### Invalid configuration\n\n" + "\n".join(f"* {literal_markdown(e)}" for e in config.errors)
            + "\n\n" + DELETE_NOTE.replace("<id>", str(config.id))
        ),
        schedule=None,
        start_date=DAG_START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["streamflow", "invalid"],
        default_args={"owner": "streamflow"},
    ) as dag:
        InvalidConfigurationOperator(task_id="invalid_configuration", config_id=config.id, errors=config.errors)
    return dag


def build_dags(rows: Iterable[Mapping[str, Any]], *, only_dag_id: str | None = None) -> dict[str, DAG]:
    """Validate and build every row; one broken row never hides the others.

    Everything about a row happens inside its own protection: whatever its values, it ends as its
    DAG or as an ``invalid`` DAG naming the problem.
    """
    from streamflow.configurations import invalid_configuration

    dags: dict[str, DAG] = {}
    for row in rows:
        try:
            if only_dag_id is not None and f"{DAG_ID_PREFIX}{row.get('id')}" != only_dag_id:
                continue
            config = validate_configuration(row)
            dags[config.dag_id] = build_dag(config)
        except Exception as exc:  # noqa: BLE001 - becomes an invalid DAG, never a DAG file error
            broken = invalid_configuration(row, [f"building the DAG failed: {type(exc).__name__}: {exc}"])
            log.exception("%s: building its DAG failed", broken.dag_id)
            try:
                dags[broken.dag_id] = build_invalid_dag(broken)
            except Exception:  # noqa: BLE001 - logged; the other rows still build
                log.exception("%s: not even its invalid DAG could be built", broken.dag_id)
    from streamflow.verification.dag import VERIFICATION_DAG_ID, build_verification_dag

    if only_dag_id in (None, VERIFICATION_DAG_ID):
        try:
            dags[VERIFICATION_DAG_ID] = build_verification_dag()
        except Exception:  # noqa: BLE001 - never a DAG file error
            log.exception("building the %s DAG failed", VERIFICATION_DAG_ID)
    return dags
