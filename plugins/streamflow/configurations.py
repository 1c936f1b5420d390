"""Pull configurations as frozen value objects, and every rule about a valid row (no Airflow here).

``validate_configuration(row)`` never raises: it returns a ``PullConfig`` or an ``InvalidConfig``
carrying every problem found, so one broken row cannot hide the others (DESIGN §5).
``parse_configuration`` raises ``ConfigurationError`` instead, for the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from croniter import croniter

from streamflow.errors import ConfigurationError
from streamflow.vocabulary import Agency, DataStrategy, DataType, ScheduleType, infer_agency

# What each schedule_type means when schedule_value is empty. A cron schedule_value always wins.
SCHEDULE_PRESETS: dict[ScheduleType, str | None] = {
    ScheduleType.HOURLY: "@hourly",
    ScheduleType.DAILY: "@daily",
    ScheduleType.WEEKLY: "@weekly",
    ScheduleType.MANUAL: None,
}
DAG_ID_PREFIX = "streamflow_config_"


def dag_id_for(config_id: int) -> str:
    return f"{DAG_ID_PREFIX}{config_id}"


@dataclass(frozen=True)
class StationSpec:
    station_number: str
    agency: Agency
    station_name: str | None = None


@dataclass(frozen=True)
class PullConfig:
    id: int
    name: str
    description: str | None
    data_type: DataType
    data_strategy: DataStrategy
    pull_start_date: datetime
    schedule_type: ScheduleType
    schedule_value: str | None
    is_enabled: bool
    stations: tuple[StationSpec, ...]

    @property
    def dag_id(self) -> str:
        return dag_id_for(self.id)

    @property
    def schedule(self) -> str | None:
        """The Airflow schedule: ``None`` for manual or disabled rows."""
        if not self.is_enabled:
            return None
        if self.schedule_value:
            return self.schedule_value.strip()
        return SCHEDULE_PRESETS.get(self.schedule_type)

    @property
    def agencies(self) -> tuple[Agency, ...]:
        return tuple(sorted({s.agency for s in self.stations}))

    def stations_of(self, agency: Agency) -> tuple[StationSpec, ...]:
        return tuple(s for s in self.stations if s.agency == agency)


@dataclass(frozen=True)
class InvalidConfig:
    id: int | None
    name: str
    errors: tuple[str, ...]
    data_type: str | None = None
    description: str | None = None

    @property
    def dag_id(self) -> str:
        return dag_id_for(self.id) if self.id is not None else f"{DAG_ID_PREFIX}unknown"


@dataclass
class _Problems:
    where: str
    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.items.append(message)


def _as_utc(value: Any, what: str, problems: _Problems) -> datetime | None:
    if value is None or value == "":
        problems.add(f"{what} is missing")
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            problems.add(f"{what} {value!r} is not an ISO 8601 date-time")
            return None
    if not isinstance(value, datetime):
        problems.add(f"{what} {value!r} is not a date-time")
        return None
    if value.tzinfo is None:
        problems.add(f"{what} {value.isoformat()} has no time zone (give UTC, e.g. {value.isoformat()}Z)")
        return None
    return value.astimezone(timezone.utc)


def valid_cron(expression: str) -> bool:
    expression = expression.strip()
    if expression.startswith("@"):
        return expression in {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}
    return croniter.is_valid(expression)


def _stations(raw: Iterable[Mapping[str, Any]] | None, problems: _Problems) -> tuple[StationSpec, ...]:
    specs: list[StationSpec] = []
    seen: set[str] = set()
    for item in raw or ():
        number = str(item.get("station_number") or "").strip()
        if not number:
            problems.add("a station has an empty station_number")
            continue
        if number in seen:
            problems.add(f"station {number} is listed twice")
            continue
        seen.add(number)
        agency_raw = (item.get("agency") or "").strip().upper() if item.get("agency") else ""
        agency: Agency | None
        if agency_raw:
            try:
                agency = Agency(agency_raw)
            except ValueError:
                problems.add(f"station {number}: unknown agency {agency_raw!r} (expected USGS or EC)")
                continue
        else:
            agency = infer_agency(number)
            if agency is None:
                problems.add(
                    f"station {number}: cannot tell the agency from the id (USGS ids are 8-15 digits, "
                    "EC ids look like 08MF005); set the agency"
                )
                continue
        specs.append(StationSpec(number, agency, item.get("station_name")))
    if not specs and not any("station" in p for p in problems.items):
        problems.add("no stations")
    return tuple(specs)


def validate_configuration(row: Mapping[str, Any], *, now: datetime | None = None) -> PullConfig | InvalidConfig:
    """Check one ``pull_configurations`` row (with ``stations``: a list of station dicts)."""
    config_id = row.get("id")
    name = str(row.get("name") or "").strip()
    problems = _Problems(where=f"configuration {config_id}" + (f" ({name})" if name else ""))
    if not name:
        problems.add("name is empty")
    elif len(name) > 100:
        problems.add("name is longer than 100 characters")

    def enum(kind, key: str):
        raw = row.get(key)
        try:
            return kind(str(raw).strip())
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            problems.add(f"{key} {raw!r} is not one of: {allowed}")
            return None

    data_type = enum(DataType, "data_type")
    strategy = enum(DataStrategy, "data_strategy")
    schedule_type = enum(ScheduleType, "schedule_type")
    start = _as_utc(row.get("pull_start_date"), "pull_start_date", problems)
    if start is not None and start > (now or datetime.now(timezone.utc)):
        problems.add(f"pull_start_date {start.isoformat()} is in the future")

    schedule_value = (row.get("schedule_value") or "").strip() or None
    if schedule_value and not valid_cron(schedule_value):
        problems.add(f"schedule_value {schedule_value!r} is not a valid cron expression")
    if schedule_type == ScheduleType.CRON and not schedule_value:
        problems.add("schedule_type 'cron' needs a schedule_value (a cron expression)")

    stations = _stations(row.get("stations"), problems)
    is_enabled = bool(row.get("is_enabled", True)) if row.get("is_enabled") is not None else True

    if problems.items:
        return InvalidConfig(
            id=config_id,
            name=name or f"configuration {config_id}",
            errors=tuple(problems.items),
            data_type=str(row.get("data_type")) if row.get("data_type") else None,
            description=row.get("description"),
        )
    return PullConfig(
        id=int(config_id) if config_id is not None else 0,
        name=name,
        description=row.get("description"),
        data_type=data_type,
        data_strategy=strategy,
        pull_start_date=start,
        schedule_type=schedule_type,
        schedule_value=schedule_value,
        is_enabled=is_enabled,
        stations=stations,
    )


def parse_configuration(row: Mapping[str, Any], *, now: datetime | None = None) -> PullConfig:
    """Like ``validate_configuration`` but raises ``ConfigurationError`` listing every problem."""
    result = validate_configuration(row, now=now)
    if isinstance(result, InvalidConfig):
        where = f"configuration {result.id}" if result.id is not None else f"configuration {result.name!r}"
        raise ConfigurationError(f"{where}: " + "; ".join(result.errors))
    return result
