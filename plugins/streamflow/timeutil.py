"""UTC helpers shared by the windows, the hooks and the pulls: one guard, one ISO spelling, two floors.

Every instant this package passes around is timezone-aware UTC. A naive ``datetime`` would be read
in the machine's local zone somewhere down the line, so it is refused here, with a
:class:`~streamflow.errors.ConfigurationError` naming the source, station and value.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from streamflow.errors import ConfigurationError

UTC = timezone.utc


def as_utc(value: object, name: str, *, source: str | None = None, station_number: str | None = None) -> datetime:
    """``value`` in UTC; anything but a timezone-aware ``datetime`` raises ``ConfigurationError``."""
    if not isinstance(value, datetime):
        raise ConfigurationError(
            f"{name} must be a timezone-aware datetime, got {type(value).__name__}",
            source=source,
            station_number=station_number,
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(
            f"{name} {value.isoformat()} is naive; pass a timezone-aware datetime "
            "(a naive time would be read in the machine's local zone)",
            source=source,
            station_number=station_number,
        )
    return value.astimezone(UTC)


def iso_z(value: datetime | None) -> str | None:
    """``2024-01-01T00:00:00Z``: the instant in UTC with a ``Z`` (``None`` stays ``None``)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def floor_second(value: datetime, *, up: bool = False) -> datetime:
    """Whole seconds: dropped (or, with ``up``, rounded up when there is a fraction)."""
    floor = value.replace(microsecond=0)
    return floor + timedelta(seconds=1) if up and value.microsecond else floor


def floor_day(value: datetime) -> datetime:
    """00:00 UTC of the instant's UTC day."""
    return datetime.combine(value.astimezone(UTC).date(), time(0), tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
