"""NOAA National Water Prediction Service (NWPS): gauge metadata, RFC forecasts, NWM forecasts.

Endpoints (base ``https://api.water.noaa.gov``, connection ``noaa_nwps``, no API key):

* ``/nwps/v1/gauges/{lid}`` — gauge metadata: the NWS location id (LID), USGS id, NWM reach id.
* ``/nwps/v1/gauges/{lid}/stageflow/forecast`` — the official River Forecast Center forecast.
  Run = the block's ``issuedTime``; flow = ``secondary`` in the block's ``secondaryUnits``
  (usually ``kcfs``; the gauge's flood metadata says ``cfs`` — never read the unit from there).
* ``/nwps/v1/reaches/{reachId}/streamflow?series=short_range|medium_range|long_range`` — the
  National Water Model. Run = the series' ``referenceTime``; flow in ``units`` (``ft³/s``).

NWPS spellings (``lid``, ``usgsId``, ``issuedTime``, ``secondary``, ``validTime``, ...) stay in
:mod:`streamflow.parsers.noaa` (pure); this hook keeps HTTP and error mapping, and callers get
``ForecastRunData`` in cfs with UTC times. ``docs/sources.md`` (NOAA
section) describes the rules: sentinels, units, which NWM member is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from streamflow.canonical import ForecastRunData
from streamflow.errors import (
    ConfigurationError,
    PayloadError,
    SourceError,
    StationNotFoundError,
    redact_url,
    short_url,
)
from streamflow.provider import connection_form
from streamflow.hooks.base import StreamflowHttpHook
from streamflow.parsers.noaa import (
    NWM_FALLBACK_MEMBER,
    nwm_block,
    nwm_members,
    parse_gauge,
    parse_nwm_run,
    parse_rfc_forecast,
)
from streamflow.vocabulary import DataType, Source

API_PREFIX = "/nwps/v1"

# data_type -> (the ``series`` query value, the key of that series in the answer)
NWM_SERIES: dict[DataType, tuple[str, str]] = {
    DataType.NWM_SHORT_RANGE: ("short_range", "shortRange"),
    DataType.NWM_MEDIUM_RANGE: ("medium_range", "mediumRange"),
    DataType.NWM_LONG_RANGE: ("long_range", "longRange"),
}
class NoaaNwpsHook(StreamflowHttpHook):
    """Talks to the NOAA National Water Prediction Service API (``/nwps/v1``).

    Every error names source ``noaa`` and *our* station id (USGS/EC), plus the NWPS gauge or
    reach it asked for. 404 → :class:`StationNotFoundError`; 429/5xx/timeouts/cut-off bodies →
    :class:`TransientSourceError`; a body that does not parse → :class:`PayloadError`.
    """

    conn_name_attr = "conn_id"
    default_conn_name = "noaa_nwps"
    conn_type = "streamflow_noaa_nwps"
    hook_name = connection_form(conn_type).display_name
    default_host = connection_form(conn_type).default_host
    source = Source.NOAA.value

    def __init__(self, conn_id: str | None = None, *, timeout: tuple[float, float] | None = None) -> None:
        super().__init__(conn_id, timeout=timeout)
        #: Non-finite flow values (NaN, ±inf, overflows) dropped from answers so far; the pull
        #: adds the difference to the station's outcome.
        self.values_dropped = 0

    def _dropped(self, station: str, what: str, count: int) -> None:
        if count:
            self.values_dropped += count
            self.log.warning(
                "noaa: station %s: %s: %d non-finite flow value(s) (NaN/inf/overflow) dropped", station, what, count
            )

    # ------------------------------------------------------------------ public API

    def get_gauge(self, lid: str, *, station_number: str | None = None) -> dict[str, Any]:
        """Metadata of one NWPS gauge (``lid`` may also be the USGS site number NWPS knows).

        Returns ``lid, usgs_id, reach_id, name, time_zone, rfc`` as strings and ``latitude,
        longitude`` as floats; each is ``None`` when NWPS leaves it empty or writes a sentinel.
        """
        lid = self._require_id(lid, "gauge id (LID)", station_number)
        station = station_number or lid
        path = self._path("gauges", lid)
        doc = self._fetch(path, station=station, what=f"gauge {lid}")
        with self._payload(station, path):
            gauge = parse_gauge(doc, lid)
        self.log.info(
            "noaa: station %s: NWPS gauge %s (usgs %s, reach %s, rfc %s)",
            station,
            gauge["lid"],
            gauge["usgs_id"],
            gauge["reach_id"],
            gauge["rfc"],
        )
        return gauge

    def get_rfc_forecast(self, lid: str, *, station_number: str) -> ForecastRunData | None:
        """The River Forecast Center's current flow forecast for gauge ``lid``, in cfs.

        ``None`` when the gauge has no forecast (no data points, or a stage-only forecast whose
        flows are all missing): no data is not an error.
        """
        station = self._require_id(station_number, "station number", None)
        lid = self._require_id(lid, "gauge id (LID)", station)
        path = self._path("gauges", lid, "stageflow", "forecast")
        doc = self._fetch(path, station=station, what=f"gauge {lid}")
        with self._payload(station, path):
            run, points, dropped, non_finite, units = parse_rfc_forecast(doc, lid=lid, station=station)
        self._dropped(station, f"RFC forecast of gauge {lid}", non_finite)
        if run is None:
            self.log.info(
                "noaa: station %s: NWPS gauge %s has no flow forecast (%d points, %d missing)",
                station,
                lid,
                points,
                dropped,
            )
            return None
        self.log.info(
            "noaa: station %s: RFC forecast for gauge %s issued %s: %d values (%d missing dropped), %s → cfs",
            station,
            lid,
            run.run_date.isoformat(),
            len(run.values),
            dropped,
            units,
        )
        return run

    def get_nwm_forecast(
        self,
        reach_id: str,
        data_type: DataType | str,
        *,
        station_number: str,
        include_members: bool = False,
    ) -> list[ForecastRunData]:
        """The current National Water Model run for ``reach_id``, in cfs.

        Returns one ``ForecastRunData`` per run: the deterministic series (short range) or the
        ensemble mean (medium/long range), ``member=None``. NWPS holds one run per series, so
        the list has at most one item; ``[]`` when NWPS has no data for the series.
        ``include_members=True`` appends every ``memberN`` as its own ``ForecastRunData``
        (``member="member1"``, ...); the database keeps one row per (station, source, run), so
        operators leave it off.
        """
        station = self._require_id(station_number, "station number", None)
        reach = self._require_id(reach_id, "NWM reach id", station)
        try:
            kind = DataType(data_type)
            series, key = NWM_SERIES[kind]
        except (ValueError, KeyError):
            choices = ", ".join(t.value for t in NWM_SERIES)
            raise ConfigurationError(
                f"{str(data_type)!r} is not an NWM forecast type (one of {choices})",
                source=self.source,
                station_number=station,
            ) from None
        path = self._path("reaches", reach, "streamflow")
        doc = self._fetch(path, station=station, what=f"NWM reach {reach}", params={"series": series})
        with self._payload(station, path):
            block = nwm_block(doc, key=key, reach=reach)
        if block is None:
            self.log.info("noaa: station %s: NWM reach %s has no %s forecast", station, reach, series)
            return []
        with self._payload(station, path):
            primary, members, fell_back = nwm_members(block, key=key, reach=reach)
        if fell_back:
            self.log.warning(
                "noaa: station %s: NWM reach %s %s has no deterministic/mean series; using %s",
                station,
                reach,
                series,
                NWM_FALLBACK_MEMBER,
            )
        wanted = [primary] + ([m for m in members if m != primary] if include_members else [])
        with self._payload(station, path):
            parsed = [
                parse_nwm_run(block[name], name=name, data_type=kind, station=station, reach=reach, key=key)
                for name in wanted
            ]
        self._dropped(station, f"NWM {series} of reach {reach}", sum(count for _, count in parsed))
        runs = [run for run, _ in parsed if run is not None]
        if runs:
            self.log.info(
                "noaa: station %s: NWM %s for reach %s, run %s: %d values (%s; %d members %s)",
                station,
                series,
                reach,
                runs[0].run_date.isoformat(),
                len(runs[0].values),
                primary,
                len(members),
                "kept" if include_members else "not stored",
            )
        else:
            self.log.info("noaa: station %s: NWM reach %s has no %s flow values", station, reach, series)
        return runs

    # ------------------------------------------------------------------ plumbing

    def _path(self, *segments: str) -> str:
        # A connection host that already ends in /nwps/v1 is accepted as well.
        prefix = "" if self.base_url.endswith(API_PREFIX) else API_PREFIX
        return prefix + "/" + "/".join(quote(s, safe="") for s in segments)

    def _fetch(self, path: str, *, station: str, what: str, params: dict | None = None) -> Any:
        """GET JSON; a 404 means NWPS does not know the gauge/reach (its body: code 5, "could not find")."""
        try:
            return self.get_json(
                path, station_number=station, params=params, not_found_means_unknown_station=False
            )
        except SourceError as exc:
            if exc.status_code == 404:
                raise StationNotFoundError(
                    f"NWPS does not know {what}: {exc.reason}",
                    source=self.source,
                    station_number=station,
                    status_code=404,
                    url=exc.url,
                ) from exc
            raise

    def _require_id(self, value: Any, label: str, station: str | None) -> str:
        text = str(value).strip() if value is not None else ""
        if not text:
            raise ConfigurationError(f"{label} is empty", source=self.source, station_number=station)
        return text

    @contextmanager
    def _payload(self, station: str, path: str) -> Iterator[None]:
        """A parser's ``PayloadError`` leaves naming source, station and the URL it came from."""
        try:
            yield
        except PayloadError as exc:
            url = self.url(path)
            raise PayloadError(
                f"{exc.reason} ({short_url(redact_url(url))})", source=self.source, station_number=station, url=url
            ) from None
