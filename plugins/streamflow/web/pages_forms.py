"""The configuration form of the Streamflow pages: parse what the browser sent, check it, say
what is wrong next to each field. Nothing here writes; ``streamflow.web.pages`` saves a form only
when ``check_form`` found no error.

The checks are the factory's own (``streamflow.configurations.validate_configuration``) plus what
only the database can tell (stations unknown to ``master_stations``, forecast stations without a
NOAA mapping) and the schedule as Airflow will read it (its cron timetable).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from streamflow.configurations import SCHEDULE_PRESETS, InvalidConfig, validate_configuration
from streamflow.db import configurations as cfg_repo
from streamflow.vocabulary import DataStrategy, DataType, ScheduleType

MAX_STATIONS = 1_000  # per configuration: one mapped task per station
BULK_ADD_CAP = 500  # "add all results" adds at most this many at once
STATION_SPLIT = re.compile(r"[\s,;]+")

# Which form field a validation message of validate_configuration belongs to.
_FIELD_OF_MESSAGE = (
    ("name", "name"),
    ("description", "description"),
    ("data_type", "data_type"),
    ("data_strategy", "data_strategy"),
    ("pull_start_date", "pull_start_date"),
    ("schedule_type", "schedule"),
    ("schedule_value", "schedule"),
)

SCHEDULE_INTERVALS = {
    ScheduleType.HOURLY: timedelta(hours=1),
    ScheduleType.DAILY: timedelta(days=1),
    ScheduleType.WEEKLY: timedelta(days=7),
}


@dataclass
class ConfigurationForm:
    """What the form holds: the submitted text, so a form with errors comes back as it was typed."""

    name: str = ""
    description: str = ""
    data_type: str = DataType.DAILY_MEAN.value
    data_strategy: str = DataStrategy.APPEND.value
    pull_start_date: str = ""
    schedule_type: str = ScheduleType.DAILY.value
    schedule_value: str = ""
    is_enabled: bool = True
    allow_unmapped: bool = False
    stations: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_submission(cls, form: Mapping[str, Any]) -> ConfigurationForm:
        def text(key: str) -> str:
            value = form.get(key)
            return value.strip() if isinstance(value, str) else ""

        numbers: list[str] = []
        for number in STATION_SPLIT.split(text("stations")):
            if number and number not in numbers:
                numbers.append(number)
        return cls(
            name=text("name"),
            description=text("description"),
            data_type=text("data_type"),
            data_strategy=text("data_strategy"),
            pull_start_date=text("pull_start_date"),
            schedule_type=text("schedule_type"),
            schedule_value=text("schedule_value"),
            is_enabled=text("is_enabled") in ("on", "true", "1"),
            allow_unmapped=text("allow_unmapped") in ("on", "true", "1"),
            stations=numbers,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ConfigurationForm:
        start = row.get("pull_start_date")
        return cls(
            name=row.get("name") or "",
            description=row.get("description") or "",
            data_type=row.get("data_type") or "",
            data_strategy=row.get("data_strategy") or "",
            pull_start_date=_format_start(start) if isinstance(start, datetime) else "",
            schedule_type=row.get("schedule_type") or "",
            schedule_value=row.get("schedule_value") or "",
            is_enabled=bool(row.get("is_enabled", True)),
            stations=[s["station_number"] for s in row.get("stations") or []],
        )

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    @property
    def start(self) -> datetime | None:
        return parse_start(self.pull_start_date)

    def columns(self) -> dict[str, Any]:
        """The ``pull_configurations`` columns of a checked form."""
        return {
            "name": self.name,
            "description": self.description or None,
            "data_type": self.data_type,
            "data_strategy": self.data_strategy,
            "pull_start_date": self.start,
            "schedule_type": self.schedule_type,
            "schedule_value": self.schedule_value or None,
            "is_enabled": self.is_enabled,
        }


def _format_start(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.time() == datetime.min.time():
        return value.date().isoformat()
    return value.strftime("%Y-%m-%dT%H:%MZ")


def parse_start(text: str) -> datetime | None:
    """``2024-01-01`` (midnight UTC), ``2024-01-01T06:00`` (UTC) or any ISO 8601 instant with a zone."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def airflow_schedule_problem(expression: str) -> str | None:
    """Why Airflow would refuse ``expression`` as a DAG schedule (its cron timetable), or None."""
    from airflow.timetables.trigger import CronTriggerTimetable

    try:
        CronTriggerTimetable(expression, timezone="UTC").validate()
    except Exception as exc:  # noqa: BLE001 - Airflow raises several types for a bad expression
        return f"Airflow cannot read {expression!r} as a schedule: {exc}"
    return None


def schedule_interval(
    schedule_type: str, schedule_value: str | None, *, now: datetime | None = None
) -> timedelta | None:
    """How often a configuration runs (None for manual ones): the preset, or two cron fires apart."""
    from croniter import croniter

    expression = (schedule_value or "").strip()
    if not expression:
        try:
            kind = ScheduleType(schedule_type)
        except ValueError:
            return None
        return SCHEDULE_INTERVALS.get(kind)
    aliases = {
        "@hourly": "0 * * * *",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *",
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
    }
    expression = aliases.get(expression, expression)
    try:
        fires = croniter(expression, now or datetime.now(UTC))
        first = fires.get_next(datetime)
        return fires.get_next(datetime) - first
    except (ValueError, KeyError):
        return None


def check_form(
    session: Session, form: ConfigurationForm, *, config_id: int | None = None
) -> ConfigurationForm:
    """Fill ``form.errors`` (field → messages); an empty dict means the form can be saved."""
    if form.pull_start_date and form.start is None:
        form.error(
            "pull_start_date",
            f"{form.pull_start_date!r} is not a date: write 2024-01-01 or 2024-01-01T06:00Z (times are UTC)",
        )
    row = {
        "id": config_id or 0,
        "name": form.name,
        "data_type": form.data_type,
        "data_strategy": form.data_strategy,
        "pull_start_date": form.start or (None if not form.pull_start_date else "unparsed"),
        "schedule_type": form.schedule_type,
        "schedule_value": form.schedule_value or None,
        "is_enabled": form.is_enabled,
        "stations": [{"station_number": n} for n in form.stations],
    }
    result = validate_configuration(row)
    if isinstance(result, InvalidConfig):
        for message in result.errors:
            key = next((f for prefix, f in _FIELD_OF_MESSAGE if message.startswith(prefix)), "stations")
            if key == "pull_start_date" and "pull_start_date" in form.errors:
                continue  # already said, in the form's own words
            form.error(key, message)
    if form.schedule_value and "schedule" not in form.errors:
        problem = airflow_schedule_problem(form.schedule_value)
        if problem:
            form.error("schedule", problem)
    if form.schedule_type == ScheduleType.MANUAL.value and form.schedule_value:
        form.error("schedule", "a manual configuration has no cron expression: clear it or choose 'cron'")
    if len(form.stations) > MAX_STATIONS:
        form.error("stations", f"{len(form.stations)} stations: at most {MAX_STATIONS} per configuration")
    elif form.stations:
        unknown = cfg_repo.unknown_stations(session, form.stations)
        if unknown:
            shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            form.error("stations", f"not in the master station list: {shown}")
        if _is_forecast(form.data_type) and not form.allow_unmapped:
            mapped = cfg_repo.noaa_mapped(session, form.stations)
            unmapped = [n for n in form.stations if n not in mapped and n not in unknown]
            if unmapped:
                shown = ", ".join(unmapped[:10]) + (
                    f" and {len(unmapped) - 10} more" if len(unmapped) > 10 else ""
                )
                form.error(
                    "stations",
                    f"{len(unmapped)} station(s) have no NOAA mapping, so a {form.data_type} pull would skip "
                    f"them: {shown}. Remove them, or tick 'allow stations without a NOAA mapping'.",
                )
    return form


def _is_forecast(data_type: str) -> bool:
    try:
        return DataType(data_type).is_forecast
    except ValueError:
        return False


def schedule_label(schedule_type: str, schedule_value: str | None) -> str:
    if schedule_value:
        return schedule_value
    try:
        preset = SCHEDULE_PRESETS.get(ScheduleType(schedule_type))
    except ValueError:
        return schedule_type
    return preset or "manual (trigger only)"
