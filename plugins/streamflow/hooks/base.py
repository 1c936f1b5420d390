"""Shared HTTP plumbing for the service hooks: connection → base URL, status → our exception."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import requests
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from streamflow import __version__
from streamflow.errors import (
    PayloadError,
    TransientSourceError,
    error_for_status,
    parse_retry_after,
    redact_url,
    short_url,
)

USER_AGENT = f"streamflow-dataops/{__version__} (+https://github.com/streamflow-dataops)"


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
        try:
            response = self.session.get(self.base_url, timeout=self.timeout)
        except requests.RequestException as exc:
            return False, f"{self.source}: cannot reach {self.base_url}: {type(exc).__name__}"
        return response.status_code < 500, f"{self.source}: {self.base_url} answered HTTP {response.status_code}"
