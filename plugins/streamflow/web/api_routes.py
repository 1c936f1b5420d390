"""Routes of the read API (mounted at ``/streamflow/api/v1`` by ``streamflow.web.api``).

HTTP only: parameters are parsed and checked here, the queries are ``streamflow.db.read``'s.
Each route reads at most ``limit`` rows (a forecast: its one stored run); pages are keyset pages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar, get_args

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic_core import to_json
from sqlalchemy.orm import Session

from streamflow.configurations import dag_id_for
from streamflow.errors import ConfigurationError
from streamflow.db import read, verification
from streamflow.db.engine import get_engine
from streamflow.db.models import Station
from streamflow.db.stations import StationFilters
from streamflow.verification.metrics import ALL
from streamflow.web import api_models as m
from streamflow.web.api_params import bad, decode_cursor, encode_cursor, not_found, parse_bbox, parse_interval

router = APIRouter()
T = TypeVar("T")

MAX_LIMIT = 50_000
DEFAULT_LIMIT = 1_000
STATIONS_MAX_LIMIT = 1_000
STATIONS_DEFAULT_LIMIT = 100
JSON = "application/json"
NO_CONTROL = r"^[^\x00-\x1f]*$"  # no NUL or other control characters (PostgreSQL text cannot hold NUL)
CSV = "text/csv"

StationNumber = Annotated[str, Path(description="The agency's own station id", pattern=r"^[A-Za-z0-9_.-]{1,50}$",
                                    examples=["01646500"])]
Interval = Annotated[str | None, Query(
    alias="datetime", max_length=200,
    description="RFC 3339 instant or closed interval `start/end`; `..` (or nothing) for an open end",
    examples=["2024-01-01T00:00:00Z/2024-02-01T00:00:00Z"],
)]
Cursor = Annotated[str | None, Query(max_length=500, description="Opaque; take it from a `next` link")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page (at most 50,000)")]
UnitParam = Annotated[m.UnitName | None, Query(description="Convert values to this unit (exact factor); "
                                               "omitted = as stored, each row naming its unit")]


@contextmanager
def _session() -> Iterator[Session]:
    with Session(get_engine()) as session:
        yield session


def _link(rel: str, href: str, type_: str = JSON) -> m.Link:
    return m.Link(rel=rel, href=href, type=type_)


def _next_url(request: Request, token: str) -> str:
    return str(request.url.include_query_params(cursor=token))


def _link_header(url: str | None) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="next"'} if url else {}


def _json(model: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(model.model_dump_json(), media_type=JSON, headers=headers)


def _station_row(session: Session, station_number: str) -> Station | None:
    """The station's row (None when it has no data yet but is in the master list); 404 when unknown."""
    station = read.find_station(session, station_number)
    if station is None and read.find_master_station(session, station_number) is None:
        raise not_found(f"station {station_number!r} is neither in the master station list nor in the stored data")
    return station


def _after(cursor: str | None, scope: dict[str, Any], make: Callable[[list[Any]], T]) -> T | None:
    """The key a cursor carries, built by ``make`` (400 naming ``cursor`` when it does not fit)."""
    if not cursor:
        return None
    key = decode_cursor(cursor, scope)
    try:
        return make(key)
    except (IndexError, TypeError, ValueError):
        raise bad("cursor", cursor, "malformed cursor") from None


def _station_key(key: list[Any]) -> str:
    if len(key) != 1 or not isinstance(key[0], str):
        raise ValueError("a station list cursor holds one station number")
    return key[0]


def _coverage(items: list[read.Coverage]) -> list[m.Coverage]:
    return [m.Coverage(data_type=c.data_type, first=c.first, last=c.last, count=c.count) for c in items]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + request.scope.get("root_path", "")


# --------------------------------------------------------------------------- stations


@router.get("/stations", response_model=m.StationList, summary="Search stations",
            description="The master station list plus any station with stored data, ordered by station number. "
                        "Filters combine (all must match).")
def list_stations(
    request: Request,
    agency: Annotated[str | None, Query(pattern=r"^(?i:usgs|ec)$", description="`USGS` or `EC`")] = None,
    state: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{1,10}$",
                                       description="State or province code, e.g. `VA`, `BC`")] = None,
    huc: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$", description="HUC prefix; 2 digits = region")] = None,
    text: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL,
                                      description="Part of the name or station number")] = None,
    bbox: Annotated[str | None, Query(max_length=200, description="`min_lon,min_lat,max_lon,max_lat` (degrees)",
                                      examples=["-78,38,-76,40"])] = None,
    limit: Annotated[int, Query(ge=1, le=STATIONS_MAX_LIMIT, description="Stations per page (at most 1,000)")]
    = STATIONS_DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    try:
        filters = StationFilters(agency=agency, state=(state or "").strip() or None, huc=huc,
                                 text=(text or "").strip() or None, bbox=parse_bbox(bbox))
    except ConfigurationError as exc:  # an unknown state/province code or a malformed HUC
        parameter = "huc" if "HUC" in str(exc) else "state"
        raise bad(parameter, huc if parameter == "huc" else state, str(exc)) from None
    scope = {"route": "stations", "agency": (agency or "").upper(), "state": filters.state, "huc": huc,
             "text": filters.text, "bbox": filters.bbox}
    after = _after(cursor, scope, _station_key)
    with _session() as session:
        rows = read.list_stations(session, filters, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        cover = read.coverage(session, [r.station_number for r in rows])
    stations = [
        m.StationSummary(**{k: getattr(r, k) for k in m.StationSummary.model_fields if k != "coverage"},
                         coverage=_coverage(cover[r.station_number]))
        for r in rows
    ]
    links = [_link("self", str(request.url))]
    next_url = _next_url(request, encode_cursor([rows[-1].station_number], scope)) if more else None
    if next_url:
        links.append(_link("next", next_url))
    return _json(m.StationList(number_returned=len(stations), stations=stations, links=links), _link_header(next_url))


@router.get("/stations/{station_number}", response_model=m.StationDetail, summary="One station",
            description="Metadata, ID mappings, stored coverage and the configurations that pull the station.")
def get_station(request: Request, station_number: StationNumber) -> Response:
    with _session() as session:
        station = _station_row(session, station_number)
        master = read.find_master_station(session, station_number)
        cover = read.coverage(session, [station_number])[station_number]
        mappings = read.station_mappings(session, station_number)
        configs = read.configurations_pulling(session, station_number)
    meta: dict[str, Any] = {}
    if station is not None:
        meta = {"name": station.name, "agency": station.agency, "state": station.state, "huc_code": station.huc_code,
                "latitude": station.latitude, "longitude": station.longitude}
    if master is not None:
        meta = {"name": master.station_name, "agency": master.agency, "state": master.state_code,
                "huc_code": master.huc_code, "latitude": master.latitude, "longitude": master.longitude,
                "drainage_area_sqmi": master.drainage_area_sqmi, "altitude_ft": master.altitude_ft}
    here = str(request.url.remove_query_params(list(request.query_params.keys())))
    detail = m.StationDetail(
        station_number=station_number, **meta, coverage=_coverage(cover),
        mappings=[m.StationMapping(target_agency=x.target_agency, target_id=x.target_id) for x in mappings],
        configurations=[m.ConfigurationRef(id=c.id, name=c.name, data_type=c.data_type, is_enabled=bool(c.is_enabled),
                                           dag_id=dag_id_for(c.id)) for c in configs],
        links=[_link("self", here), _link("observations", f"{here}/observations"),
               _link("forecasts", f"{here}/forecasts"),
               _link("verification", f"{_base(request)}/verification?station={station_number}")],
    )
    return _json(detail)


# --------------------------------------------------------------------------- observations

_OBSERVATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {CSV: {"schema": {"type": "string"},
                            "example": "station_number,observed_at,type,discharge,unit,quality_code\n"
                                       "01646500,2024-01-01T00:00:00Z,daily_mean,11000,cfs,A\n"}},
          "description": "A page of observations (JSON), or the same page as CSV with `f=csv`; "
                         "the `next` page's URL is also in the `Link` header"},
}


@router.get("/stations/{station_number}/observations", response_model=m.ObservationPage,
            responses=_OBSERVATION_RESPONSES, summary="Observed discharge of a station",
            description="Ordered by (observed_at, type). Interval ends are inclusive. A `next` link continues "
                        "the result after the last row of this page, also while new rows arrive.")
def get_observations(
    request: Request,
    station_number: StationNumber,
    type: Annotated[m.ObservationType | None, Query(description="Data type; omitted = both")] = None,
    interval: Interval = None,
    unit: UnitParam = None,
    quality: Annotated[str | None, Query(pattern=r"^[AP]$",
                                         description="Approval state: `A` approved, `P` provisional")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    f: Annotated[str, Query(pattern=r"^(json|csv)$", description="`json` (default) or `csv`")] = "json",
) -> Response:
    window = parse_interval(interval)
    scope = {"route": "observations", "station": station_number, "type": type, "start": window.start,
             "end": window.end, "quality": quality}
    after = _after(cursor, scope, lambda key: read.ObservationKey(datetime.fromisoformat(key[0]), str(key[1])))
    with _session() as session:
        station = _station_row(session, station_number)
        query = read.ObservationQuery(
            station_id=station.id if station is not None else -1, data_type=type, interval=window, quality=quality,
            unit=unit, after=after,
        )
        if f == "csv":
            end = read.observation_page_end(session, query, limit)
        else:
            rows, more = read.observation_page(session, query, limit)
    if f == "csv":
        next_url = _next_url(request, encode_cursor([end.observed_at.isoformat(), end.type], scope)) if end else None
        bounded = dataclasses.replace(query, through=end)
        return StreamingResponse(
            read.stream_observations_csv(get_engine(), bounded, station_number, limit),
            media_type=f"{CSV}; charset=utf-8",
            headers={**_link_header(next_url),
                     "Content-Disposition": f'attachment; filename="{station_number}_observations.csv"'},
        )
    links = [_link("self", str(request.url))]
    next_url = None
    if more:
        last = rows[-1]
        next_url = _next_url(request, encode_cursor([last.observed_at.isoformat(), last.type], scope))
        links.append(_link("next", next_url))
    # Up to 50,000 rows: serialized straight from the rows (no model per row), in the shape of
    # m.ObservationPage — tests check the body against the OpenAPI schema.
    body = {
        "station_number": station_number, "type": type, "unit": unit, "datetime": interval,
        "number_returned": len(rows),
        "observations": [{"observed_at": t, "type": kind, "discharge": v, "unit": u, "quality_code": q}
                         for t, kind, v, u, q in rows],
        "links": [link.model_dump() for link in links],
    }
    return Response(to_json(body), media_type=JSON, headers=_link_header(next_url))


# --------------------------------------------------------------------------- forecasts


def _data_type(source: str) -> str:
    return read.DATA_TYPE_OF_SOURCE.get(source, source)


@router.get("/stations/{station_number}/forecasts", response_model=m.ForecastRunList,
            summary="Forecast runs of a station",
            description="Runs (without their values) ordered by issue time; `datetime` filters the issue time.")
def list_forecasts(
    request: Request,
    station_number: StationNumber,
    source: Annotated[m.ForecastSource | None, Query(description="Forecast source; omitted = all")] = None,
    interval: Interval = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    window = parse_interval(interval)
    scope = {"route": "forecasts", "station": station_number, "source": source, "start": window.start,
             "end": window.end}
    after = _after(cursor, scope, lambda key: read.ForecastRunKey(datetime.fromisoformat(key[0]), int(key[1])))
    with _session() as session:
        station = _station_row(session, station_number)
        rows, more = ([], False) if station is None else read.forecast_runs(
            session, station.id, source=source, interval=window, after=after, limit=limit)
    root = _base(request)
    runs = [
        m.ForecastRunSummary(id=r.id, source=r.source, data_type=_data_type(r.source), run_date=r.run_date,
                             unit=r.unit, rmse=r.rmse, links=[_link("self", f"{root}/forecasts/{r.id}")])
        for r in rows
    ]
    links = [_link("self", str(request.url))]
    next_url = _next_url(request, encode_cursor([rows[-1].run_date.isoformat(), rows[-1].id], scope)) if more else None
    if next_url:
        links.append(_link("next", next_url))
    body = m.ForecastRunList(station_number=station_number, number_returned=len(runs), forecasts=runs, links=links)
    return _json(body, _link_header(next_url))


def _score(value: float | None, stored: str | None, unit: str | None) -> float | None:
    """An error score (RMSE, ME, MAE) in the requested unit: it scales like the values."""
    return None if value is None else read.convert(value, stored, unit)[0]


def _run_score(row: Any, unit: str | None) -> m.RunScore:
    scaled = {k: _score(getattr(row, k), row.unit, unit) for k in ("rmse", "mean_error", "mae", "persistence_rmse")}
    return m.RunScore(
        lead_bin=row.lead_bin, lead_start_hours=row.lead_start_hours, lead_end_hours=row.lead_end_hours,
        status=row.status, observation_type=row.observation_type, n_pairs=row.n_pairs,
        pairs_dropped=row.pairs_dropped, nse=row.nse, kge=row.kge, skill=row.skill, verified_at=row.verified_at,
        **scaled,
    )


def _forecast(request: Request, run: Any, station_number: str, unit: str | None, scores: list[Any]) -> Response:
    values = []
    for item in run.data or []:
        valid = read_instant(item.get("valid_time"))
        raw = item.get("value")
        if valid is None or not isinstance(raw, int | float):
            continue
        value, _unit = read.convert(float(raw), run.unit, unit)
        values.append(m.ForecastValue(valid_time=valid, lead_time_hours=(valid - run.run_date).total_seconds() / 3600,
                                      value=value))
    _value, shown_unit = read.convert(0.0, run.unit, unit)
    body = m.Forecast(
        id=run.id, station_number=station_number, source=run.source, data_type=_data_type(run.source),
        run_date=run.run_date, unit=shown_unit, rmse=_score(run.rmse, run.unit, unit), number_returned=len(values),
        values=values, verification=[_run_score(row, unit) for row in scores],
        links=[_link("self", f"{_base(request)}/forecasts/{run.id}"),
               _link("station", f"{_base(request)}/stations/{station_number}")],
    )
    return _json(body)


def read_instant(text: object) -> datetime | None:
    """A stored forecast value's valid time (ISO with Z), or None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@router.get("/stations/{station_number}/forecasts/latest", response_model=m.Forecast,
            summary="The latest forecast run of a station",
            description="The run with the latest issue time (of one `source` when given), with its values.")
def latest_forecast(
    request: Request,
    station_number: StationNumber,
    source: Annotated[m.ForecastSource | None, Query(description="Forecast source; omitted = any")] = None,
    unit: UnitParam = None,
) -> Response:
    with _session() as session:
        station = _station_row(session, station_number)
        run = None if station is None else read.latest_forecast_run(session, station.id, source)
        scores = [] if run is None else verification.verification_rows(session, run.id)
    if run is None:
        raise not_found(f"station {station_number!r} has no stored forecast" + (f" from {source}" if source else ""))
    return _forecast(request, run, station_number, unit, scores)


@router.get("/forecasts/{forecast_id}", response_model=m.Forecast, summary="One forecast run with its values",
            description="Values with valid times and lead times (hours after the issue time).")
def get_forecast(
    request: Request,
    forecast_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The run's id (from a forecast list)")],
    unit: UnitParam = None,
) -> Response:
    with _session() as session:
        found = read.forecast_run(session, forecast_id)
        scores = [] if found is None else verification.verification_rows(session, forecast_id)
    if found is None:
        raise not_found(f"no forecast run with id {forecast_id}")
    run, station_number = found
    return _forecast(request, run, station_number, unit, scores)


# --------------------------------------------------------------------------- verification


@router.get("/verification", response_model=m.VerificationSummary, summary="Forecast skill of a station by lead time",
            description="The verified forecast runs of one station issued in `datetime` (all when omitted), "
                        "scored per lead-time bin and pooled over the runs, for each source (or one `source`). "
                        "Pairing rule and scores: forecast value vs the observation at its valid time (the mean "
                        "of the instantaneous values over a coarser step, the daily mean for daily steps); "
                        "persistence = the last observation before the issue time.")
def get_verification(
    request: Request,
    station: Annotated[str, Query(description="The agency's own station id", pattern=r"^[A-Za-z0-9_.-]{1,50}$",
                                  examples=["01013500"])],
    source: Annotated[m.ForecastSource | None, Query(description="Forecast source; omitted = every source")] = None,
    interval: Annotated[str | None, Query(
        alias="datetime", max_length=200,
        description="Issue times of the runs to pool: RFC 3339 instant or interval `start/end` (inclusive), "
                    "`..` for an open end", examples=["2026-11-01T00:00:00Z/.."],
    )] = None,
    unit: Annotated[m.UnitName | None, Query(description="Unit of the error scores; omitted = as stored")] = None,
    include_partial: Annotated[bool, Query(description="Include runs whose horizon is not fully observed yet")]
    = True,
) -> Response:
    window = parse_interval(interval)
    sources = [source] if source else list(get_args(m.ForecastSource))
    found: list[m.SourceSkill] = []
    with _session() as session:
        _station_row(session, station)
        for name in sources:
            bins = verification.verification_summary(session, station, name, window.start, window.end,
                                                     include_partial=include_partial, unit=unit)
            if not bins:
                continue
            skills = [m.LeadTimeSkill(**{k: b[k] for k in m.LeadTimeSkill.model_fields}) for b in bins]
            whole = [s for s in skills if s.lead_bin == ALL]
            found.append(m.SourceSkill(source=name, data_type=_data_type(name), unit=bins[0]["unit"],
                                       lead_times=[s for s in skills if s.lead_bin != ALL],
                                       overall=whole[0] if whole else None))
    body = m.VerificationSummary(station_number=station, datetime=interval, include_partial=include_partial,
                                 sources=found, links=[_link("self", str(request.url)),
                                                       _link("station", f"{_base(request)}/stations/{station}")])
    return _json(body)
