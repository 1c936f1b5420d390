"""Retries live in one place: which errors Airflow retries, and after how long."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk.definitions.retry_policy import RetryAction

from streamflow.errors import (
    ConfigurationError,
    PayloadError,
    StationNotFoundError,
    TransientSourceError,
    error_for_status,
)
from streamflow.retry import StreamflowRetryPolicy


def decide(exc):
    return StreamflowRetryPolicy().evaluate(exc, try_number=1, max_tries=4)


def test_retryable_source_errors_retry_after_retry_after():
    too_many = error_for_status(source="usgs", station_number="01646500", status_code=429,
                                url="https://x/collections/daily/items", retry_after=120)
    decision = decide(too_many)
    assert decision.action == RetryAction.RETRY and decision.retry_delay == timedelta(seconds=120)
    unavailable = decide(TransientSourceError("service unavailable", source="eccc", station_number="08MF005"))
    assert unavailable.action == RetryAction.RETRY and unavailable.retry_delay is None  # the task's backoff
    huge = decide(TransientSourceError("slow down", source="usgs", retry_after=86_400))
    assert huge.retry_delay == timedelta(hours=1)


def test_permanent_errors_fail_at_once():
    for exc in (
        StationNotFoundError("unknown station", source="noaa", station_number="01646500"),
        PayloadError("not JSON", source="usgs", station_number="01646500"),
        error_for_status(source="usgs", station_number="01646500", status_code=400, url="https://x/items"),
        ConfigurationError("param stations: zz not in this configuration"),
    ):
        decision = decide(exc)
        assert decision.action == RetryAction.FAIL, exc
        assert str(exc) in decision.reason


def test_other_errors_get_airflows_default():
    assert decide(ConnectionError("database went away")).action == RetryAction.DEFAULT
    assert decide(OSError("disk full")).action == RetryAction.DEFAULT
