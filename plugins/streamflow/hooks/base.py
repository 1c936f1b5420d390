"""What every source hook shares.

* :class:`ObservationHook`: the one method set the station pull uses (``source``,
  ``fetch_observations``, ``max_chunk``, ``earliest``, ``station_metadata``). A hook fetches the
  chunk it is given and never re-chunks: the window is cut once, by the pull
  (:func:`streamflow.windows.chunk_window`); a longer one is a ``ConfigurationError``.
* :class:`StreamflowHttpHook`: HTTP plumbing, connection → base URL, status → our exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from streamflow import __version__
from streamflow.configurations import StationSpec
from streamflow.errors import (
    ConfigurationError,
    PayloadError,
    TransientSourceError,
    error_for_status,
    parse_retry_after,
    redact_url,
    short_url,
)
from streamflow.provider import ui_field_behaviour
from streamflow.timeutil import as_utc
from streamflow.vocabulary import DataType

if TYPE_CHECKING:
    import pandas as pd

USER_AGENT = f"streamflow-dataops/{__version__} (+https://github.com/streamflow-dataops)"


@dataclass(frozen=True)
class PullStation(StationSpec):
    """A station as a pull task sees it: the configured spec plus facts from ``master_stations``.

    ``region`` is the state or province code (``MD``, ``BC``) for every agency; the ECCC hook
    reads its Datamart folder from it.
    """

    region: str | None = None


class ObservationHook:
    """The method set every observation hook offers; the station pull talks to sources only through it."""

    source: str = ""

    def max_chunk(self, data_type: DataType | str) -> timedelta:
        """Longest window (end - start) one :meth:`fetch_observations` call may cover."""
        raise NotImplementedError

    def earliest(self, data_type: DataType | str, now: datetime) -> datetime | None:
        """The oldest instant the service still serves (the window planner clamps to it); ``None`` = no limit."""
        return None

    def station_metadata(self, station: StationSpec) -> dict[str, Any] | None:
        """Name, position, time zone, region ... of the station, for its ``stations`` row."""
        raise NotImplementedError

    def fetch_observations(
        self, station: StationSpec, data_type: DataType | str, start: datetime, end: datetime
    ) -> pd.DataFrame:
        """The station's observations in ``[start, end]`` as the canonical frame (one chunk, one fetch)."""
        kind = DataType(data_type)
        start, end = self.chunk_bounds(kind, start, end, station_number=station.station_number)
        return self._fetch_observations(station, kind, start, end)

    def _fetch_observations(
        self, station: StationSpec, data_type: DataType, start: datetime, end: datetime
    ) -> pd.DataFrame:
        raise NotImplementedError

    def chunk_bounds(
        self, data_type: DataType | str, start: datetime, end: datetime, *, station_number: str | None = None
    ) -> tuple[datetime, datetime]:
        """``start``, ``end`` in UTC, refused (``ConfigurationError``) when naive, reversed or longer than a chunk."""
        start = as_utc(start, "start", source=self.source, station_number=station_number)
        end = as_utc(end, "end", source=self.source, station_number=station_number)
        if start > end:
            raise ConfigurationError(
                f"start {start.isoformat()} is after end {end.isoformat()}",
                source=self.source,
                station_number=station_number,
            )
        limit = self.max_chunk(data_type)
        if end - start > limit:
            raise ConfigurationError(
                f"window {start.isoformat()} → {end.isoformat()} is longer than one {DataType(data_type).value} "
                f"chunk ({limit.days} days); chunk it with streamflow.windows.chunk_window",
                source=self.source,
                station_number=station_number,
            )
        return start, end


class StreamflowHttpHook(BaseHook):
    """Base for hooks that talk HTTP to one public service.

    A missing connection means "use the public default"; a connection whose host is set sends every
    request of the service there (tests point the hooks at a local replay server this way).
    The connection's password, when set, is the service's API key.
    """

    conn_name_attr = "conn_id"
    default_conn_name = ""
    conn_type = "http"
    hook_name = ""
    default_host = ""
    source = ""
    timeout: tuple[float, float] = (10.0, 120.0)  # connect, read

    def __init__(self, conn_id: str | None = None, *, timeout: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        if timeout is not None:
            self.timeout = timeout

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden/relabelled fields and placeholders of this type's connection form.

        Declared once in :mod:`streamflow.provider` (Airflow 3.3 reads it from the provider info
        there without importing hooks); this method returns the same declaration.
        """
        return ui_field_behaviour(cls.conn_type)

    @cached_property
    def connection(self):
        """The Airflow connection, or ``None`` when it is not defined (public default)."""
        try:
            return self.get_connection(self.conn_id)
        except AirflowNotFoundException:
            return None

    @cached_property
    def base_url(self) -> str:
        conn = self.connection
        if conn is None or not conn.host:
            return self.default_host.rstrip("/")
        host = conn.host.strip()
        if "://" not in host:
            scheme = conn.schema or "https"
            host = f"{scheme}://{host}"
        if conn.port and host.count(":") < 2:
            host = f"{host}:{conn.port}"
        return host.rstrip("/")

    @property
    def api_key(self) -> str | None:
        conn = self.connection
        return (conn.password or None) if conn is not None else None

    @cached_property
    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        return session

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        path: str,
        *,
        station_number: str | None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        not_found_means_unknown_station: bool = True,
    ) -> requests.Response:
        """GET ``path``; any non-2xx, timeout or broken connection becomes our exception."""
        url = self.url(path)
        self.log.debug("%s: GET %s params=%s", self.source, redact_url(url), params)
        try:
            response = self.session.get(url, params=params, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise TransientSourceError(
                f"timed out ({short_url(redact_url(url))})", source=self.source, station_number=station_number, url=url
            ) from exc
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            what = "cut off" if isinstance(exc, requests.exceptions.ChunkedEncodingError) else "does not decode"
            raise TransientSourceError(
                f"response body {what} ({short_url(redact_url(url))}): {type(exc).__name__}",
                source=self.source,
                station_number=station_number,
                url=url,
            ) from exc
        except requests.ConnectionError as exc:
            raise TransientSourceError(
                f"connection failed ({short_url(redact_url(url))}): {type(exc).__name__}",
                source=self.source,
                station_number=station_number,
                url=url,
            ) from exc
        if response.status_code >= 400:
            raise error_for_status(
                source=self.source,
                station_number=station_number,
                status_code=response.status_code,
                url=response.url,
                detail=response.text[:500],
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                not_found_means_unknown_station=not_found_means_unknown_station,
            )
        return response

    def get_json(self, path: str, *, station_number: str | None, params: Any = None, **kwargs) -> Any:
        response = self.request(path, station_number=station_number, params=params, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise PayloadError(
                f"response is not valid JSON (HTTP {response.status_code} from {short_url(redact_url(response.url))})",
                source=self.source,
                station_number=station_number,
                url=response.url,
            ) from exc

    def get_text(self, path: str, *, station_number: str | None, params: Any = None, **kwargs) -> str:
        response = self.request(path, station_number=station_number, params=params, **kwargs)
        try:
            # utf-8-sig drops the byte-order mark some services put in front of CSV bodies.
            return response.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return response.content.decode("cp1252")

    def test_connection(self) -> tuple[bool, str]:
        """Reach the service root; the message names the host, never a password or key in it."""
        shown = redact_url(self.base_url)
        try:
            response = self.session.get(self.base_url, timeout=self.timeout)
        except requests.RequestException as exc:
            return False, f"{self.source}: cannot reach {shown}: {type(exc).__name__}"
        return response.status_code < 500, f"{self.source}: {shown} answered HTTP {response.status_code}"
