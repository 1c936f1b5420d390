"""Every rule about a valid pull configuration row (no database, no Airflow)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streamflow.configurations import InvalidConfig, PullConfig, parse_configuration, validate_configuration
from streamflow.errors import ConfigurationError
from streamflow.vocabulary import Agency, DataStrategy, DataType

UTC = timezone.utc
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def row(**kw):
    base = dict(
        id=7, name="Potomac daily", description="d", data_type="daily_mean", data_strategy="append",
        pull_start_date=datetime(2000, 1, 1, tzinfo=UTC), is_enabled=True, schedule_type="daily",
        schedule_value=None, stations=[{"station_number": "01646500"}, {"station_number": "08MF005"}],
    )
    base.update(kw)
    return base


def test_valid_row_becomes_a_frozen_config():
    config = validate_configuration(row(), now=NOW)
    assert isinstance(config, PullConfig)
    assert config.dag_id == "streamflow_config_7"
    assert config.data_type is DataType.DAILY_MEAN and config.data_strategy is DataStrategy.APPEND
    assert [s.agency for s in config.stations] == [Agency.USGS, Agency.EC]
    assert config.agencies == (Agency.EC, Agency.USGS)
    assert config.schedule == "@daily"


def test_schedule_value_wins_and_disabled_or_manual_has_none():
    assert validate_configuration(row(schedule_type="hourly", schedule_value="*/30 * * * *"), now=NOW).schedule == "*/30 * * * *"
    assert validate_configuration(row(is_enabled=False), now=NOW).schedule is None
    assert validate_configuration(row(schedule_type="manual"), now=NOW).schedule is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data_type": "hourly_mean"}, "data_type 'hourly_mean' is not one of"),
        ({"data_strategy": "merge"}, "data_strategy 'merge'"),
        ({"schedule_type": "cron", "schedule_value": None}, "needs a schedule_value"),
        ({"schedule_type": "cron", "schedule_value": "61 * * * *"}, "not a valid cron"),
        ({"pull_start_date": datetime(2030, 1, 1, tzinfo=UTC)}, "in the future"),
        ({"pull_start_date": datetime(2020, 1, 1)}, "no time zone"),
        ({"stations": []}, "no stations"),
        ({"stations": [{"station_number": "ABC"}]}, "station ABC: cannot tell the agency"),
        ({"stations": [{"station_number": "01646500", "agency": "NOAA"}]}, "unknown agency 'NOAA'"),
        ({"stations": [{"station_number": "01646500"}, {"station_number": "01646500"}]}, "listed twice"),
        ({"name": ""}, "name is empty"),
    ],
)
def test_invalid_rows_say_what_is_wrong(change, message):
    result = validate_configuration(row(**change), now=NOW)
    assert isinstance(result, InvalidConfig)
    assert result.dag_id == "streamflow_config_7"
    assert any(__import__("re").search(message, e) for e in result.errors), result.errors
    with pytest.raises(ConfigurationError, match="configuration 7"):
        parse_configuration(row(**change), now=NOW)


def test_all_problems_are_reported_at_once():
    result = validate_configuration(row(data_type="x", data_strategy="y", stations=[]), now=NOW)
    assert len(result.errors) == 3


@pytest.mark.parametrize(
    "change",
    [
        {"id": "7"}, {"id": 7.5}, {"id": b"7"}, {"id": True},
        {"name": b"\x00\xff"}, {"name": 12}, {"name": ["x"]}, {"description": b"\x00"}, {"description": 3},
        {"data_type": b"daily_mean"}, {"data_type": ["daily_mean"]}, {"data_strategy": None}, {"schedule_type": 1.5},
        {"schedule_value": 5}, {"schedule_value": b"* * * * *"}, {"schedule_value": {"cron": "x"}},
        {"pull_start_date": b"\x01"}, {"pull_start_date": 12345}, {"pull_start_date": "yesterday"},
        {"pull_start_date": "0001-01-01T00:00:00+14:00"}, {"pull_start_date": "9999-12-31T23:00:00-14:00"},
        {"pull_start_date": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))},
        {"stations": "01646500"}, {"stations": 5}, {"stations": {"station_number": "01646500"}},
        {"stations": [None]}, {"stations": ["01646500"]}, {"stations": [{"station_number": 1646500}]},
        {"stations": [{"station_number": b"01646500"}]}, {"stations": [{"station_number": "01646500", "agency": 7}]},
        {"stations": [{"station_number": "01646500", "station_name": b"\xff"}]},
        {"stations": [{"station_number": "0164\x1b6500"}]}, {"stations": [{"station_number": "1" * 51}]},
    ],
)
def test_hostile_values_make_an_invalid_config_never_an_exception(change):
    result = validate_configuration(row(**change), now=NOW)
    assert isinstance(result, InvalidConfig), result
    assert result.errors and all(isinstance(e, str) and len(e) < 400 for e in result.errors)
    assert isinstance(result.name, str) and "\x00" not in result.name
    with pytest.raises(ConfigurationError):
        parse_configuration(row(**change), now=NOW)


def test_not_even_a_mapping_is_an_invalid_config():
    for hostile in (None, "row", 5, ["id", 7]):
        result = validate_configuration(hostile, now=NOW)
        assert isinstance(result, InvalidConfig) and result.dag_id == "streamflow_config_unknown"


@pytest.mark.parametrize(
    ("schedule_value", "message"),
    [
        ("* * * * * *", "five fields"),            # six fields: every second in Airflow
        ("*/10 * * * * *", "finer than a minute"),
        ("0 0 * * * * *", "five fields"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
        ("@every_second", "not a valid cron"),
    ],
)
def test_sub_minute_and_never_firing_schedules_are_refused(schedule_value, message):
    result = validate_configuration(row(schedule_type="cron", schedule_value=schedule_value), now=NOW)
    assert isinstance(result, InvalidConfig)
    assert any(message in e for e in result.errors), result.errors


@pytest.mark.parametrize("schedule_value", ["* * * * *", "0 0 29 2 *", "0 6 * * 1-5", "@monthly"])
def test_every_minute_leap_days_and_presets_are_fine(schedule_value):
    config = validate_configuration(row(schedule_type="cron", schedule_value=schedule_value), now=NOW)
    assert isinstance(config, PullConfig) and config.schedule == schedule_value


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (datetime(1849, 12, 31, 23, 59, tzinfo=UTC), "before 1850-01-01"),
        (datetime(1, 1, 1, tzinfo=UTC), "before 1850-01-01"),
        ("0001-01-01T00:00:00+14:00", "out of range"),
        ("9999-12-31T23:00:00-14:00", "out of range"),
        ("9999-12-31T00:00:00+14:00", "in the future"),
    ],
)
def test_start_dates_are_bounded(start, message):
    result = validate_configuration(row(pull_start_date=start), now=NOW)
    assert isinstance(result, InvalidConfig)
    assert any(message in e for e in result.errors), result.errors


def test_start_date_bounds_are_inclusive():
    assert isinstance(validate_configuration(row(pull_start_date=datetime(1850, 1, 1, tzinfo=UTC)), now=NOW), PullConfig)
    assert isinstance(validate_configuration(row(pull_start_date=NOW), now=NOW), PullConfig)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "x" * 101}, "name is longer than 100 characters"),
        ({"name": "x" * 10_000}, "name is longer than 100 characters"),
        ({"description": "x" * 10_001}, "description is longer than 10,000 characters"),
        ({"schedule_type": "cron", "schedule_value": "0 " + ",".join(str(h) for h in range(24)) + " * * *"},
         "schedule_value is longer than 50 characters"),
        ({"name": "Potomac\x1b]8;;http://evil.example\x07click\x1b]8;;\x07"}, "name contains control characters"),
        ({"name": "two\nlines"}, "name contains control characters"),
        ({"description": "bell\x07"}, "description contains control characters"),
    ],
)
def test_lengths_and_control_characters_are_bounded(change, message):
    result = validate_configuration(row(**change), now=NOW)
    assert isinstance(result, InvalidConfig)
    assert any(message in e for e in result.errors), result.errors
    assert len(result.name) <= 100 and "\x1b" not in result.name


def test_a_multiline_description_is_fine():
    config = validate_configuration(row(description="line one\nline two\tindented\r\n"), now=NOW)
    assert isinstance(config, PullConfig)


def test_more_stations_than_supported_are_refused_with_the_number():
    from streamflow.configurations import STATIONS_MAX, parse_configuration

    many = [{"station_number": f"{10_000_000 + i}", "agency": "USGS"} for i in range(STATIONS_MAX + 1)]
    result = validate_configuration(row(stations=many), now=NOW)
    assert isinstance(result, InvalidConfig)
    assert any("10,001 stations: at most 10,000 per configuration" in e for e in result.errors), result.errors
    with pytest.raises(ConfigurationError, match="10,001 stations"):
        parse_configuration(row(stations=many), now=NOW)
    assert isinstance(validate_configuration(row(stations=many[:STATIONS_MAX]), now=NOW), PullConfig)
