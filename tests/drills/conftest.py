"""Fixtures of the fault drills (see tests/drills/support.py for the drill set-up)."""

from __future__ import annotations

import os

import pytest

from tests.drills.support import PAGE, UNTIL, Faults
from streamflow.testing.fakes.usgs import DAILY, FakeUsgs
from streamflow.testing.replay import ReplayServer


@pytest.fixture(autouse=True)
def library_environment(monkeypatch):
    """Nothing from the shell configures dataretrieval."""
    for name in list(os.environ):
        if name.startswith("API_USGS_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATARETRIEVAL_CONFIG", os.devnull)


@pytest.fixture
def fake(replay: ReplayServer) -> FakeUsgs:
    return FakeUsgs(replay, until=UNTIL, page_size=PAGE)


@pytest.fixture
def faults(replay: ReplayServer, fake: FakeUsgs) -> Faults:
    wrapper = Faults(fake)
    replay.add(DAILY, wrapper, first=True)
    return wrapper


