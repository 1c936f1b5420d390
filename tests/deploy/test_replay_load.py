"""The stand-in server answering like the real services under load (used by test_cluster.py and
bench/cluster.py): requests in flight per service, latency, 429 with Retry-After and 503 on the
first try of a request chosen by a seed, never by arrival order."""

from __future__ import annotations

import threading
import time

import requests

from streamflow.testing.replay import LoadProfile, ReplayServer, Response, service_of

USGS = "/ogcapi/v1/collections/daily/items"


def test_requests_in_flight_are_counted_per_service():
    with ReplayServer() as server:
        server.add(USGS, Response(200, {"ok": True}, delay=0.4))
        server.add("/services/daily_data/csv/inline", Response(200, "x"))
        threads = [threading.Thread(target=requests.get, args=(f"{server.url}{USGS}?n={i}",), kwargs={"timeout": 10})
                   for i in range(5)]
        for thread in threads:
            thread.start()
        requests.get(f"{server.url}/services/daily_data/csv/inline", timeout=10)
        for thread in threads:
            thread.join()
        assert server.max_in_flight["usgs"] == 5
        assert server.max_in_flight["eccc"] == 1
        deadline = time.monotonic() + 5  # the server counts a request out after its last byte
        while sum(server.in_flight.values()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.in_flight["usgs"] == server.in_flight["eccc"] == 0
    assert [service_of(p) for p in (USGS, "/today/x", "/nwps/v1/gauges", "/other")] == ["usgs", "eccc", "noaa", "other"]


def test_throttled_and_unavailable_first_tries_then_the_answer():
    with ReplayServer() as server:
        server.add(USGS, Response(200, {"ok": True}))
        server.load("usgs", LoadProfile(throttle_ratio=1.0, retry_after=7))
        first = requests.get(f"{server.url}{USGS}?station=1", timeout=10)
        again = requests.get(f"{server.url}{USGS}?station=1", timeout=10)
        assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
        assert again.status_code == 200 and again.json() == {"ok": True}

        server.load("usgs", LoadProfile(unavailable_ratio=1.0))
        assert requests.get(f"{server.url}{USGS}?station=2", timeout=10).status_code == 503
        assert requests.get(f"{server.url}{USGS}?station=2", timeout=10).status_code == 200
        assert server.errors_sent == {("usgs", 429): 1, ("usgs", 503): 1}

        server.load("usgs", None)  # back to plain answers
        assert requests.get(f"{server.url}{USGS}?station=3", timeout=10).status_code == 200


def _throttled(seed: int) -> set[int]:
    with ReplayServer() as server:
        server.add(USGS, Response(200, {"ok": True}))
        server.load("usgs", LoadProfile(throttle_ratio=0.3, seed=seed))
        return {i for i in reversed(range(60))  # arrival order differs from the other call's
                if requests.get(f"{server.url}{USGS}?station={i}", timeout=10).status_code == 429}


def test_which_requests_are_throttled_depends_on_the_seed_only():
    first = _throttled(seed=1)
    assert 5 < len(first) < 35
    assert _throttled(seed=1) == first
    assert _throttled(seed=2) != first


def test_latency_is_added_to_every_answer():
    with ReplayServer() as server:
        server.add(USGS, Response(200, {"ok": True}))
        server.load("usgs", LoadProfile(latency=0.3, jitter=0.1))
        started = time.monotonic()
        assert requests.get(f"{server.url}{USGS}", timeout=10).status_code == 200
        assert 0.3 <= time.monotonic() - started < 2.0
