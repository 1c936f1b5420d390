"""Every rule about a valid pull configuration row (no database, no Airflow)."""

from __future__ import annotations

from datetime import datetime, timezone

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
