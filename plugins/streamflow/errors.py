"""One exception family for the package (docs/adr/0008-errors-and-retries.md).

Every message names the source, the station (when there is one) and what went wrong, e.g.
``usgs: station 01646500: service unavailable (HTTP 503 from …/collections/continuous/items)``.
``retryable`` tells Airflow's retry policy whether trying again can help.
"""

from __future__ import annotations

import re
import traceback
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# A query parameter whose name (lower case, ``-`` read as ``_``) contains one of these is a secret:
# api_key, x-api-key, access_key, aws_secret_access_key, token, access_token, password, signature ...
_SECRET_PARAM_PARTS = ("key", "token", "secret", "passw", "pwd", "signature", "sig", "auth", "credential", "session")
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]*$")
_USERINFO_START = re.compile(r"^[^/?#@:]*[:@]")


def _is_secret_param(name: str) -> bool:
    normalized = name.lower().replace("-", "_")
    return any(part in normalized for part in _SECRET_PARAM_PARTS)


def _strip_userinfo(url: str) -> str:
    """``scheme://user:pa#ss/w@host/...`` → ``scheme://host/...``.

    ``urlsplit`` ends the authority at the first ``#``, ``/`` or ``?``, so a password holding one
    of them would be shown. Here a URL that starts with a user name (``user:`` or ``user@``) loses
    everything up to the first ``@`` (before any ``?``) followed by something shaped like a host;
    an ``@`` in the query (``?email=a@b.c``) is left alone.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not _USERINFO_START.match(rest):
        return url
    for at in [i for i, ch in enumerate(rest.split("?", 1)[0]) if ch == "@"]:
        host = re.split(r"[/?#]", rest[at + 1 :], maxsplit=1)[0]
        if host and _HOST.match(host):
            return f"{scheme}://{rest[at + 1:]}"
    return url


def redact_url(url: str | None) -> str | None:
    """Drop credentials from a URL before it is shown anywhere.

    Userinfo (``user:password@``, even with ``#``, ``/`` or ``?`` in the password), secret query
    parameters (``api_key``, ``x-api-key``, ``access_key``, ``token``, ``signature`` ...: their
    value becomes ``***``) and the fragment (it can carry ``#access_token=…``) are removed.
    """
    if not url:
        return url
    parts = urlsplit(_strip_userinfo(str(url)))
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = urlencode(
        [(k, "***" if _is_secret_param(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def url_host(url: str | None) -> str | None:
    """``host[:port]`` of ``url`` without any credentials, so a wrong connection host can be seen."""
    if not url:
        return None
    return urlsplit(redact_url(url) or "").netloc or None


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
        self.window: str | None = None  # the pull's chunk/window, set by the pull when it knows it
        prefix = ""
        if source:
            prefix += f"{source}: "
        if station_number:
            prefix += f"station {station_number}: "
        host = url_host(self.url)
        suffix = f" [host {host}]" if host and host not in message else ""
        super().__init__(prefix + message + suffix)


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


def retry_outlook(retryable: bool | None, attempt: int, attempts: int) -> str:
    """What happens after failed attempt ``attempt`` of ``attempts``, as a task log says it."""
    left = attempts - attempt
    if not retryable:
        return "not retryable: the task fails now"
    if left > 0:
        return f"Airflow retries it ({left} attempt(s) left)"
    return "no attempt left: the task fails now"


def end_of_task_line(exc: StreamflowError, *, window: str | None, attempt: int, attempts: int) -> str:
    """The one line a failed pull's task log ends with: source, station, window, cause, attempt n of m."""
    return (
        f"{exc} | window {window or 'not planned'} | attempt {attempt} of {attempts} failed; "
        f"{retry_outlook(exc.retryable, attempt, attempts)}"
    )


def detach_library_traceback(exc: StreamflowError, logger) -> StreamflowError:
    """Log ``exc`` with its whole chain (dataretrieval/httpx/anyio frames) at DEBUG, then return it
    without the chain and frames, so the traceback Airflow's task runner prints stays a few lines.

    The exception keeps its type and attributes: the retry policy decides on it as before.
    """
    # Formatted now: the chain is cut below, and a handler may format the record later.
    logger.debug("%s: traceback through the client libraries:\n%s", exc, "".join(traceback.format_exception(exc)))
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    return exc.with_traceback(None)
