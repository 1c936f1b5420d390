"""Query parameters of the read API that need more than a schema: intervals, cursors, bounding boxes.

A value that cannot be understood raises :class:`ApiProblem` (HTTP 400, a problem body naming the
parameter). Values that fail their declared schema (an unknown ``type``, ``limit`` over the maximum)
are refused earlier by FastAPI's validation, answered as 422 problems (``streamflow.web.api``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from streamflow.db.read import Interval

INVALID_PARAMETER = "urn:streamflow:problem:invalid-parameter"
NOT_FOUND = "urn:streamflow:problem:not-found"
OPEN = ".."

# RFC 3339 date-time: a full date, a time, seconds, optional fraction, a mandatory offset.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


class ApiProblem(Exception):
    """An error answered as a problem body (RFC 9457)."""

    def __init__(self, status: int, title: str, detail: str, *, parameter: str | None = None,
                 type_: str = INVALID_PARAMETER) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.parameter, self.type = status, title, detail, parameter, type_

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail,
                "parameter": self.parameter}


def bad(parameter: str, value: object, why: str) -> ApiProblem:
    shown = value if isinstance(value, str) and len(value) <= 120 else f"{str(value)[:117]}…"
    return ApiProblem(400, "Invalid parameter", f"{parameter}: {shown!r}: {why}", parameter=parameter)


def not_found(what: str) -> ApiProblem:
    return ApiProblem(404, "Not found", what, type_=NOT_FOUND)


def parse_instant(text: str, parameter: str = "datetime") -> datetime:
    """One RFC 3339 date-time with its offset, as aware UTC."""
    match = _RFC3339.match(text)
    if not match:
        raise bad(parameter, text, "not an RFC 3339 date-time with an offset, e.g. 2024-01-01T00:00:00Z")
    fraction = (match.group(7) or "").ljust(6, "0")[:6]
    offset = match.group(8).upper()
    iso = f"{text[:19].replace('t', 'T')}.{fraction}{'+00:00' if offset == 'Z' else offset}"
    try:
        value = datetime.fromisoformat(iso)
        return value.astimezone(UTC)
    except (ValueError, OverflowError) as err:
        raise bad(parameter, text, f"not a valid date-time ({err})") from None


def parse_interval(text: str | None, parameter: str = "datetime") -> Interval:
    """``instant``, ``start/end``, ``start/..``, ``../end`` (empty = ``..``); both ends inclusive."""
    if text is None or text.strip() == "":
        return Interval()
    text = text.strip()
    if "/" not in text:
        instant = parse_instant(text, parameter)
        return Interval(instant, instant)
    parts = text.split("/")
    if len(parts) != 2:
        raise bad(parameter, text, "an interval has exactly one '/' (start/end, '..' for an open end)")
    start, end = (None if p in ("", OPEN) else parse_instant(p, parameter) for p in parts)
    if start is not None and end is not None and start > end:
        raise bad(parameter, text, "the start is after the end")
    return Interval(start, end)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``min_lon,min_lat,max_lon,max_lat`` in degrees (WGS 84), edges included."""
    if text is None or text.strip() == "":
        return None
    parts = text.split(",")
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        raise bad("bbox", text, "four numbers expected: min_lon,min_lat,max_lon,max_lat") from None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise bad("bbox", text, "four numbers expected: min_lon,min_lat,max_lon,max_lat")
    min_lon, min_lat, max_lon, max_lat = numbers
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise bad("bbox", text, "longitudes in -180..180 and latitudes in -90..90, each minimum at most its maximum")
    return min_lon, min_lat, max_lon, max_lat


# --------------------------------------------------------------------------- cursors


def _secret() -> bytes:
    from airflow.configuration import conf

    return ("streamflow-cursor:" + (conf.get("api", "secret_key", fallback="") or "")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fingerprint(scope: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(scope, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_cursor(key: list[Any], scope: dict[str, Any]) -> str:
    """An opaque, signed token: the last key of a page, bound to the query it came from."""
    payload = json.dumps({"k": key, "q": _fingerprint(scope)}, separators=(",", ":")).encode()
    signature = hmac.new(_secret(), payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(signature)}"


def decode_cursor(token: str, scope: dict[str, Any]) -> list[Any]:
    """The key inside a cursor made by :func:`encode_cursor` for the same query (400 otherwise)."""
    try:
        body, _, sig = token.partition(".")
        payload, signature = _unb64(body), _unb64(sig)
        expected = hmac.new(_secret(), payload, hashlib.sha256).digest()[:16]
        if not sig or not hmac.compare_digest(signature, expected):
            raise ValueError("signature")
        data = json.loads(payload)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad("cursor", token, "malformed or altered cursor; follow the `next` link as given") from None
    if data.get("q") != _fingerprint(scope):
        raise bad("cursor", token, "this cursor belongs to a query with other parameters; start again without it")
    key = data.get("k")
    if not isinstance(key, list):
        raise bad("cursor", token, "malformed cursor")
    return key
