"""One exception family for the package (docs/adr/0008-errors-and-retries.md).

Every message names the source, the station (when there is one) and what went wrong, e.g.
``usgs: station 01646500: service unavailable (HTTP 503 from …/collections/continuous/items)``.
``retryable`` tells Airflow's retry policy whether trying again can help.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_PARAMS = {"api_key", "apikey", "key", "token", "password", "access_token"}


def redact_url(url: str | None) -> str | None:
    """Drop credentials (user:password@, api_key=…) from a URL before it is shown anywhere."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = urlencode(
        [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def short_url(url: str | None) -> str | None:
    """``…/collections/continuous/items``: the path tail that tells which endpoint answered."""
    if not url:
        return url
    path = urlsplit(url).path.rstrip("/")
    segments = [s for s in path.split("/") if s]
    return "…/" + "/".join(segments[-3:]) if len(segments) > 3 else path or url


class StreamflowError(Exception):
    """Base of every error this package raises on purpose."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        station_number: str | None = None,
        status_code: int | None = None,
        url: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.source = source
        self.station_number = station_number
        self.status_code = status_code
        self.url = redact_url(url)
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable
        self.reason = message
        prefix = ""
        if source:
            prefix += f"{source}: "
        if station_number:
            prefix += f"station {station_number}: "
        super().__init__(prefix + message)


class ConfigurationError(StreamflowError, ValueError):
    """A pull configuration row, a trigger param or a CLI argument is not valid."""


class ReferenceDataError(StreamflowError, ValueError):
    """A reference CSV row cannot be loaded."""


class SourceError(StreamflowError):
    """A remote service failed or answered with something we cannot use."""


class TransientSourceError(SourceError):
    """Trying again later can succeed: 429, 5xx, timeouts, broken connections, cut-off pages."""

    retryable = True


class PermanentSourceError(SourceError):
    """Trying again will not help: bad request, unknown station, unparseable payload."""

    retryable = False


class StationNotFoundError(PermanentSourceError):
    """The service does not know the station."""


class PayloadError(PermanentSourceError):
    """The service answered 2xx but the body does not parse into what it documents."""


_STATUS_TEXT = {
    400: "bad request",
    401: "not authorised (check the API key)",
    403: "forbidden (check the API key)",
    404: "not found",
    408: "request timeout",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def _first_sentence(body: str | None, limit: int = 300) -> str:
    if not body:
        return ""
    text = re.sub(r"\s+", " ", body).strip()
    return text[:limit] + ("…" if len(text) > limit else "")


def error_for_status(
    *,
    source: str,
    station_number: str | None,
    status_code: int,
    url: str | None,
    detail: str | None = None,
    retry_after: float | None = None,
    not_found_means_unknown_station: bool = True,
) -> SourceError:
    """Map an HTTP status to the matching exception (the one place that decides retryability)."""
    text = _STATUS_TEXT.get(status_code, "HTTP error")
    where = f"HTTP {status_code} from {short_url(redact_url(url))}"
    extra = _first_sentence(detail)
    message = f"{text} ({where})" + (f": {extra}" if extra else "")
    if retry_after is not None and status_code == 429:
        message += f"; retry after {retry_after:g} s"
    kwargs = dict(source=source, station_number=station_number, status_code=status_code, url=url)
    if status_code == 429 or status_code == 408 or status_code >= 500:
        return TransientSourceError(message, retry_after=retry_after, **kwargs)
    if status_code == 404 and not_found_means_unknown_station:
        return StationNotFoundError(f"unknown station ({where})" + (f": {extra}" if extra else ""), **kwargs)
    return PermanentSourceError(message, **kwargs)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
