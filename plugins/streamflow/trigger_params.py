"""The manual-trigger parameters, each spelled once: the form Airflow renders (``Param``) and the
parser ``plan`` runs (docs/adr/0004-dag-shape-and-outcomes.md).

``plan`` parses the raw params once (:func:`parse_params`) and hands the result on to the pull
tasks in their mapped station dicts (:meth:`RunParams.to_dict` / :meth:`RunParams.from_dict`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from streamflow.configurations import EARLIEST_START
from streamflow.errors import ConfigurationError
from streamflow.timeutil import iso_z
from streamflow.vocabulary import DataStrategy

if TYPE_CHECKING:
    from airflow.sdk import Param

    from streamflow.configurations import PullConfig

# The trigger Params' keywords (type, items, enum, format) mean the same in draft-07, whose
# metaschema Airflow checks ~4x faster than the 2020-12 default at every parse (docs/benchmarks.md §2).
DRAFT_07 = {"$schema": "http://json-schema.org/draft-07/schema#"}


@dataclass(frozen=True)
class RunParams:
    """Validated manual-trigger params."""

    stations: tuple[str, ...] = ()
    start_date: datetime | None = None
    end_date: datetime | None = None
    data_strategy: DataStrategy | None = None
    full_refresh: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "stations": list(self.stations),
            "start_date": iso_z(self.start_date),
            "end_date": iso_z(self.end_date),
            "data_strategy": self.data_strategy.value if self.data_strategy else None,
            "full_refresh": self.full_refresh,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RunParams:
        """The params ``plan`` parsed, back from :meth:`to_dict` (already validated: no checks)."""
        data = data or {}
        return cls(
            tuple(data.get("stations") or ()),
            _datetime("start_date", data.get("start_date")),
            _datetime("end_date", data.get("end_date")),
            DataStrategy(data["data_strategy"]) if data.get("data_strategy") else None,
            bool(data.get("full_refresh", False)),
        )


# ----------------------------------------------------------------------------- one parser per param


def _stations(value: Any) -> tuple[str, ...]:
    value = value or []
    if isinstance(value, str):
        value = [s for s in value.replace(",", " ").split() if s]
    if not isinstance(value, (list, tuple)) or not all(isinstance(s, str) for s in value):
        raise ConfigurationError(f"param stations: expected a list of station ids, got {value!r}")
    return tuple(dict.fromkeys(s.strip() for s in value if s.strip()))


def _datetime(name: str, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(
                f"param {name}: {value!r} is not an ISO 8601 date-time (e.g. 2024-01-01T00:00:00Z)"
            ) from None
    else:
        raise ConfigurationError(f"param {name}: expected a date-time string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        raise ConfigurationError(f"param {name}: {value!r} has no time zone; add Z for UTC")
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ConfigurationError(
            f"param {name}: {value!r} is out of range (from {EARLIEST_START.date().isoformat()} to now)"
        ) from None


def _strategy(value: Any) -> DataStrategy | None:
    if value in (None, ""):
        return None
    try:
        return DataStrategy(str(value))
    except ValueError:
        raise ConfigurationError(f"param data_strategy: {value!r} is not one of: append, overwrite") from None


def _flag(value: Any) -> bool:
    if value is None:  # the form sends null for an untouched optional checkbox
        return False
    if not isinstance(value, bool):
        raise ConfigurationError(f"param full_refresh: expected true or false, got {value!r}")
    return value


@dataclass(frozen=True)
class ParamSpec:
    """One trigger parameter: its form field and its parser.

    ``schema`` is the field's fixed JSON Schema; ``config_schema`` adds what depends on the
    configuration (the station choices). Every field's type includes ``null``: Airflow's form marks
    a field whose type excludes null as required, and all of ours are optional.
    """

    name: str
    default: Any
    schema: Mapping[str, Any]  # JSON Schema keywords of the form field
    title: str
    description: Callable[[PullConfig], str]
    parse: Callable[[Any], Any]
    config_schema: Callable[[PullConfig], Mapping[str, Any]] | None = None

    def param(self, config: PullConfig) -> Param:
        from airflow.sdk import Param

        schema = {**copy.deepcopy(dict(self.schema)), **(self.config_schema(config) if self.config_schema else {})}
        return Param(copy.deepcopy(self.default), **schema, title=self.title, **DRAFT_07, description=self.description(config))


def _stations_text(config: PullConfig) -> str:
    listed = ", ".join(s.station_number for s in config.stations[:20])
    more = f" … ({len(config.stations)} in all)" if len(config.stations) > 20 else ""
    return f"Subset of this configuration's stations; empty = all. Configured: {listed}{more}"


def _station_label(number: str, name: str | None) -> str:
    return f"{number} — {name}" if name else number


def _station_choices(config: PullConfig) -> dict[str, Any]:
    """The configuration's stations as the only allowed items (Airflow refuses others at trigger
    time), offered in the form's multi-select (``examples``) labelled with their names."""
    numbers = [s.station_number for s in config.stations]
    return {
        "items": {"type": "string", "enum": numbers},
        "examples": numbers,
        "values_display": {s.station_number: _station_label(s.station_number, s.station_name) for s in config.stations},
    }


_DATE_TIME = {"type": ["null", "string"], "format": "date-time"}

PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "stations", [], {"type": ["null", "array"], "items": {"type": "string"}}, "Stations", _stations_text,
        _stations, _station_choices,
    ),
    ParamSpec(
        "start_date", None, _DATE_TIME, "Start date",
        lambda config: "Pull from here (UTC, e.g. 2024-01-01T00:00:00Z; not before 1850-01-01, not in the future), "
        "ignoring recorded progress. Empty = from recorded progress.",
        lambda value: _datetime("start_date", value),
    ),
    ParamSpec(
        "end_date", None, _DATE_TIME, "End date",
        lambda config: "Pull up to here (UTC), after the start date, not in the future. Empty = now.",
        lambda value: _datetime("end_date", value),
    ),
    ParamSpec(
        "data_strategy", None, {"type": ["null", "string"], "enum": [None, "append", "overwrite"]}, "Data strategy",
        lambda config: f"Override the configuration's strategy ({config.data_strategy.value}) for this run; "
        "empty = the configuration's.",
        _strategy,
        lambda config: {"values_display": {
            "None": f"(the configuration's: {config.data_strategy.value})",
            "append": "append", "overwrite": "overwrite",
        }},
    ),
    ParamSpec(
        "full_refresh", False, {"type": ["boolean", "null"]}, "Full refresh",
        lambda config: "Start from pull_start_date regardless of progress.",
        _flag,
    ),
)
PARAM_NAMES = tuple(spec.name for spec in PARAMS)


def trigger_params(config: PullConfig) -> dict[str, Param]:
    """The manual-trigger form; the UI renders it and validates on trigger."""
    return {spec.name: spec.param(config) for spec in PARAMS}


def parse_params(
    raw: Mapping[str, Any] | None, *, now: datetime | None = None, configured: Sequence[str] | None = None
) -> RunParams:
    """Validate trigger params; raises one ``ConfigurationError`` listing every bad param.

    With ``configured`` (the configuration's station ids), requested stations outside it are
    refused too. The start/end bounds (1850-01-01 … now, end after start) are checked here: they
    depend on the clock, so Airflow's Param schema cannot say them.
    """
    raw = dict(raw or {})
    errors: list[str] = []
    values: dict[str, Any] = {}
    for spec in PARAMS:
        try:
            values[spec.name] = spec.parse(raw.get(spec.name, spec.default))
        except ConfigurationError as exc:
            errors.append(str(exc))
            values[spec.name] = None
    start, end = values.get("start_date"), values.get("end_date")
    now = now or datetime.now(timezone.utc)
    for name, value in (("start_date", start), ("end_date", end)):
        if value is not None and value < EARLIEST_START:
            errors.append(f"param {name}: {iso_z(value)} is before {iso_z(EARLIEST_START)}")
    if start is not None and start > now:
        errors.append(f"param start_date: {iso_z(start)} is in the future")
    if end is not None and end > now:
        errors.append(f"param end_date: {iso_z(end)} is in the future (leave it empty for now)")
    if start is not None and end is not None and end <= start:
        errors.append(f"param end_date: {iso_z(end)} is not after start_date {iso_z(start)}")
    unknown = sorted(set(raw) - set(PARAM_NAMES))
    if unknown:
        errors.append(f"unknown param(s): {', '.join(unknown)} (known: {', '.join(PARAM_NAMES)})")
    if configured is not None and values.get("stations"):
        try:
            select_stations(configured, values["stations"])
        except ConfigurationError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigurationError("; ".join(errors))
    return RunParams(**values)


def select_stations(configured: Sequence[str], requested: Sequence[str]) -> list[str]:
    """The run's stations: all configured ones, or the requested subset (unknown ids refused)."""
    if not requested:
        return list(configured)
    known = set(configured)
    unknown = [s for s in requested if s not in known]
    if unknown:
        listed = ", ".join(configured[:20]) + (f" … ({len(configured)} in all)" if len(configured) > 20 else "")
        raise ConfigurationError(
            f"param stations: {', '.join(unknown)} not in this configuration (configured: {listed})"
        )
    return [s for s in configured if s in set(requested)]
