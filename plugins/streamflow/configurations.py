"""Pull configurations as frozen value objects, and every rule about a valid row (no Airflow here).

``validate_configuration(row)`` never raises: it returns a ``PullConfig`` or an ``InvalidConfig``
carrying every problem found, whatever the row's values, so one broken row cannot hide the others
(``docs/adr/0006-dag-file-never-raises.md``).
``parse_configuration`` raises ``ConfigurationError`` instead, for the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from croniter import CroniterBadDateError, croniter

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


# What a row may hold: the column lengths (streamflow.db.models declares its columns with these,
# so validation refuses what the database would), a bound for the unbounded description, and the
# range of start dates (README.md, the CLI's help).
NAME_MAX = 100
SCHEDULE_VALUE_MAX = 50
STATION_NUMBER_MAX = 50
DESCRIPTION_MAX = 10_000
#: The most stations one configuration may hold (docs/adr/0016-station-count-bound.md): above 1,000
#: stations a run maps over station batches (docs/adr/0017-station-batches.md).
STATIONS_MAX = 10_000
EARLIEST_START = datetime(1850, 1, 1, tzinfo=timezone.utc)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 and C1 control characters (ESC included)


def _shown(value: Any) -> str:
    """A value for a message: its repr, cut short (a hostile row may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class _Problems:
    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.items.append(message)


def start_date_problem(value: datetime, *, now: datetime | None = None) -> str | None:
    """Why an aware ``pull_start_date`` is out of the supported range (1850-01-01 … now), or None."""
    if value < EARLIEST_START:
        return f"pull_start_date {value.isoformat()} is before {EARLIEST_START.date().isoformat()}"
    if value > (now or datetime.now(timezone.utc)):
        return f"pull_start_date {value.isoformat()} is in the future"
    return None


def _as_utc(value: Any, what: str, problems: _Problems) -> datetime | None:
    if value is None or value == "":
        problems.add(f"{what} is missing")
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            problems.add(f"{what} {_shown(value)} is not an ISO 8601 date-time")
            return None
    if not isinstance(value, datetime):
        problems.add(f"{what} {_shown(value)} is not a date-time")
        return None
    if value.tzinfo is None:
        problems.add(f"{what} {value.isoformat()} has no time zone (give UTC, e.g. {value.isoformat()}Z)")
        return None
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        problems.add(f"{what} {value.isoformat()} is out of range")
        return None


def cron_problem(expression: str, *, now: datetime | None = None) -> str | None:
    """Why ``expression`` is not a schedule we run, or None: a preset, or five cron fields that fire
    at least once (six or seven fields mean seconds: nothing runs more often than every minute)."""
    expression = expression.strip()
    if expression.startswith("@"):
        if expression in {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}:
            return None
        return f"{_shown(expression)} is not a valid cron expression"
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"{_shown(expression)} is not a valid cron expression: it needs five fields (minute hour day month "
            "weekday); schedules finer than a minute are refused"
        )
    if not croniter.is_valid(expression):
        return f"{_shown(expression)} is not a valid cron expression"
    try:
        croniter(expression, now or datetime.now(timezone.utc)).get_next(datetime)
    except (CroniterBadDateError, ValueError, OverflowError):
        return f"{_shown(expression)} never fires (no such date, e.g. 30 February)"
    return None


def _text(row: Mapping[str, Any], key: str, problems: _Problems, *, limit: int, multiline: bool = False) -> str | None:
    """A text column: ``None`` or a string within ``limit`` characters and without control characters."""
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.add(f"{key} is not text ({type(value).__name__} {_shown(value)})")
        return None
    if len(value) > limit:
        problems.add(f"{key} is longer than {limit:,} characters ({len(value):,})")
    checked = value.replace("\n", "").replace("\t", "").replace("\r", "") if multiline else value
    if _CONTROL.search(checked):
        problems.add(f"{key} contains control characters")
    return value


def _stations(raw: Any, problems: _Problems) -> tuple[StationSpec, ...]:
    if raw is not None and (isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Iterable)):
        problems.add(f"stations is not a list ({type(raw).__name__})")
        return ()
    specs: list[StationSpec] = []
    seen: set[str] = set()
    for position, item in enumerate(raw or (), start=1):
        if not isinstance(item, Mapping):
            problems.add(f"station entry {position} is not a mapping ({_shown(item)})")
            continue
        number, agency_raw, name = (item.get(k) for k in ("station_number", "agency", "station_name"))
        if number is not None and not isinstance(number, str):
            problems.add(f"station entry {position}: station_number {_shown(number)} is not text")
            continue
        number = (number or "").strip()
        if not number:
            problems.add("a station has an empty station_number")
            continue
        if len(number) > STATION_NUMBER_MAX or _CONTROL.search(number):
            problems.add(f"station {_shown(number)}: not a station id (at most {STATION_NUMBER_MAX} characters, no control characters)")
            continue
        if number in seen:
            problems.add(f"station {number} is listed twice")
            continue
        seen.add(number)
        if (agency_raw is not None and not isinstance(agency_raw, str)) or (name is not None and not isinstance(name, str)):
            problems.add(f"station {number}: agency and station_name must be text")
            continue
        agency_raw = (agency_raw or "").strip().upper()
        agency: Agency | None
        if agency_raw:
            try:
                agency = Agency(agency_raw)
            except ValueError:
                problems.add(f"station {number}: unknown agency {_shown(agency_raw)} (expected USGS or EC)")
                continue
        else:
            agency = infer_agency(number)
            if agency is None:
                problems.add(
                    f"station {number}: cannot tell the agency from the id (USGS ids are 8-15 digits, "
                    "EC ids look like 08MF005); set the agency"
                )
                continue
        specs.append(StationSpec(number, agency, name))
    if not specs and not any("station" in p for p in problems.items):
        problems.add("no stations")
    if len(specs) > STATIONS_MAX:
        problems.add(
            f"{len(specs):,} stations: at most {STATIONS_MAX:,} per configuration; split it into several "
            "configurations"
        )
    return tuple(specs)


def _config_id(raw: Any) -> int | None:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def invalid_configuration(row: Any, errors: Iterable[str]) -> InvalidConfig:
    """An ``InvalidConfig`` for ``row`` whatever it holds (a mapping or not, any column values)."""
    get = row.get if isinstance(row, Mapping) else (lambda _key: None)
    config_id = _config_id(get("id"))
    name = get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX or _CONTROL.search(name):
        name = f"configuration {config_id if config_id is not None else '(no id)'}"
    data_type, description = get("data_type"), get("description")
    return InvalidConfig(
        id=config_id,
        name=name.strip(),
        errors=tuple(errors),
        data_type=data_type if isinstance(data_type, str) else None,
        description=description if isinstance(description, str) else None,
    )


def validate_configuration(row: Mapping[str, Any], *, now: datetime | None = None) -> PullConfig | InvalidConfig:
    """Check one ``pull_configurations`` row (with ``stations``: a list of station dicts).

    Never raises, whatever the row holds: a row that cannot even be read becomes an
    ``InvalidConfig`` saying so (one broken row must not hide the others).
    """
    try:
        return _validate(row, now=now)
    except Exception as exc:  # noqa: BLE001 - reported as the row's problem, never raised
        return invalid_configuration(row, [f"the row cannot be read: {type(exc).__name__}: {exc}"])


def _validate(row: Mapping[str, Any], *, now: datetime | None) -> PullConfig | InvalidConfig:
    if not isinstance(row, Mapping):
        return invalid_configuration(row, [f"not a configuration row ({type(row).__name__})"])
    problems = _Problems()
    config_id = _config_id(row.get("id"))
    if config_id is None and row.get("id") is not None:  # no id yet: a row about to be created
        problems.add(f"id {_shown(row.get('id'))} is not an integer")
    name = (_text(row, "name", problems, limit=NAME_MAX) or "").strip()
    if not name and not any(p.startswith("name ") for p in problems.items):
        problems.add("name is empty")
    description = _text(row, "description", problems, limit=DESCRIPTION_MAX, multiline=True)

    def enum(kind, key: str):
        raw = row.get(key)
        try:
            return kind(raw.strip()) if isinstance(raw, str) else kind(raw)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            problems.add(f"{key} {_shown(raw)} is not one of: {allowed}")
            return None

    data_type = enum(DataType, "data_type")
    strategy = enum(DataStrategy, "data_strategy")
    schedule_type = enum(ScheduleType, "schedule_type")
    start = _as_utc(row.get("pull_start_date"), "pull_start_date", problems)
    if start is not None and (problem := start_date_problem(start, now=now)):
        problems.add(problem)

    schedule_value = (_text(row, "schedule_value", problems, limit=SCHEDULE_VALUE_MAX) or "").strip() or None
    if schedule_value and (problem := cron_problem(schedule_value, now=now)):
        problems.add(f"schedule_value {problem}")
    if schedule_type == ScheduleType.CRON and not schedule_value:
        problems.add("schedule_type 'cron' needs a schedule_value (a cron expression)")

    stations = _stations(row.get("stations"), problems)
    is_enabled = True if row.get("is_enabled") is None else bool(row.get("is_enabled"))

    if problems.items:
        return invalid_configuration(row, problems.items)
    return PullConfig(
        id=config_id if config_id is not None else 0,
        name=name,
        description=description,
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
