"""A stand-in USGS Water Data OGC API for end-to-end tests and benchmarks.

It answers ``daily``, ``continuous`` and ``monitoring-locations`` item requests for any station
and window, in the exact feature shape of the recorded answers in ``tests/fixtures/usgs/``
(property names, value types, links, cursor paging); only the values are synthetic: a
deterministic function of station and time, so a test can compute what must be stored.
``until`` is "now" for the service (nothing newer exists); ``revise`` changes a value the way
USGS revises provisional data. Mark: hand-made payloads in the recorded shape.
"""

from __future__ import annotations

import copy
import json
import zlib
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlencode

from streamflow.testing import FIXTURES as BASE_FIXTURES
from streamflow.testing.replay import ReplayServer, Request, Response

UTC = timezone.utc
FIXTURES = BASE_FIXTURES / "usgs"
PREFIX = "/ogcapi/v1/collections"
DAILY, CONTINUOUS, SITES = f"{PREFIX}/daily/items", f"{PREFIX}/continuous/items", f"{PREFIX}/monitoring-locations/items"
STEP = timedelta(minutes=15)


def _template(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())["features"][0]


def _parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class FakeUsgs:
    def __init__(self, server: ReplayServer, *, until: datetime, page_size: int = 50_000) -> None:
        self.server = server
        self.until = until
        self.page_size = page_size
        self.revisions: dict[tuple[str, str], float] = {}
        self.unknown: set[str] = set()
        self._daily = _template("MetOceanViewer_usgs_daily_items.json")
        self._continuous = _template("MetOceanViewer_usgs_continuous_items.json")
        self._site = _template("MetOceanViewer_usgs_monitoring_location.json")
        server.add(DAILY, self._serve_daily)
        server.add(CONTINUOUS, self._serve_continuous)
        server.add(SITES, self._serve_sites)

    # ------------------------------------------------------------------ the series

    @staticmethod
    def base_value(station: str, key: str) -> float:
        """Deterministic discharge for a station at a day (YYYY-MM-DD) or instant (ISO)."""
        return float(100 + zlib.crc32(f"{station}|{key}".encode()) % 9_000)

    def value(self, station: str, key: str) -> float:
        return self.revisions.get((station, key), self.base_value(station, key))

    def revise(self, station: str, key: str, value: float) -> None:
        self.revisions[(station, key)] = value

    def daily_keys(self, first: date, last: date) -> list[str]:
        last = min(last, self.until.date())
        return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)] if first <= last else []

    def continuous_instants(self, start: datetime, end: datetime) -> list[datetime]:
        end = min(end, self.until)
        first = start + (-(start - datetime(1970, 1, 1, tzinfo=UTC)) % STEP)
        out, t = [], first
        while t <= end:
            out.append(t)
            t += STEP
        return out

    # ------------------------------------------------------------------ handlers

    def _stations(self, request: Request) -> list[str]:
        raw = request.arg("monitoring_location_id") or request.arg("id") or ""
        return [s.removeprefix("USGS-") for s in raw.split(",") if s]

    def _page(self, request: Request, features: list[dict]) -> Response:
        offset = int(request.arg("cursor") or 0)
        limit = min(int(request.arg("limit") or self.page_size), self.page_size)
        page = features[offset : offset + limit]
        links = []
        if offset + limit < len(features):
            query = {k: v[0] for k, v in request.query.items()}
            query["cursor"] = str(offset + limit)
            links.append(
                {"rel": "next", "type": "application/geo+json", "title": "Items (next)",
                 "href": f"{self.server.url}{request.path}?{urlencode(query)}"}
            )
        return Response(200, {"type": "FeatureCollection", "features": page, "numberReturned": len(page), "links": links},
                        headers={"Content-Type": "application/geo+json"})

    def _serve_daily(self, request: Request) -> Response:
        first, last = (date.fromisoformat(p[:10]) for p in (request.arg("time") or "").split("/"))
        features = []
        for station in self._stations(request):
            if station in self.unknown:
                continue
            for key in self.daily_keys(first, last):
                feature = copy.deepcopy(self._daily)
                props = feature["properties"]
                props.update(
                    monitoring_location_id=f"USGS-{station}", time=key, value=f"{self.value(station, key):g}",
                    approval_status="Approved" if key < (self.until - timedelta(days=365)).date().isoformat() else "Provisional",
                )
                feature["id"] = f"{station}-{key}"
                features.append(feature)
        return self._page(request, features)

    def _serve_continuous(self, request: Request) -> Response:
        start, end = (_parse_instant(p) for p in (request.arg("time") or "").split("/"))
        features = []
        for station in self._stations(request):
            if station in self.unknown:
                continue
            for instant in self.continuous_instants(start, end):
                key = instant.isoformat()
                feature = copy.deepcopy(self._continuous)
                props = feature["properties"]
                props.update(
                    monitoring_location_id=f"USGS-{station}", time=key, value=f"{self.value(station, key):g}",
                    approval_status="Provisional", qualifier=None,
                )
                feature["id"] = f"{station}-{key}"
                features.append(feature)
        return self._page(request, features)

    def _serve_sites(self, request: Request) -> Response:
        features = []
        for station in self._stations(request):
            if station in self.unknown:
                continue
            feature = copy.deepcopy(self._site)
            feature["id"] = feature["properties"]["id"] = f"USGS-{station}"
            feature["properties"]["monitoring_location_number"] = station
            features.append(feature)
        return self._page(request, features)
