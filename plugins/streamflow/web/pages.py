"""HTML pages of the Streamflow app (server-side Jinja2 templates, a little JavaScript).

Routes, relative to ``/streamflow`` (every one needs an authenticated Airflow user; every POST
needs DAG edit permission and the CSRF proof, see ``streamflow.web.security``):

* ``GET /``                                   configurations list (filters: enabled, data type, text)
* ``GET /health``                             failing stations, stale stations, runs failed in 24 h
* ``GET /configurations/new``                 create form;  ``POST /configurations`` saves it
* ``GET /configurations/{id}``                detail: progress, runs, rows stored, hydrograph;
                                              forecast skill by lead time (query ``skill_station``,
                                              ``skill_from``, ``skill_to``: ``streamflow.web.pages_skill``)
* ``GET /configurations/{id}/edit``           edit form;    ``POST /configurations/{id}`` saves it
* ``POST /configurations/{id}/enabled``       enable / disable (form field ``enabled``)
* ``POST /configurations/{id}/clone``         a disabled copy, opened in the edit form
* ``GET|POST /configurations/{id}/delete``    the confirmation step, then the delete
* ``GET /stations/search``                    station search (JSON) for the form
* ``GET /configurations/{id}/hydrograph``     observed + forecast series of one station (JSON)

A form with errors is shown again with each message next to its field (HTTP 422) and nothing is
written. After a save the detail page asks Airflow to re-parse the DAG file (``PUT
/api/v2/parseDagFile/{file_token}``) and says when the DAG shows in Airflow.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from streamflow.configurations import DAG_ID_PREFIX, InvalidConfig, dag_id_for, validate_configuration
from streamflow.db import configurations as cfg_repo
from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.db.models import MasterStation
from streamflow.db.stations import count_master_stations, search_master_stations
from streamflow.factory import SOURCE_PULLS
from streamflow.verification.dag import VERIFICATION_DAG_ID
from streamflow.vocabulary import (
    CFS_PER_CMS,
    OBSERVATION_TYPES,
    DataStrategy,
    DataType,
    ScheduleType,
    Source,
)
from streamflow.web.app import MOUNT_PREFIX, TEMPLATES_DIR
from streamflow.web.pages_forms import (
    BULK_ADD_CAP,
    MAX_STATIONS,
    ConfigurationForm,
    check_form,
    parse_start,
    schedule_interval,
    schedule_label,
)
from streamflow.web.pages_skill import skill_card
from streamflow.web.security import EditUser, can_edit, csrf_token

log = logging.getLogger(__name__)
router = APIRouter()
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))  # autoescapes .html templates
T = TypeVar("T")

SEARCH_PAGE = 25
SEARCH_MAX_LIMIT = BULK_ADD_CAP
HUC2 = re.compile(r"^\d{2}$")
# Stale = no new data for longer than this multiple of the configuration's schedule interval.
DEFAULT_STALE_MULTIPLES = {t.value: 3.0 for t in DataType}
NOTICES = {
    "created": "Configuration created.",
    "updated": "Configuration saved.",
    "enabled": "Configuration enabled: its DAG is scheduled again.",
    "disabled": "Configuration disabled: its DAG is no longer scheduled.",
    "cloned": "This is a copy (disabled). Change what differs, then save.",
    "deleted": "Configuration deleted.",
}


# --------------------------------------------------------------------------- helpers


@contextmanager
def _session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


def _in_session(work: Callable[[Session], T]) -> T:
    with _session() as session:
        return work(session)


def _base(request: Request) -> str:
    return request.scope.get("root_path") or MOUNT_PREFIX


def _airflow_root(request: Request) -> str:
    base = _base(request)
    return base[: -len(MOUNT_PREFIX)] if base.endswith(MOUNT_PREFIX) else ""


def _utc(value: datetime | None, seconds: bool = False) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " UTC"


def _ago(value: datetime | None) -> str:
    if value is None:
        return ""
    delta = datetime.now(UTC) - value.astimezone(UTC)
    seconds = int(delta.total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            text = f"{seconds // size} {unit}"
            break
    else:
        text = f"{seconds} s"
    return f"in {text}" if future else f"{text} ago"


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    hours = value.total_seconds() / 3600
    return f"{hours / 24:g} d" if hours >= 48 else f"{hours:g} h"


templates.env.filters["utc"] = _utc
templates.env.filters["ago"] = _ago
templates.env.filters["duration"] = _duration
templates.env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else n


def _render(request: Request, template: str, user, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("can_edit", can_edit(user, context.get("config_id")))
    # A clone is a new configuration: it needs edit rights on DAGs in general (docs/adr/0014-web-security.md).
    context.setdefault("can_create", can_edit(user, None))
    context.update(
        base=_base(request),
        airflow=_airflow_root(request),
        csrf_token=csrf_token(request),
        notice=NOTICES.get(request.query_params.get("done", "")),
        user_name=user.get_name(),
        dag_prefix=DAG_ID_PREFIX,
    )
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def _redirect(request: Request, path: str, **params: str) -> RedirectResponse:
    query = f"?{urlencode(params)}" if params else ""
    return RedirectResponse(f"{_base(request)}{path}{query}", status_code=303)


def airflow_dags(dag_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What Airflow knows of our DAGs: paused, next run, import errors (empty when unreadable)."""
    if not dag_ids:
        return {}
    try:
        # Not DAG authoring (that uses airflow.sdk): this runs inside the API server, which reads the
        # same table for its own /api/v2/dags; airflow.sdk offers no read of DAG state, and calling
        # the REST API from here would be an HTTP round trip back into this process.
        from airflow.models.dag import DagModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.execute(
                select(
                    DagModel.dag_id,
                    DagModel.is_paused,
                    DagModel.is_stale,
                    DagModel.next_dagrun_create_after,
                    DagModel.has_import_errors,
                ).where(DagModel.dag_id.in_(dag_ids))
            ).all()
    except (SQLAlchemyError, ImportError) as exc:
        log.warning("could not read Airflow's DAG table: %s", exc)
        return {}
    return {
        dag_id: {"is_paused": paused, "is_stale": stale, "next_run": next_run, "import_errors": errors}
        for dag_id, paused, stale, next_run, errors in rows
    }


def task_log_url(
    airflow: str, dag_id: str | None, run_id: str | None, source: str | None = None
) -> str | None:
    """Airflow UI link to a run's task (the pull task of ``source``, else the run)."""
    if not dag_id or not run_id:
        return None
    url = f"{airflow}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    try:
        task_id = SOURCE_PULLS[Source(source)].task_id if source else None
    except ValueError:
        task_id = None
    return f"{url}/tasks/{task_id}/mapped" if task_id else url


templates.env.globals["task_log_url"] = task_log_url


def _config_or_404(session: Session, config_id: int):
    config = repo.get_configuration(session, config_id)
    if config is None:
        raise HTTPException(404, f"configuration {config_id} does not exist (deleted?)")
    return config


def _form_options() -> dict[str, Any]:
    return {
        "data_types": [t.value for t in DataType],
        "forecast_types": sorted(t.value for t in DataType if t.is_forecast),
        "strategies": [s.value for s in DataStrategy],
        "schedule_types": [s.value for s in ScheduleType],
        "bulk_cap": BULK_ADD_CAP,
        "max_stations": MAX_STATIONS,
        "page_size": SEARCH_PAGE,
    }


def _search_choices(session: Session) -> dict[str, list[str]]:
    """The values the search selects offer: states/provinces, 2-digit HUC regions, agencies."""

    def distinct_values(column) -> list[str]:
        return sorted({v for v in session.scalars(select(column).where(column.is_not(None)).distinct()) if v})

    hucs = distinct_values(func.substr(MasterStation.huc_code, 1, 2))
    return {
        "states": distinct_values(MasterStation.state_code),
        "hucs": [h for h in hucs if HUC2.match(h)],
        "agencies": distinct_values(MasterStation.agency),
    }


def _station_facts(session: Session, numbers: list[str]) -> list[dict[str, Any]]:
    masters = cfg_repo.master_station_facts(session, numbers)
    mapped = cfg_repo.noaa_mapped(session, numbers)
    return [_station_json(masters.get(n), n, n in mapped) for n in numbers]


def _station_json(master: MasterStation | None, number: str, mapped: bool) -> dict[str, Any]:
    return {
        "station_number": number,
        "station_name": master.station_name if master else None,
        "agency": master.agency if master else None,
        "state": master.state_code if master else None,
        "huc": master.huc_code if master else None,
        "drainage_area_sqmi": master.drainage_area_sqmi if master else None,
        "noaa_mapped": mapped,
        "known": master is not None,
    }


# --------------------------------------------------------------------------- configurations list


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def configurations_page(request: Request, user: GetUserDep) -> HTMLResponse:
    enabled = request.query_params.get("enabled", "")
    data_type = request.query_params.get("data_type", "")
    text = request.query_params.get("q", "").strip()
    deleted = request.query_params.get("reparse", "")

    def load(session: Session):
        summaries = cfg_repo.configuration_summaries(session)
        rows = load_rows_by_id(session)
        return summaries, rows, _health_counts(session)

    summaries, rows, health = _in_session(load)
    dags = airflow_dags([dag_id_for(s.config.id) for s in summaries])
    items = []
    for summary in summaries:
        config = summary.config
        if enabled in ("yes", "no") and bool(config.is_enabled) != (enabled == "yes"):
            continue
        if data_type and config.data_type != data_type:
            continue
        if text and text.lower() not in f"{config.name} {config.description or ''} {config.id}".lower():
            continue
        checked = validate_configuration(rows.get(config.id, {"id": config.id}))
        dag = dags.get(dag_id_for(config.id), {})
        items.append(
            {
                "summary": summary,
                "config": config,
                "dag_id": dag_id_for(config.id),
                "schedule": schedule_label(config.schedule_type, config.schedule_value),
                "errors": checked.errors if isinstance(checked, InvalidConfig) else (),
                "next_run": dag.get("next_run") if config.is_enabled else None,
                "in_airflow": bool(dag) and not dag.get("is_stale"),
                "paused": dag.get("is_paused"),
            }
        )
    return _render(
        request,
        "configurations.html",
        user,
        items=items,
        total=len(summaries),
        health=health,
        filters={"enabled": enabled, "data_type": data_type, "q": text},
        data_types=[t.value for t in DataType],
        deleted_dag=deleted if re.fullmatch(rf"{DAG_ID_PREFIX}\d+", deleted) else None,
    )


def load_rows_by_id(session: Session) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in repo.load_configuration_rows(session)}


def _health_counts(session: Session) -> dict[str, int]:
    since = datetime.now(UTC) - timedelta(hours=24)
    return {
        "failing": len(cfg_repo.failing_stations(session)),
        "failed_runs": len(cfg_repo.failed_runs(session, since=since)),
    }


# --------------------------------------------------------------------------- create / edit


@router.get("/configurations/new", response_class=HTMLResponse, include_in_schema=False)
def new_configuration_page(request: Request, user: GetUserDep) -> HTMLResponse:
    form = ConfigurationForm(pull_start_date=(datetime.now(UTC) - timedelta(days=30)).date().isoformat())
    choices = _in_session(_search_choices)
    return _render(
        request,
        "configuration_form.html",
        user,
        form=form,
        config=None,
        selected=[],
        choices=choices,
        **_form_options(),
    )


@router.get("/configurations/{config_id}/edit", response_class=HTMLResponse, include_in_schema=False)
def edit_configuration_page(request: Request, config_id: int, user: GetUserDep) -> HTMLResponse:
    def load(session: Session):
        config = _config_or_404(session, config_id)
        (row,) = repo.load_configuration_rows(session, config_id)
        form = ConfigurationForm.from_row(row)
        return config, form, _station_facts(session, form.stations), _search_choices(session)

    config, form, selected, choices = _in_session(load)
    return _render(
        request,
        "configuration_form.html",
        user,
        form=form,
        config=config,
        config_id=config_id,
        selected=selected,
        choices=choices,
        **_form_options(),
    )


@router.post("/configurations", response_class=HTMLResponse, include_in_schema=False)
async def create_configuration(request: Request, user: EditUser) -> Response:
    form = ConfigurationForm.from_submission(await request.form())
    return await run_in_threadpool(_save, request, user, form, None)


@router.post("/configurations/{config_id}", response_class=HTMLResponse, include_in_schema=False)
async def update_configuration(request: Request, config_id: int, user: EditUser) -> Response:
    form = ConfigurationForm.from_submission(await request.form())
    return await run_in_threadpool(_save, request, user, form, config_id)


def _save(request: Request, user, form: ConfigurationForm, config_id: int | None) -> Response:
    with _session() as session:
        config = _config_or_404(session, config_id) if config_id is not None else None
        check_form(session, form, config_id=config_id)
        if form.errors:
            session.rollback()
            selected = _station_facts(session, form.stations)
            return _render(
                request,
                "configuration_form.html",
                user,
                status_code=422,
                form=form,
                config=config,
                config_id=config_id,
                selected=selected,
                choices=_search_choices(session),
                **_form_options(),
            )
        stations = [{"station_number": n} for n in form.stations]
        if config is None:
            config = repo.create_configuration(session, stations=stations, **form.columns())
            done = "created"
        else:
            cfg_repo.update_configuration(session, config.id, stations=stations, **form.columns())
            done = "updated"
        saved_id = config.id
    log.info("configuration %s %s by %s", saved_id, done, user.get_name())
    return _redirect(request, f"/configurations/{saved_id}", done=done, reparse="1")


@router.post("/configurations/{config_id}/enabled", include_in_schema=False)
async def set_enabled(request: Request, config_id: int, user: EditUser) -> Response:
    value = (await request.form()).get("enabled")
    if value not in ("true", "false"):
        raise HTTPException(422, "field 'enabled' must be 'true' or 'false'")

    def work(session: Session) -> None:
        _config_or_404(session, config_id)
        repo.set_configuration_enabled(session, config_id, value == "true")

    await run_in_threadpool(_in_session, work)
    done = "enabled" if value == "true" else "disabled"
    log.info("configuration %s %s by %s", config_id, done, user.get_name())
    return _redirect(request, f"/configurations/{config_id}", done=done, reparse="1")


@router.post("/configurations/{config_id}/clone", include_in_schema=False)
async def clone(request: Request, config_id: int, user: EditUser) -> Response:
    def work(session: Session) -> int:
        _config_or_404(session, config_id)
        return cfg_repo.clone_configuration(session, config_id).id

    new_id = await run_in_threadpool(_in_session, work)
    log.info("configuration %s cloned to %s by %s", config_id, new_id, user.get_name())
    return _redirect(request, f"/configurations/{new_id}/edit", done="cloned")


@router.get("/configurations/{config_id}/delete", response_class=HTMLResponse, include_in_schema=False)
def delete_confirmation_page(request: Request, config_id: int, user: GetUserDep) -> HTMLResponse:
    def load(session: Session):
        config = _config_or_404(session, config_id)
        logs = len(repo.get_pull_logs(session, config_id))
        return config, logs, len(config.stations)

    config, logs, stations = _in_session(load)
    return _render(
        request,
        "delete.html",
        user,
        config=config,
        config_id=config_id,
        logs=logs,
        stations=stations,
        dag_id=dag_id_for(config_id),
    )


@router.post("/configurations/{config_id}/delete", include_in_schema=False)
async def delete(request: Request, config_id: int, user: EditUser) -> Response:
    if (await request.form()).get("confirm") != "delete":
        raise HTTPException(422, "field 'confirm' must be 'delete' (use the confirmation page)")

    def work(session: Session) -> None:
        _config_or_404(session, config_id)
        cfg_repo.delete_configuration(session, config_id)

    await run_in_threadpool(_in_session, work)
    log.info("configuration %s deleted by %s", config_id, user.get_name())
    return _redirect(request, "/", done="deleted", reparse=dag_id_for(config_id))


# --------------------------------------------------------------------------- detail


@router.get("/configurations/{config_id}", response_class=HTMLResponse, include_in_schema=False)
def configuration_page(request: Request, config_id: int, user: GetUserDep) -> HTMLResponse:
    def load(session: Session):
        config = _config_or_404(session, config_id)
        rows = repo.load_configuration_rows(session, config_id)
        checked = validate_configuration(rows[0]) if rows else None
        statuses = cfg_repo.station_statuses(session, config_id)
        logs = cfg_repo.recent_logs(session, config_id)
        mapped = cfg_repo.noaa_mapped(session, [s.station_number for s in statuses])
        stations = [(s.station_number, s.station_name) for s in statuses]
        skill = skill_card(session, config.data_type, stations, request.query_params)
        return config, checked, statuses, logs, mapped, skill

    config, checked, statuses, logs, mapped, skill = _in_session(load)
    dag_id = dag_id_for(config_id)
    dag = airflow_dags([dag_id]).get(dag_id, {})
    kinds = sorted({k for s in statuses for k in s.rows})
    is_forecast = (
        DataType(config.data_type).is_forecast if config.data_type in {t.value for t in DataType} else False
    )
    return _render(
        request,
        "configuration.html",
        user,
        config=config,
        config_id=config_id,
        dag_id=dag_id,
        dag=dag,
        errors=checked.errors if isinstance(checked, InvalidConfig) else (),
        statuses=statuses,
        logs=logs,
        kinds=kinds,
        stored_key=cfg_repo.stored_key(config.data_type),
        is_forecast=is_forecast,
        mapped=mapped,
        skill=skill,
        verification_dag=VERIFICATION_DAG_ID,
        schedule=schedule_label(config.schedule_type, config.schedule_value),
        reparse=request.query_params.get("reparse") == "1",
        observation_types=sorted(t.value for t in OBSERVATION_TYPES),
    )


@router.get("/configurations/{config_id}/hydrograph", include_in_schema=False)
def hydrograph(request: Request, config_id: int) -> JSONResponse:
    """Observed discharge of one station of the configuration with its latest forecasts (cfs, UTC)."""
    params = request.query_params
    station = params.get("station", "")
    errors: dict[str, str] = {}

    def instant(key: str) -> datetime | None:
        raw = params.get(key)
        if not raw:
            return None
        value = parse_start(raw)
        if value is None:
            errors[key] = f"{raw!r} is not a date (2024-01-01 or 2024-01-01T06:00Z, UTC)"
        return value

    start, end = instant("start"), instant("end")
    kind = params.get("type") or ""
    if kind and kind not in {t.value for t in OBSERVATION_TYPES}:
        errors["type"] = f"{kind!r} is not an observation type (daily_mean, realtime_15min)"
    if start and end and start > end:
        errors["start"] = "start is after end"
    if errors:
        return JSONResponse({"errors": errors}, status_code=422)

    def load(session: Session) -> dict[str, Any]:
        config = _config_or_404(session, config_id)
        if station not in {s.station_number for s in config.stations}:
            raise HTTPException(404, f"station {station!r} is not in configuration {config_id}")
        types = [kind] if kind else _observation_types_for(config.data_type)
        chosen, first, last = types[0], None, None
        for candidate in types:
            first, last = cfg_repo.observation_range(session, station, candidate)
            if last is not None:
                chosen = candidate
                break
        stop = end or last or datetime.now(UTC)
        begin = start or (stop - timedelta(days=30))
        points, unit, truncated = cfg_repo.observed_series(session, station, chosen, begin, stop)
        factor = CFS_PER_CMS if unit == "cms" else 1.0
        forecasts = []
        for run in cfg_repo.latest_forecasts(session, station):
            run_factor = CFS_PER_CMS if run.unit == "cms" else 1.0
            values = [
                [point["valid_time"], point["value"] * run_factor]
                for point in (run.data or [])
                if isinstance(point, dict) and point.get("value") is not None
            ]
            forecasts.append({"source": run.source, "issued": run.run_date.isoformat(), "points": values})
        return {
            "station": station,
            "type": chosen,
            "unit": "cfs",
            "stored_unit": unit,
            "start": begin.isoformat(),
            "end": stop.isoformat(),
            "first_stored": first.isoformat() if first else None,
            "last_stored": last.isoformat() if last else None,
            "truncated": truncated,
            "observed": [[when.isoformat(), value * factor] for when, value in points],
            "forecasts": forecasts,
        }

    return JSONResponse(_in_session(load))


def _observation_types_for(data_type: str) -> list[str]:
    if data_type in {t.value for t in OBSERVATION_TYPES}:
        others = sorted(t.value for t in OBSERVATION_TYPES if t.value != data_type)
        return [data_type, *others]
    return [DataType.REALTIME_15MIN.value, DataType.DAILY_MEAN.value]


# --------------------------------------------------------------------------- station search


@router.get("/stations/search", include_in_schema=False)
def station_search(request: Request) -> JSONResponse:
    params = request.query_params
    state = params.get("state", "").strip()
    huc = params.get("huc", "").strip()
    agency = params.get("agency", "").strip()
    text = params.get("text", "").strip()
    data_type = params.get("data_type", "")
    errors: dict[str, str] = {}
    if huc and not HUC2.match(huc):
        errors["huc"] = f"{huc!r} is not a 2-digit HUC region (01 to 21)"
    if len(text) > 100:
        errors["text"] = "search text is longer than 100 characters"

    def number(key: str, default: int, low: int, high: int) -> int:
        raw = params.get(key, "")
        if not raw:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            errors[key] = f"{key} must be a whole number from {low} to {high}"
            return default
        return int(raw)

    offset = number("offset", 0, 0, 10_000_000)
    limit = number("limit", SEARCH_PAGE, 1, SEARCH_MAX_LIMIT)

    def load(session: Session) -> dict[str, Any]:
        choices = _search_choices(session)
        if state and state.upper() not in {s.upper() for s in choices["states"]}:
            errors["state"] = f"no station in state or province {state!r}"
        if agency and agency.upper() not in {a.upper() for a in choices["agencies"]}:
            errors["agency"] = f"unknown agency {agency!r} (one of {', '.join(choices['agencies'])})"
        if errors:
            return {"errors": errors}
        filters = {"state": state, "huc": huc, "agency": agency, "text": text}
        total = count_master_stations(session, **filters)
        found = search_master_stations(session, **filters, offset=offset, limit=limit)
        numbers = [s.station_number for s in found]
        mapped = cfg_repo.noaa_mapped(session, numbers)
        return {
            "total": total,
            "offset": offset,
            "limit": limit,
            "forecast": data_type in {t.value for t in DataType if t.is_forecast},
            "results": [_station_json(s, s.station_number, s.station_number in mapped) for s in found],
        }

    body = _in_session(load)
    return JSONResponse(body, status_code=422 if "errors" in body else 200)


# --------------------------------------------------------------------------- health


@router.get("/health", response_class=HTMLResponse, include_in_schema=False)
def health_page(request: Request, user: GetUserDep) -> HTMLResponse:
    multiples = dict(DEFAULT_STALE_MULTIPLES)
    errors: dict[str, str] = {}
    for kind in multiples:
        raw = request.query_params.get(f"stale_{kind}")
        if raw:
            try:
                value = float(raw)
                if not 1 <= value <= 1000:
                    raise ValueError(raw)
                multiples[kind] = value
            except ValueError:
                errors[kind] = f"{raw!r}: give a number from 1 to 1000"
    now = datetime.now(UTC)

    def load(session: Session):
        configs = repo.list_configurations(session)
        intervals = {}
        for config in configs:
            interval = schedule_interval(config.schedule_type, config.schedule_value, now=now)
            if interval is not None and config.is_enabled:
                intervals[config.id] = interval
        return (
            cfg_repo.failing_stations(session),
            cfg_repo.stale_stations(session, intervals, multiples, now=now),
            cfg_repo.failed_runs(session, since=now - timedelta(hours=24)),
            len(configs),
        )

    failing, stale, failed, configs = _in_session(load)
    return _render(
        request,
        "health.html",
        user,
        failing=failing,
        stale=stale,
        failed=failed,
        configs=configs,
        multiples=multiples,
        multiple_errors=errors,
        now=now,
    )
