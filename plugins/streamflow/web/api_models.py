"""Response models of the read API (their JSON schemas and examples make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ObservationType = Literal["daily_mean", "realtime_15min"]
ForecastSource = Literal["NOAA_RFC", "NOAA_NWM_SHORT_RANGE", "NOAA_NWM_MEDIUM_RANGE", "NOAA_NWM_LONG_RANGE"]
UnitName = Literal["cfs", "cms"]

_INSTANT = "2024-01-01T00:00:00Z"


def _examples(*examples: dict) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class Problem(BaseModel):
    """An error (RFC 9457 problem details, ``application/problem+json``)."""

    model_config = _examples({
        "type": "urn:streamflow:problem:invalid-parameter", "title": "Invalid parameter", "status": 400,
        "detail": "datetime: '2024-02-01T00:00:00Z/2024-01-01T00:00:00Z': the start is after the end",
        "parameter": "datetime",
    })

    type: str = Field(description="A URI naming the kind of problem; `about:blank` when the status says it all")
    title: str
    status: int
    detail: str
    parameter: str | None = Field(None, description="The request parameter at fault, when one is")


class Link(BaseModel):
    rel: str = Field(description="`self`, `next`, `observations`, `forecasts`, `station`, …")
    href: str
    type: str | None = None


class Coverage(BaseModel):
    """What is stored for one data type: observations (rows) or forecast runs (runs, by issue time)."""

    data_type: str
    first: datetime
    last: datetime
    count: int = Field(description="Observation rows, or forecast runs")


class StationSummary(BaseModel):
    model_config = _examples({
        "station_number": "01646500", "name": "POTOMAC RIVER NEAR WASH, DC LITTLE FALLS PUMP STA", "agency": "USGS",
        "state": "MD", "huc_code": "02070008", "latitude": 38.9497, "longitude": -77.1275,
        "drainage_area_sqmi": 11560.0, "altitude_ft": 37.2,
        "coverage": [{"data_type": "daily_mean", "first": "2016-01-01T00:00:00Z", "last": "2026-11-28T00:00:00Z",
                      "count": 3985}],
    })

    station_number: str
    name: str | None = None
    agency: str | None = None
    state: str | None = None
    huc_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    drainage_area_sqmi: float | None = None
    altitude_ft: float | None = None
    coverage: list[Coverage] = Field(default_factory=list, description="Empty when nothing is stored")


class StationList(BaseModel):
    number_returned: int
    stations: list[StationSummary]
    links: list[Link]


class StationMapping(BaseModel):
    target_agency: str = Field(description="`NOAA-HADS` (NWS location id) or `NOAA-NWM` (reach id)")
    target_id: str


class ConfigurationRef(BaseModel):
    id: int
    name: str
    data_type: str
    is_enabled: bool
    dag_id: str


class StationDetail(StationSummary):
    mappings: list[StationMapping]
    configurations: list[ConfigurationRef] = Field(description="Pull configurations that include this station")
    links: list[Link]


class Observation(BaseModel):
    observed_at: datetime = Field(description="The instant (instantaneous values) or the day at 00:00 UTC (daily means)")
    type: str
    discharge: float
    unit: str = Field(description="The requested unit, or the stored unit when no conversion was asked for")
    quality_code: str | None = Field(description="`A` approved, `P` provisional, then the source's qualifiers")


class ObservationPage(BaseModel):
    model_config = _examples({
        "station_number": "01646500", "type": "daily_mean", "unit": "cms",
        "datetime": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "number_returned": 2,
        "observations": [
            {"observed_at": _INSTANT, "type": "daily_mean", "discharge": 311.485312512, "unit": "cms",
             "quality_code": "A"},
            {"observed_at": "2024-01-02T00:00:00Z", "type": "daily_mean", "discharge": 305.8219431936, "unit": "cms",
             "quality_code": "A"},
        ],
        "links": [{"rel": "self", "href": "/streamflow/api/v1/stations/01646500/observations?type=daily_mean",
                   "type": "application/json"}],
    })

    station_number: str
    type: str | None = Field(description="The `type` asked for; null = every observation type")
    unit: str | None = Field(description="The `unit` asked for; null = values as stored (each row names its unit)")
    datetime: str | None = Field(description="The interval asked for")
    number_returned: int
    observations: list[Observation]
    links: list[Link] = Field(description="`self`, and `next` while more rows follow")


class ForecastRunSummary(BaseModel):
    id: int
    source: str
    data_type: str
    run_date: datetime = Field(description="Issue / reference time of the forecast")
    unit: str | None
    rmse: float | None = Field(description="Verification score when the run has been verified")
    links: list[Link]


class ForecastRunList(BaseModel):
    station_number: str
    number_returned: int
    forecasts: list[ForecastRunSummary]
    links: list[Link]


class ForecastValue(BaseModel):
    valid_time: datetime
    lead_time_hours: float = Field(description="valid_time − run_date, in hours")
    value: float


class Forecast(BaseModel):
    model_config = _examples({
        "id": 1, "station_number": "01013500", "source": "NOAA_RFC", "data_type": "rfc_forecast",
        "run_date": "2026-11-20T12:00:00Z", "unit": "cfs", "rmse": None, "number_returned": 1,
        "values": [{"valid_time": "2026-11-20T18:00:00Z", "lead_time_hours": 6.0, "value": 1520.0}],
        "verification": [],
        "links": [{"rel": "self", "href": "/streamflow/api/v1/forecasts/1", "type": "application/json"}],
    })

    id: int
    station_number: str
    source: str
    data_type: str
    run_date: datetime
    unit: str | None = Field(description="The requested unit, or the stored unit when no conversion was asked for")
    rmse: float | None = Field(description="The whole run's RMSE once verified (in `unit`)")
    number_returned: int
    values: list[ForecastValue]
    verification: list[RunScore] = Field(description="The run's scores per lead-time bin, `all` last; empty "
                                                     "until observations reach its valid times")
    links: list[Link]


# --------------------------------------------------------------------------- verification

_SCORE_HELP = {
    "rmse": "Root-mean-square error of the forecast values against the paired observations",
    "mean_error": "Mean of forecast − observed (positive: the forecast ran high)",
    "mae": "Mean absolute error",
    "persistence_rmse": "RMSE of persistence (the last observation before the issue time) over the same pairs",
    "skill": "1 − RMSE / persistence RMSE: 1 is perfect, 0 no better than persistence, negative worse",
}


class RunScore(BaseModel):
    """The scores of one forecast run in one lead-time bin (``lead_bin`` ``all``: the whole run)."""

    lead_bin: str = Field(description="`0-6h`, `6-12h`, `12-24h`, `24-48h`, `48-72h`, then a day each; `all`")
    lead_start_hours: int = Field(description="Leads ℓ with start < ℓ ≤ end are in the bin (ℓ = 0 in the first)")
    lead_end_hours: int
    status: Literal["complete", "partial"] = Field(
        description="`partial` until the observations reach the run's last valid time")
    observation_type: str = Field(description="The observations the values were paired with")
    n_pairs: int
    pairs_dropped: int = Field(description="Forecast values without an observation to pair with")
    rmse: float | None = Field(description=_SCORE_HELP["rmse"])
    mean_error: float | None = Field(description=_SCORE_HELP["mean_error"])
    mae: float | None = Field(description=_SCORE_HELP["mae"])
    nse: float | None = Field(description="Nash–Sutcliffe efficiency (null when the observations are constant)")
    kge: float | None = Field(description="Kling–Gupta efficiency, 2009 (null when undefined)")
    persistence_rmse: float | None = Field(description=_SCORE_HELP["persistence_rmse"])
    skill: float | None = Field(description=_SCORE_HELP["skill"])
    verified_at: datetime


class LeadTimeSkill(BaseModel):
    """Scores of many runs in one lead-time bin, pooled over their pairs."""

    lead_bin: str
    lead_start_hours: int
    lead_end_hours: int
    runs: int = Field(description="Runs with at least one pair in the bin")
    runs_complete: int
    n_pairs: int
    rmse: float | None = Field(description=_SCORE_HELP["rmse"] + ", pooled over every pair of the runs")
    mean_error: float | None = Field(description=_SCORE_HELP["mean_error"] + ", pooled")
    mae: float | None = Field(description=_SCORE_HELP["mae"] + ", pooled")
    persistence_rmse: float | None = Field(description=_SCORE_HELP["persistence_rmse"] + ", pooled")
    skill: float | None = Field(description="1 − pooled RMSE / pooled persistence RMSE (runs with a persistence "
                                            "reference)")
    nse_mean: float | None = Field(description="Mean of the runs' NSE (NSE cannot be pooled exactly)")
    kge_mean: float | None = Field(description="Mean of the runs' KGE")


class SourceSkill(BaseModel):
    source: ForecastSource
    data_type: str
    unit: UnitName = Field(description="Unit of rmse, mean_error, mae and persistence_rmse")
    lead_times: list[LeadTimeSkill] = Field(description="One entry per lead-time bin, in lead order")
    overall: LeadTimeSkill | None = Field(description="The whole runs (bin `all`)")


class VerificationSummary(BaseModel):
    model_config = _examples({
        "station_number": "01013500", "datetime": "2026-11-01T00:00:00Z/..", "include_partial": True,
        "sources": [{
            "source": "NOAA_RFC", "data_type": "rfc_forecast", "unit": "cfs",
            "lead_times": [{"lead_bin": "0-6h", "lead_start_hours": 0, "lead_end_hours": 6, "runs": 12,
                            "runs_complete": 12, "n_pairs": 12, "rmse": 41.5, "mean_error": -12.0, "mae": 30.2,
                            "persistence_rmse": 88.0, "skill": 0.528, "nse_mean": None, "kge_mean": None}],
            "overall": {"lead_bin": "all", "lead_start_hours": 0, "lead_end_hours": 6, "runs": 12,
                        "runs_complete": 12, "n_pairs": 12, "rmse": 41.5, "mean_error": -12.0, "mae": 30.2,
                        "persistence_rmse": 88.0, "skill": 0.528, "nse_mean": None, "kge_mean": None},
        }],
        "links": [{"rel": "self", "href": "/streamflow/api/v1/verification?station=01013500",
                   "type": "application/json"}],
    })

    station_number: str
    datetime: str | None = Field(description="The issue-time interval asked for (runs issued in it are pooled)")
    include_partial: bool = Field(description="Whether runs not yet fully observed are included")
    sources: list[SourceSkill] = Field(description="Each forecast source with verified runs (none: nothing "
                                                   "verified yet)")
    links: list[Link]


Forecast.model_rebuild()  # it names RunScore, defined after it
