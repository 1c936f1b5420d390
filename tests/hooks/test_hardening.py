"""Secrets stay out of messages; odd text from a service is cleaned; the ECCC province is checked.

Each test here failed on the code before the fix: ``test_connection`` echoed ``user:password@``
from a connection host, ``redact_url`` missed ``#`` in a password, ``x-api-key``/``access_key``
and fragments, a NUL qualifier made the PostgreSQL write fail (and retried), and a province such
as ``../..`` went into the Datamart URL path.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
import pytest

from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.errors import ConfigurationError, TransientSourceError, redact_url
from streamflow.hooks.eccc import EcccDatamartHook, EcccHook
from streamflow.hooks.noaa import NoaaNwpsHook
from streamflow.parsers.usgs import parse_observations
from streamflow.vocabulary import DataType

UTC = timezone.utc


@pytest.mark.parametrize(
    ("url", "secret", "kept"),
    [
        ("https://user:p#ss@api.example.org/x?a=1", "p#ss", "https://api.example.org/x?a=1"),
        ("https://user:se/cret@api.example.org/x", "se/cret", "https://api.example.org/x"),
        ("https://user:s@cret@api.example.org:8443/x", "cret", "https://api.example.org:8443/x"),
        ("https://h.example/x?x-api-key=S3CR3T&page=2", "S3CR3T", "page=2"),
        ("https://h.example/x?access_key=S3CR3T", "S3CR3T", "access_key=%2A%2A%2A"),
        ("https://h.example/x?X-Amz-Signature=S3CR3T&client_secret=S3CR3T", "S3CR3T", "https://h.example/x"),
        ("https://h.example/x#access_token=S3CR3T", "S3CR3T", "https://h.example/x"),
    ],
)
def test_redact_url_drops_every_credential(url, secret, kept):
    shown = redact_url(url)
    assert secret not in shown
    assert kept in shown


def test_redact_url_keeps_an_at_sign_in_the_query():
    assert redact_url("https://h.example:8080/p?email=a@b.c") == "https://h.example:8080/p?email=a%40b.c"


def test_test_connection_never_echoes_credentials_in_the_host(replay, monkeypatch):
    host = replay.url.replace("http://", "http://alice:pa%23ss#w0rd@")
    monkeypatch.setenv("AIRFLOW_CONN_NOAA_NWPS", json.dumps({"conn_type": "http", "host": host}))
    ok, message = NoaaNwpsHook().test_connection()
    assert "alice" not in message and "w0rd" not in message and "pa%23ss" not in message
    assert replay.url.removeprefix("http://") in message  # the host is named, so a wrong one shows


def test_unreachable_host_is_named_in_the_error(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOAA_NWPS", json.dumps({"conn_type": "http", "host": "http://bob:hunter2@127.0.0.1:9"})
    )
    with pytest.raises(TransientSourceError) as info:
        NoaaNwpsHook(timeout=(2, 2)).get_gauge("FIHM1", station_number="01013500")
    assert "[host 127.0.0.1:9]" in str(info.value)
    assert "hunter2" not in str(info.value) and "bob" not in str(info.value)


def test_nul_and_lone_surrogate_qualifiers_are_cleaned_and_stored(engine):
    raw = pd.DataFrame(
        {
            "monitoring_location_id": ["USGS-01646500"] * 3,
            "time": ["2026-10-01", "2026-10-02", "2026-10-03"],
            "value": ["1", "2", "3"],
            "unit_of_measure": ["ft^3/s"] * 3,
            "approval_status": ["Approved"] * 3,
            "qualifier": ["ICE\x00", "\ud800X", "\x00"],
        }
    )
    frame, _ = parse_observations(raw, DataType.DAILY_MEAN)
    assert frame["quality_code"].tolist() == ["A,Ice", "A,X", "A"]
    with session_scope(engine) as s:
        station_id = repo.ensure_station(s, "01646500", "USGS", None)
        result = repo.upsert_observations(s, frame, {"01646500": station_id})
    assert result.rows_written == 3


@pytest.mark.parametrize("province", ["../..", "B", "ZZ", "BC/../x", "on\x00"])
def test_bad_province_is_a_permanent_error_naming_station_and_value(replay, province):
    hook = EcccHook(now=lambda: datetime(2023, 11, 6, 21, tzinfo=UTC))
    with pytest.raises(ConfigurationError) as info:
        hook.get_instantaneous(
            ["10AB001"], datetime(2023, 11, 6, tzinfo=UTC), datetime(2023, 11, 6, 21, tzinfo=UTC),
            provinces={"10AB001": province},
        )
    assert not info.value.retryable
    assert str(info.value).startswith("eccc: station 10AB001: province/territory ")
    assert repr(province.strip().upper()) in str(info.value)
    assert replay.requests == []  # nothing was sent


def test_lower_case_province_is_accepted(replay):
    replay.add(
        "/today/hydrometric/csv/YT/hourly/YT_10AB001_hourly_hydrometric.csv",
        b" ID,Date,Water Level / Niveau d'eau (m),Grade,Symbol / Symbole,QA/QC,"
        b"Discharge / D\xc3\xa9bit (cms),Grade,Symbol / Symbole,QA/QC\r\n"
        b"10AB001,2023-11-06T12:00:00-08:00,1.5,,,1,134,,,1\r\n",
    )
    frame = EcccDatamartHook().realtime_discharge("10AB001", " yt", "hourly")
    assert frame["discharge"].tolist() == [134.0]
