"""The UTC helpers every window, hook and pull uses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streamflow.errors import ConfigurationError
from streamflow.timeutil import as_utc, floor_day, floor_second, iso_z

UTC = timezone.utc
MST = timezone(timedelta(hours=-7))


def test_as_utc_converts_aware_and_refuses_naive_or_other_types_naming_what():
    assert as_utc(datetime(2026, 1, 1, 17, tzinfo=MST), "start") == datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match=r"^usgs: station 01646500: end 2026-01-01T00:00:00 is naive"):
        as_utc(datetime(2026, 1, 1), "end", source="usgs", station_number="01646500")
    with pytest.raises(ConfigurationError, match="start must be a timezone-aware datetime, got str"):
        as_utc("2026-01-01", "start")


def test_iso_z_floors_and_days():
    assert iso_z(datetime(2026, 1, 1, 17, tzinfo=MST)) == "2026-01-02T00:00:00Z"
    assert iso_z(None) is None
    moment = datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    assert floor_second(moment) == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert floor_second(moment, up=True) == datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)
    assert floor_second(datetime(2026, 1, 1, 12, tzinfo=UTC), up=True) == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert floor_day(datetime(2026, 1, 1, 20, tzinfo=MST)) == datetime(2026, 1, 2, tzinfo=UTC)
