"""Trigger params: one spec per parameter (form field + parser), parsed once by ``plan``."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from streamflow.errors import ConfigurationError
from streamflow.trigger_params import RunParams, parse_params, select_stations
from streamflow.vocabulary import DataStrategy

UTC = timezone.utc
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_parse_params_accepts_the_documented_form():
    params = parse_params(
        {"stations": ["01646500"], "start_date": "2026-01-01T00:00:00Z", "end_date": None,
         "data_strategy": "overwrite", "full_refresh": False},
        now=NOW,
    )
    assert params == RunParams(("01646500",), datetime(2026, 1, 1, tzinfo=UTC), None, DataStrategy.OVERWRITE, False)
    assert parse_params({}, now=NOW) == RunParams()
    assert parse_params({"stations": "01646500, 02458502"}, now=NOW).stations == ("01646500", "02458502")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"start_date": "yesterday"}, "param start_date"),
        ({"start_date": "2026-01-01T00:00:00"}, "param start_date: .* no time zone"),
        ({"start_date": "2030-01-01T00:00:00Z"}, "param start_date: .* future"),
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "param end_date"),
        ({"data_strategy": "replace"}, "param data_strategy"),
        ({"full_refresh": "yes"}, "param full_refresh"),
        ({"stations": [1, 2]}, "param stations"),
        ({"statoins": []}, "unknown param"),
    ],
)
def test_parse_params_names_the_bad_param(raw, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_params(raw, now=NOW)


def test_select_stations_subset_and_unknown():
    assert select_stations(["a", "b", "c"], []) == ["a", "b", "c"]
    assert select_stations(["a", "b", "c"], ["c", "a"]) == ["a", "c"]
    with pytest.raises(ConfigurationError, match="param stations: zz not in this configuration"):
        select_stations(["a", "b"], ["zz"])


def test_run_params_survive_the_hand_over_from_plan_to_the_pulls():
    parsed = parse_params(
        {"stations": ["01646500"], "start_date": "2026-01-01T00:00:00Z", "end_date": "2026-02-01T00:00:00+01:00",
         "data_strategy": "overwrite", "full_refresh": True},
        now=NOW,
    )
    assert RunParams.from_dict(parsed.to_dict()) == parsed
    assert RunParams.from_dict(None) == RunParams()


def test_the_form_declares_each_param_parse_params_reads():
    from streamflow.configurations import validate_configuration
    from streamflow.trigger_params import PARAM_NAMES, trigger_params

    config = validate_configuration(
        {"id": 7, "name": "form", "data_type": "daily_mean", "data_strategy": "append",
         "pull_start_date": "2020-01-01T00:00:00Z", "schedule_type": "manual", "is_enabled": True,
         "stations": [{"station_number": "01646500", "agency": "USGS"}]}
    )
    form = trigger_params(config)
    assert tuple(form) == PARAM_NAMES
    defaults = {name: param.value for name, param in form.items()}
    assert parse_params(defaults, now=NOW) == RunParams()
    assert form["start_date"].schema["format"] == "date-time"
    assert form["data_strategy"].schema["enum"] == [None, "append", "overwrite"]
    assert "(append)" in form["data_strategy"].description
    assert "01646500" in form["stations"].description


def test_parse_params_lists_every_error_not_just_the_first():
    with pytest.raises(ConfigurationError) as caught:
        parse_params(
            {"start_date": "2030-01-01T00:00:00Z", "data_strategy": "replace", "full_refresh": "yes",
             "stations": ["zz"], "statoins": []},
            now=NOW, configured=["01646500"],
        )
    message = str(caught.value)
    for part in ("param start_date: 2030", "param data_strategy", "param full_refresh", "unknown param(s): statoins",
                 "param stations: zz not in this configuration"):
        assert part in message


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1849-12-31T00:00:00Z",
                                   "9999-12-31T00:00:00Z"])
@pytest.mark.parametrize("name", ["start_date", "end_date"])
def test_dates_out_of_range_are_refused_without_overflow(name, value):
    with pytest.raises(ConfigurationError, match=f"param {name}"):
        parse_params({name: value}, now=NOW)


def _form_config(stations):
    from streamflow.configurations import validate_configuration

    return validate_configuration(
        {"id": 7, "name": "form", "data_type": "daily_mean", "data_strategy": "append",
         "pull_start_date": "2020-01-01T00:00:00Z", "schedule_type": "manual", "is_enabled": True,
         "stations": stations}
    )


def test_the_form_offers_only_the_configuration_stations_with_their_names():
    from airflow.sdk.definitions.param import ParamValidationError

    from streamflow.trigger_params import trigger_params

    config = _form_config([{"station_number": "01646500", "agency": "USGS", "station_name": "POTOMAC RIVER"},
                           {"station_number": "08MF005", "agency": "EC"}])
    stations = trigger_params(config)["stations"]
    assert stations.schema["items"]["enum"] == ["01646500", "08MF005"]
    assert stations.schema["examples"] == ["01646500", "08MF005"]  # the form's multi-select options
    assert stations.schema["values_display"] == {"01646500": "01646500 — POTOMAC RIVER", "08MF005": "08MF005"}
    assert stations.resolve(["08MF005"]) == ["08MF005"]
    assert stations.resolve(None) is None  # the cleared multi-select sends null
    with pytest.raises(ParamValidationError, match="09999999"):
        stations.resolve(["09999999"])


def test_no_field_is_marked_required_and_the_strategy_has_a_labelled_empty_choice():
    """Airflow's form marks a field required when its type excludes null; ours are all optional."""
    from streamflow.trigger_params import trigger_params

    form = trigger_params(_form_config([{"station_number": "01646500", "agency": "USGS"}]))
    for name, param in form.items():
        assert "null" in param.schema["type"], name
    display = form["data_strategy"].schema["values_display"]
    assert display["None"] == "(the configuration's: append)"
    assert parse_params({"full_refresh": None, "stations": None}, now=NOW) == RunParams()


def test_the_form_of_ten_thousand_stations_still_refuses_and_accepts():
    from airflow.sdk.definitions.param import ParamValidationError

    from streamflow.trigger_params import trigger_params

    numbers = [f"{10_000_000 + i}" for i in range(10_000)]
    form = trigger_params(_form_config([{"station_number": n, "agency": "USGS"} for n in numbers]))
    assert form["stations"].resolve(numbers[-3:]) == numbers[-3:]
    with pytest.raises(ParamValidationError):
        form["stations"].resolve(["20000000"])


def test_runs_above_the_map_limit_are_batched_evenly():
    from streamflow.operators.lifecycle import MAX_MAPPED_TASKS, batched

    stations = [{"station_number": str(i)} for i in range(10_000)]
    assert batched(stations[:1000], MAX_MAPPED_TASKS) == stations[:1000]  # one task per station
    for count, size in ((1001, 2), (5000, 5), (10_000, 10)):
        batches = batched(stations[:count], MAX_MAPPED_TASKS)
        assert len(batches) <= MAX_MAPPED_TASKS < 1024  # Airflow's max_map_length
        assert {len(b["batch"]) for b in batches[:-1]} == {size}
        assert [s for b in batches for s in b["batch"]] == stations[:count]  # every station once, in order
